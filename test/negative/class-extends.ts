// error: DSL1004
// Inheritance between structs.
import { i32, print } from "dsl";

class Base { id: i32 = 0; }
class Derived extends Base { extra: i32 = 0; }

export function main(): i32 {
  const d = new Derived();
  print(d.extra);
  return 0;
}
