// error: DSL1016
// A default export.
import { i32 } from "dsl";

export function main(): i32 {
  return 0;
}

export default main;
