// Recursive backtracking: all solutions of the 8-queens problem, placed column by column with
// bitmask-free arrays (rows, both diagonals), repeated 4 times. DSL twin: n-queens.ts.
#include "c-runtime/runtime.h"

#define N 8
static uint8_t rowUsed[8];
static uint8_t diagonalUp[15];
static uint8_t diagonalDown[15];
static int32_t placement[8];
static uint32_t signature = 0;

static uint32_t place(int32_t column) {
  if (column == N) {
    uint32_t s = 0;
    for (int32_t c = 0; c < N; c++) s = s * 8u + (uint32_t)placement[c];
    signature = signature * 31u + s;
    return 1;
  }
  uint32_t solutions = 0;
  for (int32_t row = 0; row < N; row++) {
    if (rowUsed[row] != 0 || diagonalUp[row + column] != 0 || diagonalDown[row - column + N - 1] != 0) continue;
    rowUsed[row] = 1; diagonalUp[row + column] = 1; diagonalDown[row - column + N - 1] = 1;
    placement[column] = row;
    solutions += place(column + 1);
    rowUsed[row] = 0; diagonalUp[row + column] = 0; diagonalDown[row - column + N - 1] = 0;
  }
  return solutions;
}

MEASURED static uint32_t bench(void) {
  uint32_t total = 0;
  for (int32_t round = 0; round < 4; round++) total += place(0);
  return (total << 20) ^ signature;
}

int main(void) {
  uint32_t start = rdtsc();
  uint32_t result = bench();
  uint32_t end = rdtsc();
  print_u32(result);
  print_u32(end - start);
  return 0;
}
