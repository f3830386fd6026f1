// Contract: `npm run bench:net` (bench/net.ts) is deterministic: two runs under -icount give the same
// instruction counts for the stages of the receive path that run on their own (NIC driver, switch,
// copy into the VM, guest stack, application) of 100- and 1400-byte frames, and the figures add up.
// The wake-up of the VM (from the end of the NIC interrupt to the guest's netReceive) depends on where
// in guest time the host's frame lands (the VM idle in the kernel's hlt, or the kernel mid-way through
// a timer tick), so its most common value may differ between runs: it is checked to within 25%. QEMU
// user networking (no root needed); the results files are not written here. The same for the Intel cards
// (bench:net's `cards`): each card's driver figure identical on two runs and the same for both sizes.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildNetBench, measure, SIZES } from "../../bench/net.ts";

let dir: string | undefined;
test.after.always(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
let built: ReturnType<typeof buildNetBench> | undefined;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "denali-net-bench-test-"));
  built = buildNetBench(dir);
});

test("bench net: receive-path stages of 100- and 1400-byte frames, identical on two -icount runs", async (t) => {
  const built = builtBench();
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

function builtBench() { if (!built) throw new Error("bench:net not built"); return built; }

test("bench net, the Intel cards (e1000, e1000e): the driver's figure identical on two runs, the same for both sizes",
  async (t) => {
  const { kernel, modules } = builtBench();
  const twice = (nic: "e1000" | "e1000e") => [measure(kernel, modules, nic), measure(kernel, modules, nic)];
  const runs = await Promise.all([...twice("e1000"), ...twice("e1000e")]);
  for (const [i, nic] of ["e1000", "e1000e"].entries()) {
    const [a, b] = [runs[2 * i].figures, runs[2 * i + 1].figures];
    const small = a[String(SIZES[0])], large = a[String(SIZES[1])];
    t.is(small.driver, b[String(SIZES[0])].driver, nic);
    t.is(large.driver, b[String(SIZES[1])].driver, nic);
    t.is(small.switch, b[String(SIZES[0])].switch, nic);
    t.true(small.driver > 0, `${nic}: driver ${small.driver}`);
    t.is(small.driver, large.driver, `${nic}: the driver does not look at the payload`);
    t.log(`${nic}: driver ${small.driver}, switch ${small.switch}`);
  }
});
