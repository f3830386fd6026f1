// expect: 2147483648
// expect: -1
// expect: 4294967295
// A conditional with arms of different signs under an explicit conversion: `u32(c ? a : b)` is
// `c ? u32(a) : u32(b)` in JavaScript, so it is accepted and converts each arm from its own type (without
// the conversion it is DSL2003: test/negative/conditional-mixed-sign.ts).
import { i32, u32, print } from "dsl";
export function main(): i32 {
  const a: i32 = -1;
  const b: u32 = 0x80000000;
  const pick = a < 0;
  print(u32(pick ? b : a));
  print(i32((pick ? a : b)));
  print(u32(!pick ? b : a));
  return 0;
}
