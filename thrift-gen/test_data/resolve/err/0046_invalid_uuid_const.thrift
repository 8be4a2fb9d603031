# expect: TG0043
const uuid ID = "00112233-4455-6677-8899-aabbccddeefg"
