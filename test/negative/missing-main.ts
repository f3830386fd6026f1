// error: DSL2010
// A program without an exported main.
import { i32, print } from "dsl";

export function start(): i32 {
  print(1);
  return 0;
}
