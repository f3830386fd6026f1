// expect: 261839447
// expect: 2893727837
// expect: 4100223669
// expect: -8
// Seven values live at once through a loop with a call in it (-O2: eax/ecx/edx cannot hold them across
// the call, so ebx, esi, edi and ebp do, the frame pointer being omitted), a deep non-tail recursion
// whose frames have no frame pointer, and a leaf that needs no stack at all.
import { i32, u32, print } from "dsl";

function mix(x: u32): u32 { return ((x ^ (x >>> 15)) * 0x2c1b) >>> 0; } // products below 2^53: exact under Node too

function pressure(n: i32, seed: u32): u32 {
  let a = seed, b = seed + 1, c = seed * 3, d = seed ^ 0x55aa, e = seed >>> 3, f = ~seed, g = seed << 7;
  for (let i = 0; i < n; i++) {
    a = (a + b) >>> 0;
    b = mix(b ^ c);
    c = (c + d * 5) >>> 0;
    d = (d ^ (e << 3)) >>> 0;
    e = (e + f) >>> 0;
    f = (f ^ g) >>> 0;
    g = (g + a + u32(i)) >>> 0;
  }
  return (a ^ b ^ c ^ d ^ e ^ f ^ g) >>> 0;
}

function depth(n: i32, acc: u32): u32 {
  if (n === 0) return acc;
  const below = depth(n - 1, (acc * 31 + u32(n)) >>> 0);
  return (below ^ u32(n)) >>> 0;
}

function leaf(x: i32, y: i32): i32 { return (x * 7 + y) | 0; }

export function main(): i32 {
  print(pressure(1000, 12345));
  print(pressure(7, 0xffffffff));
  print(depth(5000, 1));
  print(leaf(6, -50));
  return 0;
}
