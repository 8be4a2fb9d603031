include "leaf.thrift"

const i32 LEAF_VALUE = leaf.BESIDE_MIDDLE
