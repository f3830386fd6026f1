// error: DSL1012
// debugger.
import { i32 } from "dsl";

export function main(): i32 {
  debugger;
  return 0;
}
