// error: DSL2001
// A bool used as an integer (write i32(flag)).
import { bool, i32, print } from "dsl";

export function main(): i32 {
  const flag: bool = true;
  const n: i32 = +flag;
  print(n);
  return 0;
}
