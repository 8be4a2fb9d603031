include "shared.thrift"

struct Wrapper {
  1: shared.Id id
}

const shared.Id SHARED_ID = 7
