// error: DSL2008
// A duplicate case constant (tsc accepts it).
import { i32, print } from "dsl";

function describe(x: i32): i32 {
  switch (x) {
    case 1: return 10;
    case 2: return 20;
    case 1: return 30;
    default: return 0;
  }
}

export function main(): i32 {
  print(describe(1));
  return 0;
}
