# expect: TG0031 TG0040 TG0043 TG0050 TG0053 TG0045 TG0035
# One run reports every problem, from every pass.
struct Dup {
  1: i32 a,
  1: i32 b,
  2: Missing c,
  3: i32 d = "four",
  0: i32 e
}

const i32 EARLY = LATE
const i32 LATE = 1

service Svc extends NoSuchService {
  oneway string fire()
}
