// error: DSL2004
// A typed array length must be a positive constant.
import { i32, print } from "dsl";

const nothing = new Int32Array(0);

export function main(): i32 {
  print(nothing.length);
  return 0;
}
