# Annotations after a constant (Apache's grammar has none there; we accept
# them like those after every other definition).
const i32 ANNOTATED = 7 (deprecated = "use NEWER")
const list<string> NAMES = ["a"] (origin = "test"),
