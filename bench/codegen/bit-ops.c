// Bit manipulation on 20,000 xorshift32 words: SWAR population count, bit reversal by mask-and-shift,
// count of leading zeros by binary search, rotate, and isolate/clear the lowest set bit.
// DSL twin: bit-ops.ts.
#include "c-runtime/runtime.h"

static uint32_t popcount(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (x * 0x01010101u) >> 24;
}

static uint32_t reverse(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}

static uint32_t leadingZeros(uint32_t x) {
  if (x == 0) return 32;
  uint32_t n = 0;
  if ((x & 0xffff0000u) == 0) { n += 16; x = x << 16; }
  if ((x & 0xff000000u) == 0) { n += 8; x = x << 8; }
  if ((x & 0xf0000000u) == 0) { n += 4; x = x << 4; }
  if ((x & 0xc0000000u) == 0) { n += 2; x = x << 2; }
  if ((x & 0x80000000u) == 0) n += 1;
  return n;
}

static uint32_t rotateLeft(uint32_t x, uint32_t r) {
  return (x << (r & 31)) | (x >> ((32 - r) & 31));
}

MEASURED static uint32_t bench(void) {
  uint32_t x = 2463534242u;
  uint32_t acc = 0;
  for (int32_t i = 0; i < 20000; i++) {
    x = x ^ (x << 13);
    x = x ^ (x >> 17);
    x = x ^ (x << 5);
    const uint32_t low = x & (0u - x);
    const uint32_t cleared = x & (x - 1);
    acc = acc + popcount(x) + leadingZeros(x >> (i & 31));
    acc = acc ^ reverse(low) ^ rotateLeft(cleared, (uint32_t)i);
  }
  return acc;
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
