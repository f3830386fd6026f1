// expect: 1
// expect: 4
// expect: 2
// expect: 8
// expect: 3
// expect: 53
// expect: 0
// expect: 1
// expect: -1
// if / else if / else chains: classifying bytes as a lexer would, and a leap-year rule.
import { i32, u8, print } from "dsl";

const enum CharClass { Other, Digit, Upper, Lower, Space }

function classify(c: u8): i32 {
  if (c >= 48 && c <= 57) {
    return CharClass.Digit;
  } else if (c >= 65 && c <= 90) {
    return CharClass.Upper;
  } else if (c >= 97 && c <= 122) {
    return CharClass.Lower;
  } else if (c === 32 || c === 9 || c === 10) {
    return CharClass.Space;
  } else {
    return CharClass.Other;
  }
}

function isLeapYear(year: i32): i32 {
  if (year % 400 === 0) return 1;
  else if (year % 100 === 0) return 0;
  else if (year % 4 === 0) return 1;
  return 0;
}

export function main(): i32 {
  const text = "Hello World 2024!\n";
  const counts = new Int32Array(5);
  for (let i = 0; i < text.length; i++) {
    const c: u8 = u8(text.charCodeAt(i));
    counts[classify(c)]++;
  }
  for (let k = 0; k < counts.length; k++) print(counts[k]);
  let leaps: i32 = 0;
  for (let year = 1890; year <= 2110; year++) leaps += isLeapYear(year);
  print(leaps);
  print(isLeapYear(1900));
  print(isLeapYear(2000));
  let sign: i32 = 0;
  const x: i32 = -17;
  if (x > 0) sign = 1;
  else if (x < 0) sign = -1;
  print(sign);
  return 0;
}
