// error: DSL2006
// A name tsc knows (a JavaScript global) that the DSL does not.
import { i32, print } from "dsl";

export function main(): i32 {
  const n: i32 = parseInt("42", 10);
  print(n);
  return 0;
}
