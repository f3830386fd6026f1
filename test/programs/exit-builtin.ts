// expect: 5
// expect: before
// exit: 2
// exit(status) ends the program from anywhere with status & 255 (258 -> 2); nothing after it runs.
import { i32, print, exit } from "dsl";

function finish(code: i32): void {
  print("before");
  exit(code);
}

function search(depth: i32): i32 {
  if (depth === 5) {
    print(depth);
    finish(258);
  }
  return search(depth + 1);
}

export function main(): i32 {
  search(0);
  print("after");
  return 0;
}
