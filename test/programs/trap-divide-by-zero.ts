// expect: 5
// expect: 10
// exit: 101
// stderr: trap: integer division by zero
// targets: interp qemu node
// Not for node --plain: Node divides by zero without trapping (Infinity | 0 is 0).
// The divisor reaches zero at run time, three calls deep.
import { i32, print } from "dsl";

function share(total: i32, people: i32): i32 { return total / people; }

function distribute(total: i32, people: i32): i32 {
  const each: i32 = share(total, people);
  print(each);
  return people === 0 ? each : distribute(total, people - 2);
}

export function main(): i32 {
  distribute(20, 4);
  print(99);
  return 0;
}
