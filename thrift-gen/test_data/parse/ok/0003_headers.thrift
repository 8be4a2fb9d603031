# Every header form: namespaces with `*`, dotted scopes and annotations,
# cpp_include, and includes (see resolve/ok for includes that resolve).
namespace * everywhere
namespace rs headers.rust.module
namespace py.twisted headers.twisted
namespace java com.example.headers
namespace netstd Example.Headers (netstd.partial = "true")
cpp_include "<unordered_map>"
cpp_include "headers_types.h"

struct AfterHeaders {
  1: i32 x
}
