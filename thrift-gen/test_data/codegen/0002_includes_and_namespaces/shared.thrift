namespace rs shared_types

/** A user id. */
typedef i64 UserId

enum Role { ADMIN = 1, MEMBER = 2 }

const UserId ROOT = 1
const Role DEFAULT_ROLE = Role.MEMBER
