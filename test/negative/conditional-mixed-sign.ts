// error: DSL2003
// The arms of ?: are i32 and u32: the value is one arm's, unchanged (JavaScript), and no 32-bit type
// holds both -1 and 2147483648 (issue 12: the compiler used to type it i32 and print 0x80000000 signed).
import { i32, u32, print } from "dsl";

export function main(): i32 {
  const a: i32 = -1;
  const b: u32 = 0x80000000;
  const pick = a < 0;
  print(pick ? b : a);
  return 0;
}
