// error: DSL2003
// A narrowing assignment of a non-constant without an explicit conversion (write u8(x)).
import { i32, u8, print } from "dsl";

function low(x: i32): u8 {
  const byte: u8 = x;
  return byte;
}

export function main(): i32 {
  print(low(300));
  return 0;
}
