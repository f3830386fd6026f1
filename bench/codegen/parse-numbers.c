// String-free parsing: a 24 KiB buffer of ASCII records "-123,0x1f,4567\n" (decimal, hex with a 0x
// prefix, optional minus sign) built from an LCG, parsed by a byte-at-a-time state machine into a
// wrapping sum, a count and a field-position hash. DSL twin: parse-numbers.ts.
#include "c-runtime/runtime.h"

#define SIZE 24576
static uint8_t text[24576];
static int32_t textLength = 0;

static void put(int32_t byte) { text[textLength++] = (uint8_t)byte; }

static void fill(void) {
  uint32_t state = 777;
  int32_t field = 0;
  while (textLength < SIZE - 24) {
    state = state * 1103515245u + 12345u;
    uint32_t value = (state >> 4) & 0xfffff;
    const uint32_t kind = (state >> 28) & 3;
    if (kind == 0) put(45);
    if (kind == 1) {
      put(48); put(120);
      int32_t shift = 20;
      while (shift > 0 && ((value >> (shift - 4)) & 15) == 0) shift -= 4;
      if (shift == 0) put(48);
      while (shift > 0) {
        shift -= 4;
        const uint32_t d = (value >> shift) & 15;
        put(d < 10 ? 48 + d : 87 + d);
      }
    } else {
      uint32_t div = 1000000;
      while (div > 1 && value < div) div = div / 10;
      while (div > 0) { put(48 + (value / div) % 10); div = div / 10; }
    }
    field++;
    put(field % 4 == 0 ? 10 : 44);
  }
}

static uint32_t parse(int32_t length) {
  uint32_t sum = 0;
  uint32_t count = 0;
  uint32_t hash = 0;
  int32_t column = 0;
  int32_t i = 0;
  while (i < length) {
    int negative = 0;
    if (text[i] == 45) { negative = 1; i++; }
    uint32_t value = 0;
    if (text[i] == 48 && i + 1 < length && text[i + 1] == 120) {
      i += 2;
      while (i < length) {
        const int32_t c = text[i];
        if (c >= 48 && c <= 57) value = (value << 4) | (uint32_t)(c - 48);
        else if (c >= 97 && c <= 102) value = (value << 4) | (uint32_t)(c - 87);
        else break;
        i++;
      }
    } else {
      while (i < length) {
        const int32_t c = text[i];
        if (c < 48 || c > 57) break;
        value = value * 10u + (uint32_t)(c - 48);
        i++;
      }
    }
    if (negative) value = 0u - value;
    sum = sum + value;
    count++;
    hash = (hash ^ value) * 16777619u + (uint32_t)column;
    if (i < length && text[i] == 10) column = 0;
    else column++;
    i++;
  }
  return sum ^ (count << 24) ^ hash;
}

MEASURED static uint32_t bench(void) {
  return parse(textLength);
}

int main(void) {
  fill();
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
