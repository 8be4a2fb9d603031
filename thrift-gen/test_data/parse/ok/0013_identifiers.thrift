# Identifier edge cases: names that start with a keyword, underscores,
# digits, and case variations.
struct structFoo {
  1: i32 onewayvoid,
  2: i32 _leading,
  3: i32 trailing_,
  4: i32 with2digits3,
  5: i32 ALLCAPS,
  6: i32 camelCase,
  7: i32 i32x,
  8: i32 listy
}

typedef structFoo __Double_Underscore

service servicex {
  void voidy(1: i32 throwsy)
}
