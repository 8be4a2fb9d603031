# The `uuid` base type (Thrift 0.18+, THRIFT-5591): fields, containers,
# constants (plain or braced, any case) and defaults.
typedef uuid RequestId

struct Tagged {
  1: uuid id = "00000000-0000-0000-0000-000000000000",
  2: list<RequestId> history,
  3: map<uuid, string> names
}

const uuid NIL = "00000000-0000-0000-0000-000000000000"
const RequestId FIRST = "{00112233-4455-6677-8899-AABBCCDDEEFF}"
const set<uuid> KNOWN = ["a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"]

service Lookup {
  Tagged find(1: uuid id)
}
