// expect: 3250582325
// expect: 3071018065
// expect: 125084133
// expect: 3888614420
// expect: 1294553237
// expect: 411243479
// expect: 3127588703
// expect: 509765812
// expect: 617401488
// expect: 249147666
// expect: 2953599264
// expect: 2408625559
// expect: 182799783
// expect: 3637779393
// expect: 3555686387
// expect: 2789452319
// expect: 1835226255
// expect: 382052276
// expect: 1141873115
// expect: 3749014661
// expect: 1572323435
// expect: 308150906
// expect: 3596797719
// expect: 2478917341
// expect: 4234882051
// expect: 876341972
// expect: 117787965
// expect: 520067725
// expect: 4069447729
// expect: 4051306715
// expect: 3471064281
// expect: 573935774
// expect: 1117647615
// expect: 2966631332
// expect: 3738626083
// expect: 3193825430
// Division and remainder by constants that are not powers of two (magic multiplication at -O2),
// unsigned and signed, over dividends at the edges of both ranges.
import { i32, u32, print } from "dsl";

const UNSIGNED = new Uint32Array(18);
const SIGNED = new Int32Array(18);

function mix(h: u32, v: u32): u32 { return (Math.imul(h ^ v, 16777619) + 1) >>> 0; }

function unsignedPart(x: u32): u32 {
  let h: u32 = 2166136261;
  h = mix(h, (x / 3) >>> 0);
  h = mix(h, (x % 3) >>> 0);
  h = mix(h, (x / 5) >>> 0);
  h = mix(h, (x % 5) >>> 0);
  h = mix(h, (x / 6) >>> 0);
  h = mix(h, (x % 6) >>> 0);
  h = mix(h, (x / 7) >>> 0);
  h = mix(h, (x % 7) >>> 0);
  h = mix(h, (x / 9) >>> 0);
  h = mix(h, (x % 9) >>> 0);
  h = mix(h, (x / 10) >>> 0);
  h = mix(h, (x % 10) >>> 0);
  h = mix(h, (x / 11) >>> 0);
  h = mix(h, (x % 11) >>> 0);
  h = mix(h, (x / 12) >>> 0);
  h = mix(h, (x % 12) >>> 0);
  h = mix(h, (x / 13) >>> 0);
  h = mix(h, (x % 13) >>> 0);
  h = mix(h, (x / 25) >>> 0);
  h = mix(h, (x % 25) >>> 0);
  h = mix(h, (x / 60) >>> 0);
  h = mix(h, (x % 60) >>> 0);
  h = mix(h, (x / 100) >>> 0);
  h = mix(h, (x % 100) >>> 0);
  h = mix(h, (x / 641) >>> 0);
  h = mix(h, (x % 641) >>> 0);
  h = mix(h, (x / 1000) >>> 0);
  h = mix(h, (x % 1000) >>> 0);
  h = mix(h, (x / 65521) >>> 0);
  h = mix(h, (x % 65521) >>> 0);
  h = mix(h, (x / 2147483647) >>> 0);
  h = mix(h, (x % 2147483647) >>> 0);
  h = mix(h, (x / 2147483649) >>> 0);
  h = mix(h, (x % 2147483649) >>> 0);
  h = mix(h, (x / 4294967294) >>> 0);
  h = mix(h, (x % 4294967294) >>> 0);
  h = mix(h, (x / 4294967295) >>> 0);
  h = mix(h, (x % 4294967295) >>> 0);
  h = mix(h, (x / 123456789) >>> 0);
  h = mix(h, (x % 123456789) >>> 0);
  return h;
}

function signedPart(x: i32): u32 {
  let h: u32 = 2166136261;
  h = mix(h, ((x / 3) | 0) >>> 0);
  h = mix(h, (x % 3) >>> 0);
  h = mix(h, ((x / 5) | 0) >>> 0);
  h = mix(h, (x % 5) >>> 0);
  h = mix(h, ((x / 6) | 0) >>> 0);
  h = mix(h, (x % 6) >>> 0);
  h = mix(h, ((x / 7) | 0) >>> 0);
  h = mix(h, (x % 7) >>> 0);
  h = mix(h, ((x / 9) | 0) >>> 0);
  h = mix(h, (x % 9) >>> 0);
  h = mix(h, ((x / 10) | 0) >>> 0);
  h = mix(h, (x % 10) >>> 0);
  h = mix(h, ((x / 11) | 0) >>> 0);
  h = mix(h, (x % 11) >>> 0);
  h = mix(h, ((x / 12) | 0) >>> 0);
  h = mix(h, (x % 12) >>> 0);
  h = mix(h, ((x / 13) | 0) >>> 0);
  h = mix(h, (x % 13) >>> 0);
  h = mix(h, ((x / 25) | 0) >>> 0);
  h = mix(h, (x % 25) >>> 0);
  h = mix(h, ((x / 60) | 0) >>> 0);
  h = mix(h, (x % 60) >>> 0);
  h = mix(h, ((x / 100) | 0) >>> 0);
  h = mix(h, (x % 100) >>> 0);
  h = mix(h, ((x / 641) | 0) >>> 0);
  h = mix(h, (x % 641) >>> 0);
  h = mix(h, ((x / 1000) | 0) >>> 0);
  h = mix(h, (x % 1000) >>> 0);
  h = mix(h, ((x / 65521) | 0) >>> 0);
  h = mix(h, (x % 65521) >>> 0);
  h = mix(h, ((x / 2147483647) | 0) >>> 0);
  h = mix(h, (x % 2147483647) >>> 0);
  h = mix(h, ((x / (-3)) | 0) >>> 0);
  h = mix(h, (x % (-3)) >>> 0);
  h = mix(h, ((x / (-7)) | 0) >>> 0);
  h = mix(h, (x % (-7)) >>> 0);
  h = mix(h, ((x / (-10)) | 0) >>> 0);
  h = mix(h, (x % (-10)) >>> 0);
  h = mix(h, ((x / (-1000)) | 0) >>> 0);
  h = mix(h, (x % (-1000)) >>> 0);
  h = mix(h, ((x / (-2147483647)) | 0) >>> 0);
  h = mix(h, (x % (-2147483647)) >>> 0);
  return h;
}

export function main(): i32 {
  UNSIGNED[0] = 0;
  SIGNED[0] = 0;
  UNSIGNED[1] = 1;
  SIGNED[1] = 1;
  UNSIGNED[2] = 2;
  SIGNED[2] = 2;
  UNSIGNED[3] = 3;
  SIGNED[3] = 3;
  UNSIGNED[4] = 6;
  SIGNED[4] = 6;
  UNSIGNED[5] = 7;
  SIGNED[5] = 7;
  UNSIGNED[6] = 99;
  SIGNED[6] = 99;
  UNSIGNED[7] = 100;
  SIGNED[7] = 100;
  UNSIGNED[8] = 65520;
  SIGNED[8] = 65520;
  UNSIGNED[9] = 65521;
  SIGNED[9] = 65521;
  UNSIGNED[10] = 2147483646;
  SIGNED[10] = 2147483646;
  UNSIGNED[11] = 2147483647;
  SIGNED[11] = 2147483647;
  UNSIGNED[12] = 2147483648;
  SIGNED[12] = -2147483648;
  UNSIGNED[13] = 2147483649;
  SIGNED[13] = -2147483647;
  UNSIGNED[14] = 4294967294;
  SIGNED[14] = -2;
  UNSIGNED[15] = 4294967295;
  SIGNED[15] = -1;
  UNSIGNED[16] = 123456789;
  SIGNED[16] = 123456789;
  UNSIGNED[17] = 3000000000;
  SIGNED[17] = -1294967296;
  for (let i = 0; i < 18; i++) {
    print(unsignedPart(UNSIGNED[i]));
    print(signedPart(SIGNED[i]));
  }
  return 0;
}
