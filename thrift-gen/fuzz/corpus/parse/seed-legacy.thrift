typedef map cpp_type "std::map" <string, i32> CppMap
typedef list<byte> cpp_type "std::vector" Bytes
typedef set cpp_type "std::set" <slist> Names
union Either xsd_all { 1: i32 left; 2: string right xsd_optional xsd_nillable }
struct WithAttrs {
  1: string x xsd_attrs { 1: i32 a, 2: string b }
}
exception Boom { 1: required string message (deprecated) }
