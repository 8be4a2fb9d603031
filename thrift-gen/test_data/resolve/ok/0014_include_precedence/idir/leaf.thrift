# Shadowed by ../leaf.thrift, which is next to the including file.
const i32 IN_INCLUDE_DIR = 2
