// error: DSL1004
// A struct with a method.
import { i32, print } from "dsl";

class Point {
  x: i32 = 0;
  y: i32 = 0;
  sum(): i32 { return 0; }
}

export function main(): i32 {
  const p = new Point();
  print(p.x + p.y);
  return 0;
}
