# expect: TG0005
const i8 BYTE = 300
