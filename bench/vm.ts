// npm run bench:vm — what VMs cost (issue 4; docs/virtual-architecture.md).
//
// Builds kernel-src/ (-O2), the kernel tests' worker guest (test/kernel/guests/worker.ts) and the
// counter demo (guest-src/demos/counter.ts, through a manifest like any user's) into a temporary
// directory, then boots QEMU four times:
//
// 1. costs (twice, the two runs must print the same figures): `-icount shift=0,sleep=off -append bench`
//    with two worker VMs in bench mode. Under -icount the TSC counts guest instructions, so every
//    `bench NAME N` line is an exact instruction count: the worker prints hypercall-null (a null
//    hypercall, sysenter -> kernel -> iret, averaged over 1000), vm-switch (yield to the partner VM,
//    per switch), vinterrupt-batch-round-trip (netSend a frame to the idle partner, yield: the partner's
//    idle returns the batch NET|WAKEUP acknowledged, it receives, idles again; per round trip); the
//    kernel prints vm-start (creation of one VM from an already parsed image: address space, shared
//    code mapped, private data copied, boot-information page, per VM; kernel-src/vmstart.ts).
// 2. scale: 10,000 counter demos (1 round: a 10 ms alarm, idle, print, exit) in `-m 1024`. The kernel
//    prints what creating them took in frames ("vms: N created ...; memory K KiB (...), B bytes per
//    VM") and, at the end, the peak of private frames (demand-zero pages the VMs touched) and each
//    VM's status. The time for all to finish is host time between the "created" line and the
//    "vms done" line (polled every 10 ms), with -icount (virtual time is then instruction-exact but
//    host time is what a reader waits).
// 3. idle: 1,000 worker counters (20 rounds of a 2 ms alarm + idle) beside one computing worker,
//    under -icount: the per-VM CPU accounting of the kernel's summary (kcycles = thousands of
//    instructions) shows the idle VMs cost only their hypercalls and switches, whatever they wait.
// 4. decision: the scheduler's cost per switch with 10 and with 10,000 runnable VMs (workers that
//    yield forever, mode 9, beside a stopper, mode 8, that ends the run after 300 ms), `-append 'bench
//    scheduler=timed'` under -icount (the timing only there: the costs above do not pay for it): the
//    kernel times each switch-out (the leaving VM charged and saved, put back in the run heap, the next
//    picked and switched in) and prints `bench scheduler-switch-out N`, instructions per switch.
// 5. push: the control VM (guest-src/apps/control.ts, argument bit 16: bench mode) on user networking under
//    -icount; the worker image pushed once (POST /images), then PUSH_RUNS single VMs started from it (POST
//    /vms, worker mode 10): from the control VM's `bench-tsc push-request T` (the TSC when the request's
//    head was in, before authentication) to the pushed VM's `bench-tsc vm-entry T` (the TSC its image reads
//    first): authentication (HMAC-SHA256), the JSON, the vmCreate hypercall (the image checked, the address
//    space built), the reply and the scheduling of the new VM. The median of the runs.
// 6. bytecode (issue 18, docs/bytecode.md "Bytecode VMs"): the costs of 1 for two bytecode VMs of
//    test/kernel/guests/bench.ts (the same pair bench, pair-bench.ts; the worker's image holds kernel-only
//    intrinsics the verifier refuses), twice, identical; the guest's figures include the interpretation of
//    its own loop, as a hardware guest's include its native loop. Then the bytecode scale run: 100,000
//    (BYTECODE_SCALE_VMS) counter demos as bytecode VMs of SCALE_VM_KIB in `-m 1024` under -icount, no
//    guaranteed pages (each reserves its kernel frame and the page of its boot information), every one
//    finishing: bytes per VM at creation and at the peak (no page tables: a kernel frame and the pages each
//    touched, kernel-src/linear.ts), the start of one (averaged), the host time as for the scale run above.
//
// Writes bench/results/vm.json and bench/results/vm.md and prints the table.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { buildKernel, buildGuest, ROOT } from '../tools/build.ts';
import { controlKeyFile, readControlKey, controlCall } from '../tools/control-client.ts';
import { Progress } from '../tools/progress.ts';
import { writeBenchPlot } from './plots.ts';
import { buildManifest } from '../tools/manifest.ts';
import { runQemu, qemuArgs, userNetArgs, type BootMedium, type QemuOptions } from '../tools/qemu.ts';
import {
  buildTestGuest, buildTestGuestBytecode, writeManifest, workerArgument, vmSummaries, MODE, type VmSummary,
} from '../test/kernel/guests/build.ts';
import { median } from '../tools/stats.ts';

const SCALE_VMS = 10_000;
const SCALE_MEMORY_MIB = 1024;
const SCALE_VM_KIB = 64;
const IDLE_VMS = 1_000;
const IDLE_ROUNDS = 20;          // worker counter mode: 20 x (setAlarm 2 ms, idle, acknowledge)
const IDLE_ALARM_MS = 2;
const COMPUTE_PARAM = 30;        // worker compute mode: 30 x 100,000 loop iterations
const BENCH_NAMES = ['hypercall-null', 'vm-switch', 'vinterrupt-batch-round-trip', 'vm-start'] as const;
const DECISION_VMS = [10, 10_000];
const DECISION_ROUNDS = 3;       // worker stopper mode: 3 x 100 ms, then it stops the others
const PUSH_RUNS = 5;
const CONTROL_BENCH_ARGUMENT = 0x10000;   // guest-src/apps/control.ts ARGUMENT_BENCH, port 80
/** Bytecode counters of the bytecode scale run (issue 18: 100,000 in -m 1024). */
const BYTECODE_SCALE_VMS = 100_000;

const DESCRIPTIONS: Record<string, string> = {
  'hypercall-null': 'null hypercall round trip: sysenter from ring 3 (as guests call), dispatch, iret '
    + '(interruptAcknowledge(0), averaged over 1,000)',
  'vm-switch': 'VM switch: yield from one VM to the other (save, run queue, address space switch, restore), per switch',
  'vinterrupt-batch-round-trip': 'virtual interrupts: netSend to an idle VM + yield; it wakes with the batch '
    + 'NET|WAKEUP from idle (acknowledged, with the clock), receives, idles; back (per round trip: 2 switches, '
    + '4 hypercalls)',
  'vm-start': 'start of one VM from a parsed image: address space, shared code mapped, private data, boot-information page, queued',
};

const clean = (s: string) => s.replace(/\r/g, '');

function match(out: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(out);
  if (!m) throw new Error(`bench:vm: no ${what} line in the kernel's output:\n${out.slice(-3000)}`);
  return m;
}

/** "vms: N created from G images; memory K KiB (P private frames, T page-table frames), B bytes per VM" */
function creation(out: string) {
  const m = match(out, /^vms: (\d+) created from (\d+) images; memory (\d+) KiB \((\d+) private frames, (\d+) page-table frames\), (\d+) bytes per VM$/m, 'vms created');
  return { vms: Number(m[1]), memoryKiB: Number(m[3]), privateFrames: Number(m[4]), pageTableFrames: Number(m[5]), bytesPerVm: Number(m[6]) };
}

/** "vms: N started, E exited, K ended by the kernel, I idle; switches S; private frames peak P"
 * (then "; fpu claims C, saves V") */
function ending(out: string) {
  const summary = new RegExp('^vms: (\\d+) started, (\\d+) exited, (\\d+) ended by the kernel, (\\d+) idle; '
    + 'switches (\\d+); private frames peak (\\d+); fpu claims \\d+, saves \\d+$', 'm');
  const m = match(out, summary, 'vms summary');
  return { started: Number(m[1]), exited: Number(m[2]), endedByKernel: Number(m[3]), idle: Number(m[4]), switches: Number(m[5]), privateFramesPeak: Number(m[6]) };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1], sum: s.reduce((a, b) => a + b, 0) };
};

/**
 * Boots like runQemu but timestamps the first appearance of each marker in the serial output (host
 * milliseconds since QEMU was started), polling the serial file every 10 ms.
 */
function timedBoot(medium: BootMedium, options: QemuOptions, markers: string[]): Promise<{ serial: string; status: number | null; ms: number; at: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-vm-qemu-'));
  const serialFile = join(dir, 'com1.txt');
  const read = () => (existsSync(serialFile) ? readFileSync(serialFile).toString('latin1') : '');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const at: Record<string, number> = {};
    const child = spawn('qemu-system-i386', qemuArgs(medium, options, serialFile), { stdio: ['ignore', 'ignore', 'inherit'] });
    const look = () => {
      const pending = markers.filter(m => !(m in at));
      if (pending.length === 0) return;
      const text = read();
      for (const m of pending) if (text.includes(m)) at[m] = performance.now() - started;
    };
    const poll = setInterval(look, 10);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', e => { clearInterval(poll); clearTimeout(timer); reject(new Error(`cannot start qemu-system-i386 (${e.message}): run tools/setup.sh`)); });
    child.on('close', status => {
      const ms = performance.now() - started;
      clearInterval(poll); clearTimeout(timer);
      look();
      const serial = read();
      rmSync(dir, { recursive: true, force: true });
      resolve({ serial, status, ms, at });
    });
  });
}

const debugExit = (status: number | null) => (status !== null && (status & 1) === 1 ? status >> 1 : null);

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'denali-bench-vm-'));
  const t0 = performance.now();
  const progress = new Progress('bench:vm', 7);
  try {
    // ---- build ----
    progress.update(0, 'building the kernel and the guests');
    const kernel = buildKernel(2, dir, dir);
    const worker = buildTestGuest('worker', dir);
    const manifestJson = join(dir, 'scale.json');
    writeFileSync(manifestJson, JSON.stringify({ groups: [{ image: 'guest-src/demos/counter.ts', count: SCALE_VMS, memoryKiB: SCALE_VM_KIB, argument: 1 }] }));
    const scaleBuild = buildManifest(manifestJson, { imagesDir: dir, outDir: dir });
    const counterImage = scaleBuild.images[0];
    console.log(`built in ${Math.round(performance.now() - t0)} ms: kernel .text ${kernel.image.textSize} bytes; worker; counter demo ${counterImage.spanBytes} bytes from GUEST_BASE to the end of .bss`);

    // ---- 1. costs under -icount, twice ----
    progress.update(1, 'costs: two boots under -icount');
    const benchManifest = writeManifest(dir, 'bench', [{ moduleIndex: 0, vmCount: 2, memoryKiB: 64, argument: workerArgument(MODE.bench) }]);
    const benchBoot = () => runQemu({ kernel: kernel.elfPath, initrd: [worker, benchManifest] }, { icount: true, memoryMiB: 64, timeoutMs: 120_000, extraArgs: ['-append', 'bench'] });
    const [a, b] = await Promise.all([benchBoot(), benchBoot()]);
    const benchLines = (out: string) => Object.fromEntries(
      [...clean(out).matchAll(/^(?:\[vm \d+\] )?bench (\S+) (\d+)$/gm)].map(m => [m[1], Number(m[2])]));
    for (const r of [a, b]) if (r.debugExit !== 0) throw new Error(`bench:vm: the bench boot did not end cleanly (status ${r.status}):\n${clean(r.serial).slice(-3000)}`);
    const bench = benchLines(a.serial), again = benchLines(b.serial);
    if (JSON.stringify(bench) !== JSON.stringify(again)) throw new Error(`bench:vm: two -icount runs disagree:\n${JSON.stringify(bench)}\n${JSON.stringify(again)}`);
    for (const name of BENCH_NAMES) if (!(name in bench)) throw new Error(`bench:vm: no bench ${name} line:\n${clean(a.serial).slice(-3000)}`);
    // The batch figure means something only if the frames arrived: the partner stops on the last one
    // and exits; a dropped frame leaves it idle ("every VM is idle with nothing to wake it").
    const benchEnd = clean(a.serial);
    if (!/^vms done: every VM has ended$/m.test(benchEnd) || [...vmSummaries(benchEnd).values()].filter(s => s.outcome === 'exit status 0').length !== 2) {
      throw new Error(`bench:vm: the bench VMs did not both exit (frames between them lost?); the vinterrupt-batch figure would be wrong:\n${benchEnd.slice(-3000)}`);
    }
    console.log(`costs (2 runs, identical): ${JSON.stringify(bench)}`);
    // The same boot in real time (no -icount; the TSC is the host's): what the emulator spends besides the
    // instructions (a CR3 load drops QEMU's soft TLB and jump cache), host cycles, the median of three boots.
    progress.update(1, 'costs: three boots in real time');
    const realtimeRuns: Record<string, number>[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await runQemu({ kernel: kernel.elfPath, initrd: [worker, benchManifest] },
        { icount: false, memoryMiB: 64, timeoutMs: 120_000, extraArgs: ['-append', 'bench'] });
      if (r.debugExit !== 0) {
        throw new Error(`bench:vm: a real-time bench boot did not end cleanly:\n${clean(r.serial).slice(-3000)}`);
      }
      realtimeRuns.push(benchLines(r.serial));
    }
    const realtime = Object.fromEntries(['tsc-khz', ...BENCH_NAMES].map(n => [n, median(realtimeRuns.map(r => r[n]))]));
    console.log(`costs in real time (host cycles, median of 3): ${JSON.stringify(realtime)}`);

    // ---- 3. idle: 1,000 counters beside one computing VM, -icount ----
    progress.update(2, 'idle: 1,000 counters beside a computing VM');
    const idleManifest = writeManifest(dir, 'idle', [
      { moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.compute, COMPUTE_PARAM) },
      { moduleIndex: 0, vmCount: IDLE_VMS, memoryKiB: 64, argument: workerArgument(MODE.counter, IDLE_ROUNDS) },
    ]);
    const idleRun = await timedBoot({ kernel: kernel.elfPath, initrd: [worker, idleManifest] }, { icount: true, memoryMiB: 256, timeoutMs: 240_000 }, []);
    const idleOut = clean(idleRun.serial);
    if (debugExit(idleRun.status) !== 0) throw new Error(`bench:vm: the idle run did not end cleanly (status ${idleRun.status}):\n${idleOut.slice(-3000)}`);
    const idleSummary = vmSummaries(idleOut);
    const counters = [...idleSummary.values()].filter(s => s.id >= 1);
    const counted = new Set([...idleOut.matchAll(/^\[vm (\d+)\] vm \1 count (\d+)$/gm)]
      .filter(m => Number(m[2]) === IDLE_ROUNDS).map(m => Number(m[1])));
    if (counters.length !== IDLE_VMS || counted.size !== IDLE_VMS || counters.some(s => s.outcome !== 'exit status 0')) throw new Error(`bench:vm: not every idle counter finished:\n${idleOut.slice(-3000)}`);
    const compute = idleSummary.get(0)!;
    const kc = stats(counters.map(s => s.kcycles));
    const kcMaxIds = counters.filter(s => s.kcycles > 2 * kc.median).map(s => s.id);
    const sw = stats(counters.map(s => s.switches));
    const idle = {
      vms: IDLE_VMS, rounds: IDLE_ROUNDS, alarmMs: IDLE_ALARM_MS, computeKcycles: compute.kcycles, computeSwitches: compute.switches,
      counterKcycles: { min: kc.min, median: kc.median, max: kc.max, sum: kc.sum },
      countersAboveTwiceMedian: kcMaxIds,
      counterSwitches: { min: sw.min, median: sw.median, max: sw.max },
      kcyclesPerRound: Math.round((kc.median / IDLE_ROUNDS) * 10) / 10,
      summary: ending(idleOut),
      hostMs: Math.round(idleRun.ms),
    };
    console.log(`idle: ${JSON.stringify(idle)}`);

    // ---- 2. scale: 10,000 counter demos in -m 1024 ----
    progress.update(3, `scale: ${SCALE_VMS} counter demos`);
    const created = `vms: ${SCALE_VMS} created`, done = 'vms done:';
    const scaleRun = await timedBoot({ kernel: kernel.elfPath, initrd: scaleBuild.modules }, { icount: true, memoryMiB: SCALE_MEMORY_MIB, timeoutMs: 240_000, extraArgs: ['-append', 'bench'] }, ['boot ok', created, done]);
    const scaleOut = clean(scaleRun.serial);
    if (debugExit(scaleRun.status) !== 0) throw new Error(`bench:vm: the scale run did not end cleanly (status ${scaleRun.status}):\n${scaleOut.slice(-3000)}`);
    const made = creation(scaleOut), end = ending(scaleOut);
    const scaleSummary = vmSummaries(scaleOut);
    const finished = new Set([...scaleOut.matchAll(/^\[vm (\d+)\] vm \1 done 1$/gm)].map(m => Number(m[1])));
    const allExited = scaleSummary.size === SCALE_VMS && [...scaleSummary.values()].every((s: VmSummary) => s.outcome === 'exit status 0');
    if (made.vms !== SCALE_VMS || finished.size !== SCALE_VMS || !allExited || end.exited !== SCALE_VMS) throw new Error(`bench:vm: not every one of ${SCALE_VMS} VMs finished:\n${scaleOut.slice(-3000)}`);
    const freeKiB = Number(match(scaleOut, /^free memory: (\d+) KiB/m, 'free memory')[1]);
    const scaleKc = stats([...scaleSummary.values()].map(s => s.kcycles));
    const scale = {
      vms: SCALE_VMS, memoryMiB: SCALE_MEMORY_MIB, vmMemoryKiB: SCALE_VM_KIB, image: 'guest-src/demos/counter.ts', argument: 1,
      freeMemoryKiBAtBoot: freeKiB,
      creation: made,
      vmStartInstructions: Number(match(scaleOut, /^bench vm-start (\d+)$/m, 'bench vm-start')[1]),
      peakPrivateFrames: end.privateFramesPeak,
      peakBytesPerVm: Math.round(((made.pageTableFrames + end.privateFramesPeak) * 4096) / SCALE_VMS),
      switches: end.switches,
      vmKcycles: { min: scaleKc.min, median: scaleKc.median, max: scaleKc.max, sum: scaleKc.sum },
      hostMs: {
        bootToCreated: Math.round(scaleRun.at[created] - scaleRun.at['boot ok']),
        createdToDone: Math.round(scaleRun.at[done] - scaleRun.at[created]),
        qemuTotal: Math.round(scaleRun.ms),
      },
      icount: true,
    };
    console.log(`scale: ${JSON.stringify(scale)}`);

    // ---- 4. decision: the run heap's cost per pick, 10 and 10,000 runnable VMs ----
    progress.update(4, 'decision: the scheduler with 10 and 10,000 runnable VMs');
    const decision: Record<string, number> = {};
    for (const n of DECISION_VMS) {
      const manifest = writeManifest(dir, `decision-${n}`, [
        {
          moduleIndex: 0, vmCount: 1, memoryKiB: 64, argument: workerArgument(MODE.stopper, DECISION_ROUNDS),
          control: true,
        },
        { moduleIndex: 0, vmCount: n, memoryKiB: 64, argument: workerArgument(MODE.yielder), ipBase: 0x0200000a },
      ]);
      const r = await runQemu({ kernel: kernel.elfPath, initrd: [worker, manifest] },
        {
          icount: true, memoryMiB: SCALE_MEMORY_MIB, timeoutMs: 240_000,
          extraArgs: ['-append', 'bench scheduler=timed'],
        });
      const out = clean(r.serial);
      if (r.debugExit !== 0) {
        throw new Error(`bench:vm: the decision run (${n} VMs) did not end cleanly (status ${r.status}):\n`
          + out.slice(-3000));
      }
      decision[n] = Number(match(out, /^bench scheduler-switch-out (\d+)$/m, 'bench scheduler-switch-out')[1]);
      decision[`picks${n}`] = Number(match(out, /^vms: scheduler: (\d+) picks/m, 'vms: scheduler')[1]);
    }
    console.log(`decision: ${JSON.stringify(decision)}`);

    // ---- 5. push: a VM started through the control API, from the request to its first instruction ----
    progress.update(5, 'push: VMs started through the control API under -icount');
    const push = await measurePush(kernel.elfPath, worker, dir);
    console.log(`push: ${JSON.stringify(push)}`);

    // ---- 6. bytecode VMs: the pair's costs, then the start and size of BYTECODE_SCALE_VMS counters ----
    progress.update(6, 'bytecode: the costs and the start of bytecode VMs under -icount');
    const bytecode = await measureBytecode(kernel.elfPath, dir, benchLines);
    console.log(`bytecode: ${JSON.stringify(bytecode)}`);

    // ---- results ----
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const result = {
      commit: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no', '--', 'kernel-src', 'compiler', 'dsl', 'guest-src', 'test/kernel/guests') ? ' (modified in the work tree)' : ''),
      qemu: execFileSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).split('\n')[0],
      commands: {
        costs: 'qemu-system-i386 -kernel denali.elf -initrd worker.elf,manifest -append bench -icount shift=0,sleep=off -m 64 (2 worker VMs, bench mode)',
        scale: `qemu-system-i386 -kernel denali.elf -initrd manifest,guest-demos-counter.elf -append bench -icount shift=0,sleep=off -m ${SCALE_MEMORY_MIB} (${SCALE_VMS} counters, ${SCALE_VM_KIB} KiB each, 1 round)`,
        idle: `qemu-system-i386 -kernel denali.elf -initrd worker.elf,manifest -icount shift=0,sleep=off -m 256 (1 compute VM + ${IDLE_VMS} counters, ${IDLE_ROUNDS} rounds of ${IDLE_ALARM_MS} ms)`,
        push: 'qemu-system-i386 -kernel denali.elf -initrd apps-control.elf,manifest,control-key '
          + '-icount shift=0,sleep=off -m 128 -netdev user,hostfwd=tcp:127.0.0.1:PORT-10.0.2.15:80 (the control VM '
          + `in bench mode; the worker pushed, then ${PUSH_RUNS} x POST /vms of one VM in mode 10)`,
        decision: 'qemu-system-i386 -kernel denali.elf -initrd worker.elf,manifest '
          + '-append "bench scheduler=timed" '
          + `-icount shift=0,sleep=off -m ${SCALE_MEMORY_MIB} (1 stopper + N workers yielding, `
          + `N = ${DECISION_VMS.join(', ')})`,
      },
      costs: Object.fromEntries(BENCH_NAMES.map(n => [n, bench[n]])),
      identicalOnTwoRuns: true,
      realtime,
      scale,
      idle,
      decision: DECISION_VMS.map(n => (
        { runnable: n, instructionsPerSwitchOut: decision[n], picks: decision[`picks${n}`] })),
      push,
      bytecode,
      benchSeconds: Math.round((performance.now() - t0) / 1000),
    };
    const md = markdown(result);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'vm.json'), JSON.stringify(result, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'vm.md'), md);
    console.log('\n' + md);
    writeBenchPlot('vm');
    progress.finish('written: bench/results/vm.json, bench/results/vm.md, bench/results/vm.png');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Step 5: the control VM booted under -icount with its API forwarded to a free host port; the worker image
 * pushed, then PUSH_RUNS VMs of it started one at a time, each measured from the control VM's
 * `bench-tsc push-request` to the new VM's `bench-tsc vm-entry` (32-bit TSC values: their difference mod 2^32).
 */
async function measurePush(kernel: string, worker: string, dir: string) {
  const control = buildGuest('apps-control', join(ROOT, 'guest-src', 'apps', 'control.ts'), 2, dir, dir);
  const keyFile = controlKeyFile(join(dir, 'control-key'));
  const key = readControlKey(keyFile);
  const manifest = writeManifest(dir, 'push', [{ moduleIndex: 0, vmCount: 1, memoryKiB: 8192,
    argument: CONTROL_BENCH_ARGUMENT, control: true, ipBase: 0x0f02000a, guaranteedKiB: 1024 }]);
  const port = await freeTcpPort();
  const url = `http://127.0.0.1:${port}`;
  let serial = '';
  const abort = new AbortController();
  const machine = runQemu({ kernel, initrd: [control.elfPath, manifest, keyFile] }, {
    memoryMiB: 128, icount: true, timeoutMs: 600_000, signal: abort.signal,
    extraArgs: userNetArgs([{ hostPort: port, ip: '10.0.2.15', guestPort: 80 }]),
    onOutput: text => { serial += text.replace(/\r/g, ''); },
  });
  const until = async (re: RegExp, count: number) => {
    for (let i = 0; i < 6000 && [...serial.matchAll(re)].length < count; i++) await new Promise(r => setTimeout(r, 50));
    const all = [...serial.matchAll(re)];
    if (all.length < count) throw new Error(`bench:vm push: no ${re} (${count}):\n${serial.slice(-3000)}`);
    return all;
  };
  try {
    await until(/control API on port 80/g, 1);
    const pushed = await controlCall(url, key, 'POST', '/images', readFileSync(worker)) as { image: number };
    const runs: number[] = [];
    for (let k = 1; k <= PUSH_RUNS; k++) {
      await controlCall(url, key, 'POST', '/vms', Buffer.from(JSON.stringify({ image: pushed.image, count: 1,
        memoryKiB: 64, argument: workerArgument(MODE.entry) })));
      const request = (await until(/^\[vm 0\] bench-tsc push-request (\d+)$/gm, k))[k - 1];
      const entry = (await until(/^\[vm \d+\] bench-tsc vm-entry (\d+)$/gm, k))[k - 1];
      runs.push((Number(entry[1]) - Number(request[1]) + 2 ** 32) % 2 ** 32);
    }
    return { runs, median: [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)] };
  } finally {
    abort.abort();
    await machine;
  }
}

/**
 * Step 6: the pair's costs for two bytecode VMs (two boots, identical) and BYTECODE_SCALE_VMS counter demos
 * as bytecode VMs: bytes per VM at creation, the start of one, every one exited 0.
 */
async function measureBytecode(kernel: string, dir: string, benchLines: (out: string) => Record<string, number>) {
  const pair = buildTestGuestBytecode('bench', dir);
  const manifest = writeManifest(dir, 'bytecode-bench', [{ moduleIndex: 0, vmCount: 2, memoryKiB: pair.memoryKiB,
    argument: 0, bytecode: true }]);
  const boot = () => runQemu({ kernel, initrd: [pair.path, manifest] },
    { icount: true, memoryMiB: 64, timeoutMs: 120_000, extraArgs: ['-append', 'bench'] });
  const [a, b] = await Promise.all([boot(), boot()]);
  for (const r of [a, b]) {
    if (r.debugExit !== 0 || [...vmSummaries(clean(r.serial)).values()].some(s => s.outcome !== 'exit status 0')) {
      throw new Error(`bench:vm: the bytecode bench boot did not end cleanly:\n${clean(r.serial).slice(-3000)}`);
    }
  }
  const costs = benchLines(a.serial);
  if (JSON.stringify(costs) !== JSON.stringify(benchLines(b.serial))) {
    throw new Error(`bench:vm: two bytecode -icount runs disagree:\n${JSON.stringify(costs)}\n`
      + JSON.stringify(benchLines(b.serial)));
  }
  for (const name of BENCH_NAMES) if (!(name in costs)) throw new Error(`bench:vm: no bytecode bench ${name} line`);
  // The same pair in real time (host TSC cycles), the median of three boots, as the hardware VMs' costs.
  const realtimeRuns: Record<string, number>[] = [];
  for (let k = 0; k < 3; k++) {
    const r = await runQemu({ kernel, initrd: [pair.path, manifest] },
      { icount: false, memoryMiB: 64, timeoutMs: 120_000, extraArgs: ['-append', 'bench'] });
    if (r.debugExit !== 0) {
      throw new Error(`bench:vm: a real-time bytecode boot failed:\n${clean(r.serial).slice(-3000)}`);
    }
    realtimeRuns.push(benchLines(r.serial));
  }
  const realtime = Object.fromEntries(['tsc-khz', ...BENCH_NAMES].map(n => [n, median(realtimeRuns.map(r => r[n]))]));
  const json = join(dir, 'bytecode-scale.json');
  writeFileSync(json, JSON.stringify({ groups: [{ image: 'guest-src/demos/counter.ts', count: BYTECODE_SCALE_VMS,
    memoryKiB: SCALE_VM_KIB, argument: 1, isolation: 'bytecode', guaranteedKiB: 0 }] }));
  const built = buildManifest(json, { imagesDir: dir, outDir: dir });
  const created = `vms: ${BYTECODE_SCALE_VMS} created`, done = 'vms done:';
  const r = await timedBoot({ kernel, initrd: built.modules },
    { icount: true, memoryMiB: SCALE_MEMORY_MIB, timeoutMs: 900_000, extraArgs: ['-append', 'bench'] },
    ['boot ok', created, done]);
  const out = clean(r.serial);
  const summaries = [...vmSummaries(out).values()];
  const finished = new Set([...out.matchAll(/^\[vm (\d+)\] vm \1 done 1$/gm)].map(m => Number(m[1])));
  if (debugExit(r.status) !== 0 || summaries.length !== BYTECODE_SCALE_VMS || finished.size !== BYTECODE_SCALE_VMS
    || summaries.some(s => s.outcome !== 'exit status 0')) {
    throw new Error(`bench:vm: not every bytecode counter finished:\n${out.slice(-3000)}`);
  }
  const made = creation(out), end = ending(out);
  const slotBytes = Number(match(out, /^vms: table \d+ frames, a (\d+)-byte slot per VM$/m, 'vms: table')[1]);
  return {
    costs: Object.fromEntries(BENCH_NAMES.map(n => [n, costs[n]])),
    realtime,
    pairMemoryKiB: pair.memoryKiB,
    scale: {
      vms: BYTECODE_SCALE_VMS, vmMemoryKiB: SCALE_VM_KIB, memoryMiB: SCALE_MEMORY_MIB, guaranteedKiB: 0,
      creation: made, slotBytes,
      freeMemoryKiBAtBoot: Number(match(out, /^free memory: (\d+) KiB/m, 'free memory')[1]),
      vmStartInstructions: Number(match(out, /^bench vm-start (\d+)$/m, 'bench vm-start')[1]),
      vmKcyclesMedian: stats(summaries.map(s => s.kcycles)).median,
      peakPrivateFrames: end.privateFramesPeak,
      // Its kernel frame (held from creation to its end) and the peak of the pages VMs touched, per VM.
      peakBytesPerVm: Math.round((made.memoryKiB * 1024 + end.privateFramesPeak * 4096) / BYTECODE_SCALE_VMS),
      switches: end.switches,
      hostMs: {
        bootToCreated: Math.round(r.at[created] - r.at['boot ok']),
        createdToDone: Math.round(r.at[done] - r.at[created]),
        qemuTotal: Math.round(r.ms),
      },
    },
  };
}

/** A TCP port on 127.0.0.1 that is free now (QEMU's hostfwd takes it). */
async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>(r => server.close(() => r()));
  return port;
}

type Result = {
  commit: string; qemu: string; costs: Record<string, number>;
  /** The costs' boot without -icount: host TSC cycles (median of three boots) and the TSC's kHz. */
  realtime: Record<string, number>;
  scale: {
    vms: number; memoryMiB: number; vmMemoryKiB: number; freeMemoryKiBAtBoot: number;
    creation: ReturnType<typeof creation>; vmStartInstructions: number; peakPrivateFrames: number; peakBytesPerVm: number; switches: number;
    vmKcycles: { min: number; median: number; max: number; sum: number };
    hostMs: { bootToCreated: number; createdToDone: number; qemuTotal: number };
  };
  idle: {
    vms: number; rounds: number; alarmMs: number; computeKcycles: number; computeSwitches: number;
    counterKcycles: { min: number; median: number; max: number; sum: number }; counterSwitches: { min: number; median: number; max: number };
    kcyclesPerRound: number; hostMs: number; countersAboveTwiceMedian: number[];
    summary: ReturnType<typeof ending>;
  };
  decision: { runnable: number; instructionsPerSwitchOut: number; picks: number }[];
  push: Awaited<ReturnType<typeof measurePush>>;
  bytecode: Awaited<ReturnType<typeof measureBytecode>>;
};

function markdown(r: Result): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const s = r.scale, c = s.creation, i = r.idle;
  const kib = (bytes: number) => `${fmt(bytes)} bytes (${(bytes / 1024).toFixed(1)} KiB)`;
  return [
    `VM costs in instructions, \`qemu-system-i386 -icount shift=0,sleep=off\` (\`npm run bench:vm\`; commit ${r.commit}, ${r.qemu}). Identical on two runs.`,
    '',
    '| bench | what | instructions | host cycles in real time (µs) |',
    '|---|---|--:|--:|',
    ...Object.entries(r.costs).map(([name, n]) => `| ${name} | ${DESCRIPTIONS[name]} | ${fmt(n)} | `
      + `${fmt(r.realtime[name])} (${(r.realtime[name] / r.realtime['tsc-khz'] * 1000).toFixed(2)}) |`),
    '',
    'Host cycles: the same boot without -icount (the TSC is then the host\'s, '
      + `${fmt(r.realtime['tsc-khz'])} kHz), the median of three boots; what the emulator spends besides the `
      + 'instructions: a CR3 load drops QEMU\'s soft TLB and its jump cache, so the VM switched to looks every page '
      + 'and translated block up again (the cycles per instruction of a switch are many times a hypercall\'s).',
    '',
    `Scale: ${fmt(s.vms)} VMs of \`guest-src/demos/counter.ts\` (one image, ${s.vmMemoryKiB} KiB of address space each, 1 round: a 10 ms alarm, idle, print, exit) in \`-m ${s.memoryMiB}\` under -icount; every one printed \`done\` and exited 0.`,
    '',
    '| what | figure |',
    '|---|---|',
    `| memory per VM at creation (kernel: "bytes per VM") | ${kib(c.bytesPerVm)}: ${fmt(c.privateFrames)} private frames (boot-information pages) + ${fmt(c.pageTableFrames)} page-table frames for ${fmt(c.vms)} VMs; code shared |`,
    `| memory for all at creation | ${fmt(c.memoryKiB)} KiB of ${fmt(s.freeMemoryKiBAtBoot)} KiB free |`,
    `| start of one VM, averaged over the ${fmt(s.vms)} (kernel: \`bench vm-start\`) | ${fmt(s.vmStartInstructions)} instructions |`,
    `| memory per VM at its peak (page tables + peak private frames, demand-zero stack and data included) | ${kib(s.peakBytesPerVm)} (private frames peak ${fmt(s.peakPrivateFrames)}) |`,
    `| CPU per VM (kernel's accounting, kcycles = thousands of instructions) | min ${fmt(s.vmKcycles.min)}, median ${fmt(s.vmKcycles.median)}, max ${fmt(s.vmKcycles.max)} |`,
    `| VM switches in all | ${fmt(s.switches)} |`,
    `| host time: boot ok -> all ${fmt(s.vms)} created | ${fmt(s.hostMs.bootToCreated)} ms |`,
    `| host time: created -> all finished (\`vms done\`) | ${fmt(s.hostMs.createdToDone)} ms |`,
    `| host time: whole QEMU run | ${fmt(s.hostMs.qemuTotal)} ms |`,
    '',
    'Host times are QEMU (TCG, -icount) on the machine that ran the bench, not a real CPU; the run after `vms done` is the kernel printing one summary line per VM.',
    '',
    `Idle VMs use no CPU: ${fmt(i.vms)} worker counters (${i.rounds} rounds each of setAlarm ${i.alarmMs} ms + idle + acknowledge, so each lives at least ${i.rounds * i.alarmMs} ms) beside one computing VM, under -icount; CPU per VM from the kernel's summary:`,
    '',
    '| VM | kcycles (thousands of instructions) | switches |',
    '|---|---|---|',
    `| the computing VM | ${fmt(i.computeKcycles)} | ${fmt(i.computeSwitches)} |`,
    `| each idling counter | min ${fmt(i.counterKcycles.min)}, median ${fmt(i.counterKcycles.median)}, max ${fmt(i.counterKcycles.max)} (${i.kcyclesPerRound} per alarm round) | min ${i.counterSwitches.min}, median ${i.counterSwitches.median}, max ${i.counterSwitches.max} |`,
    `| all ${fmt(i.vms)} counters together | ${fmt(i.counterKcycles.sum)} | ${fmt(i.summary.switches)} switches in the whole run |`,
    '',
    `A counter is charged ${fmt(i.counterKcycles.median)} kcycles (${(i.counterKcycles.median / (i.rounds * i.alarmMs * 1000) * 100).toFixed(2)}% of the ${fmt(i.rounds * i.alarmMs * 1000)} kcycles that ${i.rounds * i.alarmMs} ms are at the 1 GHz -icount clock): ` +
      `its hypercalls (setAlarm, idle, acknowledge per round) and its ${i.rounds + 1} switches in; the time it waits costs nothing (an idle VM is on no queue). ` +
      `${i.countersAboveTwiceMedian.length} counters are charged more than twice the median (VMs ${i.countersAboveTwiceMedian.join(', ')}): the kernel charges a VM from its switch in to its switch out, so a timer tick that expires many other VMs' alarms while it runs is counted as its time.`,
    '',
    'The scheduler\'s cost per switch (stride scheduling, a binary heap of the runnable VMs: `-append "bench '
      + 'scheduler=timed"` times each switch-out: the leaving VM charged and saved, put back in the heap, the next '
      + 'picked and switched in), VMs that yield forever beside a stopper, under -icount:',
    '',
    '| runnable VMs | instructions per switch-out | picks (switches in) |',
    '|---|---|---|',
    ...r.decision.map(d => `| ${fmt(d.runnable)} | ${fmt(d.instructionsPerSwitchOut)} | ${fmt(d.picks)} |`),
    '',
    `Start of a pushed VM: the worker image pushed to the control VM (POST /images), then ${r.push.runs.length} `
      + 'single VMs started from it (POST /vms), under -icount; instructions from the control VM having the '
      + 'request\'s head (before its HMAC-SHA256 is checked) to the first thing the new VM\'s image does: '
      + `**${fmt(r.push.median)}** (median; runs ${r.push.runs.map(fmt).join(', ')}).`,
    '',
    ...bytecodeMarkdown(r, fmt),
  ].join('\n');
}

/** The bytecode column (step 6): hardware and bytecode side by side. */
function bytecodeMarkdown(r: Result, fmt: (n: number) => string): string[] {
  const b = r.bytecode, s = b.scale;
  const hardwareStart = r.scale.vmStartInstructions, hardwareBytes = r.scale.creation.bytesPerVm;
  const row = (what: string, hardware: number, bytecode: number) =>
    `| ${what} | ${fmt(hardware)} | ${fmt(bytecode)} | ${(bytecode / hardware).toFixed(1)} |`;
  return [
    'Bytecode VMs (issue 18, docs/bytecode.md "Bytecode VMs"): the same figures for VMs run by the in-kernel '
      + 'interpreter, under -icount, identical on two runs. The pair\'s costs are those of two VMs of '
      + '`test/kernel/guests/bench.ts` (the same bench code as the worker\'s mode 5, interpreted: a guest\'s '
      + 'loop and the call of its hypercall included, as natively); the start and the bytes per VM those of '
      + `${fmt(s.vms)} counter demos as bytecode VMs of ${s.vmMemoryKiB} KiB in \`-m ${s.memoryMiB}\` (below; `
      + `the hardware column: the scale run above, ${fmt(r.scale.vms)} VMs). The host cycles are the same boots `
      + 'without -icount, as above: a bytecode hypercall is a call, a hardware one `int 0x80` and `iret`, which '
      + 'cost many times an instruction (in QEMU as on a real CPU), so the two kinds compare there too.',
    '',
    '| what | hardware | bytecode | ratio |',
    '|---|---|---|---|',
    ...(['hypercall-null', 'vm-switch', 'vinterrupt-batch-round-trip'] as const)
      .map(n => row(`${n} (instructions)`, r.costs[n], b.costs[n])),
    ...(['hypercall-null', 'vm-switch', 'vinterrupt-batch-round-trip'] as const)
      .map(n => row(`${n} (host cycles in real time, median of 3)`, r.realtime[n], b.realtime[n])),
    row(`vm-start, the pair's VMs (instructions; bytecode: ${b.pairMemoryKiB} KiB each)`, r.costs['vm-start'],
      b.costs['vm-start']),
    row(`vm-start, one of the counter demos of ${s.vmMemoryKiB} KiB (instructions)`, hardwareStart,
      s.vmStartInstructions),
    row('memory per VM at creation (bytes)', hardwareBytes, s.creation.bytesPerVm),
    row('memory per VM at its peak (bytes)', r.scale.peakBytesPerVm, s.peakBytesPerVm),
    '',
    `Bytecode scale: ${fmt(s.vms)} VMs of \`guest-src/demos/counter.ts\` as bytecode VMs (${s.vmMemoryKiB} KiB of `
      + `memory each, \`guaranteedKiB\` ${s.guaranteedKiB}, 1 round: a 10 ms alarm, idle, print, exit) in `
      + `\`-m ${s.memoryMiB}\` under -icount; every one printed \`done\` and exited 0.`,
    '',
    '| what | figure |',
    '|---|---|',
    `| memory per VM at creation (kernel: "bytes per VM") | ${fmt(s.creation.bytesPerVm)} bytes: its kernel frame `
      + `(page map, interpreter area); ${fmt(s.creation.privateFrames)} private frames, `
      + `${fmt(s.creation.pageTableFrames)} page-table frames; plus its ${s.slotBytes}-byte slot in the VM table |`,
    `| memory for all at creation | ${fmt(s.creation.memoryKiB)} KiB of ${fmt(s.freeMemoryKiBAtBoot)} KiB free |`,
    `| memory per VM at its peak (kernel frame + peak private frames) | ${fmt(s.peakBytesPerVm)} bytes `
      + `(private frames peak ${fmt(s.peakPrivateFrames)}: one page each: the top of its stack, its boot information `
      + 'and its data) |',
    `| start of one VM, averaged (kernel: \`bench vm-start\`) | ${fmt(s.vmStartInstructions)} instructions |`,
    `| CPU per VM, median (kcycles) | ${fmt(s.vmKcyclesMedian)} (hardware: ${fmt(r.scale.vmKcycles.median)}) |`,
    `| VM switches in all | ${fmt(s.switches)} |`,
    `| host time: boot ok -> all ${fmt(s.vms)} created | ${fmt(s.hostMs.bootToCreated)} ms |`,
    `| host time: created -> all finished (\`vms done\`) | ${fmt(s.hostMs.createdToDone)} ms |`,
    `| host time: whole QEMU run | ${fmt(s.hostMs.qemuTotal)} ms |`,
    '',
    'A bytecode VM has no page directory and no page tables (kernel-src/linear.ts, docs/bytecode.md "Memory"): '
      + 'its pages are in a page map in its kernel frame and demand-zero, and its boot information lies between '
      + 'its stack and its data, so a counter touches one page of its memory; its boot page is made at its first '
      + 'slice. A hardware VM at creation holds its page directory, a page table and its boot page.',
    '',
  ];
}

main().then(code => { process.exitCode = code; }, e => { console.error(e instanceof Error ? e.stack ?? e.message : e); process.exitCode = 1; });
