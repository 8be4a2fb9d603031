# shell comment
// line comment
/* block
   comment */
/**
 * A doc comment
 * over lines.
 */
typedef i32 /* inline */ Size // trailing
/***/ typedef i8 Tiny
/**/ typedef double Real
