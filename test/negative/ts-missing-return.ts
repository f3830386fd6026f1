// error: TS2366
// A function that can end without returning: tsc reports it before the DSL checker (DSL2009) would.
import { i32, print } from "dsl";

function sign(x: i32): i32 {
  if (x > 0) return 1;
  if (x < 0) return -1;
}

export function main(): i32 {
  print(sign(5));
  return 0;
}
