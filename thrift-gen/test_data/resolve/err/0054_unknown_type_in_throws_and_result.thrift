# expect: TG0040 TG0040 TG0040
# Unknown types are reported wherever they appear: result, argument, throws.
service Api {
  Reply call(1: Request request) throws (1: Failure failure)
}
