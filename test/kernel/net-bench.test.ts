// Contract: `npm run bench:net` (bench/net.ts) is deterministic: two runs under -icount give the same
// instruction counts for the stages of the receive path that run on their own (NIC driver, switch,
// copy into the VM, guest stack, application) of 100- and 1400-byte frames, and the figures add up.
// The wake-up of the VM (from the end of the NIC interrupt to the guest's netReceive) depends on where
// in guest time the host's frame lands (the VM idle in the kernel's hlt, or the kernel mid-way through
// a timer tick), so its most common value may differ between runs: it is checked to within 25%. QEMU
// user networking (no root needed); the results files are not written here.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildNetBench, measure, SIZES } from "../../bench/net.ts";

let dir: string | undefined;
test.after.always(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test("bench net: receive-path stages of 100- and 1400-byte frames, identical on two -icount runs", async (t) => {
  dir = mkdtempSync(join(tmpdir(), "denali-net-bench-test-"));
  const built = buildNetBench(dir);
  const [a, b] = await Promise.all([measure(built.kernel, built.modules), measure(built.kernel, built.modules)]);
  const steady = (f: typeof a.figures) => Object.fromEntries(Object.entries(f).map(([size, x]) => [size, { driver: x.driver, switch: x.switch, copy: x.copy, memoryCopy: x.memoryCopy, stack: x.stack, app: x.app }]));
  t.deepEqual(steady(a.figures), steady(b.figures));
  for (const size of SIZES) {
    const [wa, wb] = [a.figures[String(size)].wakeup, b.figures[String(size)].wakeup];
    t.true(Math.abs(wa - wb) <= 0.25 * Math.max(wa, wb), `${size}: wake-up ${wa} and ${wb}`);
  }
  for (const size of SIZES) {
    const f = a.figures[String(size)];
    t.truthy(f, `figures for ${size}-byte frames`);
    for (const stage of ["driver", "switch", "wakeup", "copy", "stack", "app"] as const) t.true(f[stage] > 0, `${size}: ${stage} ${f[stage]}`);
    t.is(f.total, f.driver + f.switch + f.wakeup + f.copy + f.stack + f.app);
    t.is(f.kernel, f.driver + f.switch + f.wakeup + f.copy);
    t.true(f.memoryCopy < f.copy, "the memory copy is part of the netReceive hypercall");
  }
  // The copy and the stack grow with the frame; the driver and the switch do not look at the payload.
  const small = a.figures[String(SIZES[0])], large = a.figures[String(SIZES[1])];
  t.is(small.driver, large.driver);
  t.is(small.switch, large.switch);
  t.true(large.copy > small.copy && large.stack > small.stack);
  t.log(JSON.stringify(a.figures));
});
