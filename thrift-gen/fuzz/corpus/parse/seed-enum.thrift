enum Color {
  /** The default. */
  RED = 1,
  GREEN,
  BLUE = 0x10 (hex = "1");
  ALPHA = -5
  struct = 7
}
senum Old { "a", "b"; "c" }
