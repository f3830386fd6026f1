// expect: checking
// expect: 3 errors
// exit: 3
// main's return value is the exit status.
import { i32, print, write } from "dsl";

const readings: i32[] = [12, -4, 7, 1000, -1, 55];

function countErrors(): i32 {
  let errors: i32 = 0;
  for (let i = 0; i < readings.length; i++) if (readings[i] < 0 || readings[i] > 100) errors++;
  return errors;
}

export function main(): i32 {
  print("checking");
  const errors: i32 = countErrors();
  write(errors);
  print(" errors");
  return errors;
}
