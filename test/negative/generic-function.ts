// error: DSL1013
// A generic function.
import { i32, print } from "dsl";

function identity<T>(x: T): T { return x; }

export function main(): i32 {
  print(identity<i32>(4));
  return 0;
}
