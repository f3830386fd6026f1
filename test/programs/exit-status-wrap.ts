// expect: 300
// exit: 44
// The exit status is main() & 255: 300 exits with 44.
import { i32, print } from "dsl";

export function main(): i32 {
  let status: i32 = 0;
  for (let i = 0; i < 30; i++) status += 10;
  print(status);
  return status;
}
