// expect: hello, world
// expect: 42
// expect: -7
// expect: 0
// The smallest program: a string literal, positive and negative integers, exit status 0.
import { i32, print } from "dsl";

export function main(): i32 {
  print("hello, world");
  print(42);
  print(-7);
  print(0);
  return 0;
}
