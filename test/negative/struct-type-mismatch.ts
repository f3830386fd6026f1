// error: DSL2001
// Structs are nominal: a Celsius is not a Kelvin, even with the same fields (tsc accepts it).
import { i32, print } from "dsl";

class Celsius { degrees: i32 = 0; }
class Kelvin { degrees: i32 = 0; }

function report(t: Kelvin): void { print(t.degrees); }

export function main(): i32 {
  const room = new Celsius();
  room.degrees = 21;
  report(room);
  return 0;
}
