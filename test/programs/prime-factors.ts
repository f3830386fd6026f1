// expect: 2^3 3^2 5
// expect: 96
// expect: 9973
// expect: 9972
// expect: 2 3^2 7 11 31 151 331
// expect: 534600000
// expect: 2^10
// expect: 512
// expect: 3^2 5^2 7^2 54499
// expect: 274669920
// Prime factorization by trial division (d <= n / d, which cannot overflow), printed as
// "p^k" factors, and Euler's totient from the factorization.
import { bool, i32, print, write } from "dsl";

function factorize(value: i32): i32 {
  let n: i32 = value;
  let totient: i32 = value;
  let first: bool = true;
  for (let d = 2; d <= ((n / d) | 0); d++) {
    if (n % d !== 0) continue;
    let exponent: i32 = 0;
    while (n % d === 0) {
      n = (n / d) | 0;
      exponent++;
    }
    if (!first) write(" ");
    first = false;
    write(d);
    if (exponent > 1) {
      write("^");
      write(exponent);
    }
    totient = ((totient / d) | 0) * (d - 1);
  }
  if (n > 1) {
    if (!first) write(" ");
    write(n);
    totient = ((totient / n) | 0) * (n - 1);
  }
  print("");
  return totient;
}

export function main(): i32 {
  print(factorize(360));
  print(factorize(9973));
  print(factorize(2147483646));
  print(factorize(1024));
  print(factorize(600851475));
  return 0;
}
