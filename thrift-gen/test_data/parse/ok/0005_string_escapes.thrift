# Both quote styles and every supported escape.
const string DOUBLE_QUOTED = "plain"
const string SINGLE_QUOTED = 'plain'
const string ESCAPES = "newline\n return\r tab\t quote\" apostrophe\' backslash\\"
const string QUOTES_INSIDE = 'say "hi"'
const string APOSTROPHE_INSIDE = "it's"
const string UNICODE = "héllo, wörld, 日本"
const string EMPTY = ""
const binary BYTES = "bin\\ary"
