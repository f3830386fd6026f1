// error: DSL1004
// A static member.
import { i32, print } from "dsl";

class Limits { static maximum: i32 = 10; value: i32 = 0; }

export function main(): i32 {
  const l = new Limits();
  print(l.value);
  return 0;
}
