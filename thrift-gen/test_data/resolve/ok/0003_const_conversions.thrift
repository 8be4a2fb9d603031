# expect: TW0005
# Conversions Apache allows: int literals widen to double, bool takes
# integers (other than 0 and 1 with a warning), enums take `Enum.NAME` or
# the number of a member, an int constant takes an enum member.
enum Mode {
  OFF = 0,
  ON = 1,
  AUTO = 5
}

const double WIDENED = 3
const double WIDENED_NEGATIVE = -0x10
const list<double> WIDENED_LIST = [1, 2.5, -3]
const bool FROM_ONE = 1
const bool FROM_ZERO = 0
const bool FROM_TWO = 2
const Mode QUALIFIED = Mode.AUTO
const Mode BY_NUMBER = 5
const i32 ENUM_AS_INT = Mode.ON
const map<Mode, string> MODE_NAMES = {Mode.OFF: "off", 1: "on", Mode.AUTO: "auto"}
const i32 SOME_INT = 4
const double INT_CONST_WIDENED = SOME_INT
