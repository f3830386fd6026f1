// Statistics shared by the benchmarks and the tests that measure (one definition of each).
// Contract: pure functions of their arguments; no input is changed.

/**
 * The median of `xs` (not empty): the middle element in order; of an even count the upper of the two
 * middle ones, or the lower with `even` 'lower' (bench/web.ts's figure: of two middle runs, the slower).
 */
export function median(xs: number[], even: 'upper' | 'lower' = 'upper'): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[even === 'lower' ? Math.floor((xs.length - 1) / 2) : Math.floor(xs.length / 2)];
}
