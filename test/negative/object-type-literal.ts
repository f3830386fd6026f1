// error: DSL1001
// An object type literal as a parameter type (structs are classes).
import { i32 } from "dsl";

function sum(point: { x: i32; y: i32 }): i32 { return point.x + point.y; }

export function main(): i32 {
  const origin = new Origin();
  return sum(origin);
}

class Origin { x: i32 = 0; y: i32 = 0; }
