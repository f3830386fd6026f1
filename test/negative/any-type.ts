// error: DSL1001
// `any` as a declared type.
import { i32, print } from "dsl";

export function main(): i32 {
  const value: any = 5;
  print(value);
  return 0;
}
