// error: DSL1013
// More than 8 parameters.
import { i32, print } from "dsl";

function sum9(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32, i: i32): i32 {
  return a + b + c + d + e + f + g + h + i;
}

export function main(): i32 {
  print(sum9(1, 2, 3, 4, 5, 6, 7, 8, 9));
  return 0;
}
