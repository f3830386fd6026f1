// expect: 1
// expect: 1
// expect: 0
// expect: 123
// expect: 117
// expect: 12
// expect: 12
// expect: 15
// expect: 56
// expect: 94
// expect: 3628800
// Mutual recursion: even/odd, Hofstadter's female and male sequences, a recursive-descent
// evaluator of "1+2*(3+4)"-style expressions over a byte string.
import { bool, i32, print } from "dsl";

function isEven(n: i32): bool { return n === 0 ? true : isOdd(n - 1); }
function isOdd(n: i32): bool { return n === 0 ? false : isEven(n - 1); }

function female(n: i32): i32 { return n === 0 ? 1 : n - male(female(n - 1)); }
function male(n: i32): i32 { return n === 0 ? 0 : n - female(male(n - 1)); }

let position: i32 = 0;

function peek(text: string): i32 { return position < text.length ? text.charCodeAt(position) : 0; }

function expression(text: string): i32 {
  let value: i32 = term(text);
  while (peek(text) === 43 || peek(text) === 45) {
    const op: i32 = peek(text);
    position++;
    const right: i32 = term(text);
    value = op === 43 ? value + right : value - right;
  }
  return value;
}

function term(text: string): i32 {
  let value: i32 = factor(text);
  while (peek(text) === 42) {
    position++;
    value = Math.imul(value, factor(text));
  }
  return value;
}

function factor(text: string): i32 {
  if (peek(text) === 40) {
    position++;
    const inner: i32 = expression(text);
    position++;
    return inner;
  }
  if (peek(text) === 45) {
    position++;
    return -factor(text);
  }
  let value: i32 = 0;
  while (peek(text) >= 48 && peek(text) <= 57) {
    value = value * 10 + (peek(text) - 48);
    position++;
  }
  return value;
}

function evaluate(text: string): i32 {
  position = 0;
  return expression(text);
}

export function main(): i32 {
  print(i32(isEven(10)));
  print(i32(isOdd(7)));
  print(i32(isEven(301)));
  let femaleSum: i32 = 0;
  let maleSum: i32 = 0;
  for (let n = 0; n < 20; n++) {
    femaleSum += female(n);
    maleSum += male(n);
  }
  print(femaleSum);
  print(maleSum);
  print(female(19));
  print(male(19));
  print(evaluate("1+2*(3+4)"));
  print(evaluate("((2))*(3-10)*-4"));
  print(evaluate("100-1-2-3"));
  print(evaluate("2*3*4*5*6*7*8*9*10"));
  return 0;
}
