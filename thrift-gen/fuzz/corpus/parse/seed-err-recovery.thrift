struct A { 1: i32 ; 2: string ok, 3 i32 bad, 4: list<> x, 5: required optional i32 y }
namespace rs late
enum { X }
const = 5
typedef
service S extends { void (); i32 f(1:) throws () }
struct B { 1: i32 fine }
) ] } > garbage
