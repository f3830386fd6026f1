// error: DSL1010
// A string method other than length and charCodeAt.
import { i32, print } from "dsl";

export function main(): i32 {
  const name = "denali";
  print(name.indexOf("a"));
  return 0;
}
