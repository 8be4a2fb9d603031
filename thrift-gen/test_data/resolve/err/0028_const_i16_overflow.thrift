# expect: TG0005
const i16 SHORT = -32769
