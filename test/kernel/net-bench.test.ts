// Contract: `npm run bench:net` (bench/net.ts) is deterministic: two runs under -icount give the same
// instruction counts for every stage of the receive path (NIC driver, switch, wake-up of the VM, copy
// into the VM, guest stack, application) of 100- and 1400-byte frames, and the figures add up. QEMU
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
  t.deepEqual(a.figures, b.figures);
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
