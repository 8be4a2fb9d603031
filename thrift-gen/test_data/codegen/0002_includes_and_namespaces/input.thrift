include "shared.thrift"

namespace rs accounts.api
namespace py accounts

typedef shared.UserId Owner
typedef list<shared.Role> Roles

const Owner FIRST_OWNER = shared.ROOT
const shared.Role ADMIN = shared.Role.ADMIN
const Roles EVERYONE = [shared.Role.ADMIN, shared.DEFAULT_ROLE]
const map<shared.UserId, shared.Role> SEED = {1: shared.Role.ADMIN, 2: 2}
