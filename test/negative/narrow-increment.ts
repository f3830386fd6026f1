// error: DSL2003
// `k++` on a u8 variable is `k = k + 1`, which narrows i32 to u8 (issue 12, item 5): rejected like the
// assignment, since Node would give 256 where a wrapping target gives 0.
import { i32, u8, print } from "dsl";

export function main(): i32 {
  let k: u8 = 255;
  k++;
  print(k);
  return 0;
}
