struct Open {
  1: i32 a
  2: list<i32 b,
enum E { A = , B
service S {
  void f(1: i32 x
}
const map<i32, i32> M = {1: 2, 3
