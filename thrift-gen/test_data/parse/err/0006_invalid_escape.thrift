# expect: TG0004
const string BAD = "tab\tok, unicode\u0041 not"
