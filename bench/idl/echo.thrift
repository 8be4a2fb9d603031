// The echo RPC benchmark's service (BENCHMARKS.md, "RPC echo"), compiled
// by thrift-mu2sls, Apache `thrift --gen rs` and volo-build. The load
// generator sends a 64-byte string, like ThriftTest's `testString`.

namespace rs echo

service EchoService {
  string echo(1: string s),
}
