include "shared.thrift"
include 'dir/other.thrift'
cpp_include "<vector>"
namespace * all.of.them
namespace rs my_crate.api (rust.opt = "1")
namespace java com.example
typedef shared.Id Id
