// error: DSL1009
// new of something that is neither a typed array nor a struct.
import { i32, print } from "dsl";

export function main(): i32 {
  new ArrayBuffer(64);
  print(0);
  return 0;
}
