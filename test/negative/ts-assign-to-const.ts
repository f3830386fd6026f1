// error: TS2588
// Assignment to a const: tsc reports it before the DSL checker (DSL2005) would.
import { i32, print } from "dsl";

export function main(): i32 {
  const limit: i32 = 10;
  limit = 20;
  print(limit);
  return 0;
}
