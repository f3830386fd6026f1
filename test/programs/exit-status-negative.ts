// expect: -1
// exit: 255
// The exit status is main() & 255: -1 exits with 255.
import { i32, print } from "dsl";

function find(value: i32): i32 {
  for (let i = 0; i < 10; i++) if (Math.imul(i, i) === value) return i;
  return -1;
}

export function main(): i32 {
  const r: i32 = find(50);
  print(r);
  return r;
}
