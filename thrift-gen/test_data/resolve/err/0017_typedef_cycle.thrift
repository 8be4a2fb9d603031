# expect: TG0041
typedef First Second
typedef Second Third
typedef Third First
