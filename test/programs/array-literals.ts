// expect: 10
// expect: 129
// expect: -2147483648
// expect: 2147483647
// expect: -1
// expect: 60
// expect: 365
// expect: 2
// expect: 221
// expect: 30
// expect: 1
// Module-level arrays with literal initializers: i32[], u8[], bool[]; .length, reads, element stores.
import { bool, i32, u8, print } from "dsl";

const primes: i32[] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29];
const negatives: i32[] = [-1, -2147483648, 2147483647, 0];
const daysPerMonth: u8[] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isVowel: bool[] = [true, false, false, false, true];
let scratch: i32[] = [0, 0, 0, 0, 0, 0];

function dayOfYear(month: i32, day: i32): i32 {
  let total: i32 = day;
  for (let m = 0; m < month - 1; m++) total += daysPerMonth[m];
  return total;
}

export function main(): i32 {
  print(primes.length);
  let sum: i32 = 0;
  for (let i = 0; i < primes.length; i++) sum += primes[i];
  print(sum);
  print(negatives[1]);
  print(negatives[2]);
  print((negatives[1] + negatives[2]) | 0);
  print(dayOfYear(3, 1));
  print(dayOfYear(12, 31));
  let vowels: i32 = 0;
  for (let i = 0; i < isVowel.length; i++) if (isVowel[i]) vowels++;
  print(vowels);
  for (let i = 0; i < scratch.length; i++) scratch[i] = primes[i] * primes[i + 1];
  print(scratch[5]);
  primes[0] = 1;
  print(primes[0] + primes[9]);
  isVowel[1] = true;
  print(i32(isVowel[1]));
  return 0;
}
