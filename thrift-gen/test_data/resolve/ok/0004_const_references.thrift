# Constants may use constants defined above them, inside collections and
# struct constants too; so may field and argument defaults.
const i32 DEFAULT_RETRIES = 3
const string NAME = "service"

struct Config {
  1: i32 retries = DEFAULT_RETRIES,
  2: string name = NAME
}

service Configured {
  void configure(1: i32 retries = DEFAULT_RETRIES, 2: Config config = {"name": NAME})
}
const i32 ALIAS = DEFAULT_RETRIES
const list<i32> LIST = [DEFAULT_RETRIES, ALIAS, 4]
const map<string, i32> MAP = {NAME: ALIAS}
const Config CONFIG = {"retries": ALIAS, "name": NAME}
const list<Config> CONFIGS = [{"retries": ALIAS}, {"retries": 1}]
