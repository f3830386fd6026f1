// error: DSL1007
// A computed property access on a struct (only arrays are indexed).
import { i32, print } from "dsl";

class Point { x: i32 = 3; y: i32 = 4; }

export function main(): i32 {
  const p = new Point();
  const key = "x";
  print(p[key]);
  return 0;
}
