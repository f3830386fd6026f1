// error: DSL2002
// An integer literal out of range for its type.
import { i32, u8, print } from "dsl";

export function main(): i32 {
  const byte: u8 = 256;
  print(byte);
  return 0;
}
