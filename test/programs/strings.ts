// expect: The quick brown fox jumps over the lazy dog
// expect: 43
// expect: 84
// expect: 103
// expect: 4
// expect: 8
// expect:
// expect: tab:	here
// expect: 6
// expect: 92
// expect: 10
// expect: 0
// expect: 1
// expect: 0
// expect: -1
// expect: 0
// expect: 1
// expect: 1
// expect: 0
// expect: greeting:
// expect: Denali/TS
// String literals: print, .length, .charCodeAt, const locals and string parameters, escapes.
import { bool, i32, print } from "dsl";

function countChar(text: string, code: i32): i32 {
  let n: i32 = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === code) n++;
  return n;
}

function equalStrings(a: string, b: string): bool {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

function compareStrings(a: string, b: string): i32 {
  const n: i32 = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d: i32 = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function isPalindrome(text: string): bool {
  let i: i32 = 0;
  let j: i32 = text.length - 1;
  while (i < j) {
    if (text.charCodeAt(i) !== text.charCodeAt(j)) return false;
    i++;
    j--;
  }
  return true;
}

function greet(name: string): void {
  print("greeting:");
  print(name);
}

export function main(): i32 {
  const message = "The quick brown fox jumps over the lazy dog";
  print(message);
  print(message.length);
  print(message.charCodeAt(0));
  print(message.charCodeAt(message.length - 1));
  print(countChar(message, 111));
  print(countChar(message, 32));
  print("");
  print("tab:\there");
  const escaped = "a\\b\"c\n";
  print(escaped.length);
  print(escaped.charCodeAt(1));
  print(escaped.charCodeAt(5));
  print("".length);
  print(i32(equalStrings("kernel", "kernel")));
  print(i32(equalStrings("kernel", "kernal")));
  print(compareStrings("apple", "apricot"));
  print(compareStrings("zoo", "zoo"));
  print(compareStrings("zoom", "zoo"));
  print(i32(isPalindrome("racecar")));
  print(i32(isPalindrome("denali")));
  greet("Denali/TS");
  return 0;
}
