# Types may be used before they are defined: in typedefs, fields,
# containers, arguments and results. (Apache 0.17 resolves `throws` and
# default values as it parses, so those come after their types here.)
exception LaterError {
  1: string message
}

typedef Later LaterAlias

struct Early {
  1: Later later,
  2: list<LaterEnum> enums,
  3: LaterAlias aliased
}

service UsesLater {
  Later get(1: LaterEnum which) throws (1: LaterError error)
}

struct Later {
  1: i32 n
}

enum LaterEnum {
  A,
  B
}
