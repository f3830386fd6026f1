// error: DSL1015
// A namespace.
import { i32, print } from "dsl";

namespace Limits {
  export const maximum: i32 = 10;
}

export function main(): i32 {
  print(0);
  return 0;
}
