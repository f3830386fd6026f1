// A tiny concurrency limiter: at most `n` of the given async jobs run at once (QEMU boots on 2 cores).
export function limit(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async job => {
    if (running >= n) await new Promise<void>(resolve => waiting.push(resolve));
    running++;
    try { return await job(); } finally { running--; waiting.shift()?.(); }
  };
}
