// error: TS2554
// A call with the wrong number of arguments: tsc reports it before the DSL checker (DSL2007) would.
import { i32, print } from "dsl";

function add(a: i32, b: i32): i32 { return a + b; }

export function main(): i32 {
  print(add(1, 2, 3));
  return 0;
}
