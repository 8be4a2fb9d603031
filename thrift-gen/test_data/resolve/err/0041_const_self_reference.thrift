# expect: TG0045
const i32 LOOP = LOOP
