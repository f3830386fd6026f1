// expect: 2166136261
// expect: 3826002220
// expect: 3214735720
// expect: bf9cf968
// expect: 10
// expect: 7
// FNV-1a, 32-bit: offset basis 2166136261, prime 16777619, multiplication by Math.imul.
import { i32, u32, print, writeHex } from "dsl";

const FNV_OFFSET_BASIS: u32 = 2166136261;
const FNV_PRIME: i32 = 16777619;

function fnv1a(text: string): u32 {
  let hash: u32 = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    hash = (hash ^ text.charCodeAt(i)) >>> 0;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash;
}

export function main(): i32 {
  print(fnv1a(""));
  print(fnv1a("a"));
  print(fnv1a("foobar"));
  writeHex(fnv1a("foobar"));
  print("");
  const buckets = new Int32Array(16);
  const names = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
  let start: i32 = 0;
  let words: i32 = 0;
  for (let i = 0; i <= names.length; i++) {
    if (i === names.length || names.charCodeAt(i) === 32) {
      let hash: u32 = FNV_OFFSET_BASIS;
      for (let k = start; k < i; k++) hash = Math.imul((hash ^ names.charCodeAt(k)) >>> 0, FNV_PRIME) >>> 0;
      buckets[hash & 15]++;
      words++;
      start = i + 1;
    }
  }
  print(words);
  let used: i32 = 0;
  for (let b = 0; b < buckets.length; b++) if (buckets[b] > 0) used++;
  print(used);
  return 0;
}
