// expect: 300286872
// expect: 11e60398
// expect: 1
// expect: 2040986670
// Adler-32 (zlib): two running sums modulo 65521, combined as (b << 16) | a.
import { i32, u32, print, writeHex } from "dsl";

const MOD_ADLER: u32 = 65521;

function adler32(data: Uint8Array, length: i32): u32 {
  let a: u32 = 1;
  let b: u32 = 0;
  for (let i = 0; i < length; i++) {
    a = (a + data[i]) % MOD_ADLER;
    b = (b + a) % MOD_ADLER;
  }
  return ((b << 16) | a) >>> 0;
}

function load(buffer: Uint8Array, text: string): i32 {
  for (let i = 0; i < text.length; i++) buffer[i] = text.charCodeAt(i);
  return text.length;
}

const buffer = new Uint8Array(1024);

export function main(): i32 {
  print(adler32(buffer, load(buffer, "Wikipedia")));
  writeHex(adler32(buffer, load(buffer, "Wikipedia")));
  print("");
  print(adler32(buffer, 0));
  for (let i = 0; i < buffer.length; i++) buffer[i] = 255;
  print(adler32(buffer, buffer.length));
  return 0;
}
