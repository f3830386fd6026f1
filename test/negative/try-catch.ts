// error: DSL1005
// try/catch.
import { i32, print } from "dsl";

export function main(): i32 {
  try {
    print(1);
  } catch {
    print(2);
  }
  return 0;
}
