// error: TS1107
// break outside a loop or switch: tsc reports it (TS1107 inside a function body) before the DSL checker (DSL2008) would.
import { i32, print } from "dsl";

export function main(): i32 {
  print(1);
  break;
  return 0;
}
