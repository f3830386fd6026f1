// npm run bench:trace — where the instructions of one kernel path go, function by function (issue 16).
//
// bench:vm gives each path's total under -icount; this shows its parts. It boots the bench:vm setup
// (kernel -O2, two worker VMs in bench mode, -icount) with QEMU's gdb stub stopped at reset, and gdb
// (Debian's) breaks at the entry stub of vector 0x80 when the hypercall wanted is made, skips the
// first few such calls (warm paths only), then single-steps (QEMU masks interrupts while stepping)
// until the CPU is back in ring 3: every instruction executed from the stub to the iret, in order.
// The addresses are mapped to functions with the kernel's listing (out/*.lst's "; ---- NAME @ ADDR").
//
// Paths (--path):
//   hypercall  interruptAcknowledge(0) from VM 0's hypercall-null loop (bench:vm's hypercall-null)
//   yield      a yield from VM 0's vm-switch loop to VM 1 (one VM switch: bench:vm's vm-switch)
//   wake       a yield of VM 0 to VM 1 blocked in idle with a frame pending (the wake-up of an idle VM)
// Prints the total and the instructions per function, most first; --list prints every address.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, execFileSync } from 'node:child_process';
import { buildKernel } from '../tools/build.ts';
import { Progress } from '../tools/progress.ts';
import { qemuArgs } from '../tools/qemu.ts';
import { buildTestGuest, writeManifest, workerArgument, MODE } from '../test/kernel/guests/build.ts';
import { HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD } from '../abi/hypercalls.ts';

interface Path { eax: number; ebx?: number; skip: number; what: string }
// The worker's bench (test/kernel/guests/worker.ts): VM 0 makes 1,000 acknowledges, then 1,000 yields
// (VM 1 yields back), then 1,000 rounds of netSend + yield to VM 1 idling. Skips choose a call inside
// the wanted loop: yields 0..999 of VM 0 are the switch loop (VM 1's 1,000 yields interleave).
const PATHS: Record<string, Path> = {
  hypercall: {
    eax: HYPERCALL_INTERRUPT_ACKNOWLEDGE, ebx: 0, skip: 500, what: 'null hypercall (interruptAcknowledge(0))',
  },
  yield: { eax: HYPERCALL_YIELD, skip: 500, what: 'VM switch (yield to the partner VM)' },
  wake: { eax: HYPERCALL_YIELD, skip: 2500, what: 'yield to a partner VM idle with a frame pending (wake-up)' },
};

function functionsOf(listing: string): { start: number; name: string }[] {
  const out = [...listing.matchAll(/^; ---- (\S+) @ ([0-9A-F]{8}) size (\d+)/gm)]
    .map(m => ({ start: parseInt(m[2], 16), name: m[1] }));
  return out.sort((a, b) => a.start - b.start);
}

function nameAt(functions: { start: number; name: string }[], pc: number): string {
  let lo = 0, hi = functions.length - 1, found = '?';
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (functions[mid].start <= pc) { found = functions[mid].name; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const pathName = args.includes('--path') ? args[args.indexOf('--path') + 1] : 'hypercall';
  const path = PATHS[pathName];
  if (!path) { console.error(`bench:trace: --path must be one of ${Object.keys(PATHS).join(', ')}`); return 2; }
  const dir = mkdtempSync(join(tmpdir(), 'denali-trace-'));
  const progress = new Progress('bench:trace', 2);
  try {
    progress.update(0, 'building the kernel and the worker');
    const kernel = buildKernel(2, dir, dir);
    const worker = buildTestGuest('worker', dir);
    const manifest = writeManifest(dir, 'bench',
      [{ moduleIndex: 0, vmCount: 2, memoryKiB: 64, argument: workerArgument(MODE.bench) }]);
    const listing = readFileSync(kernel.listingPath, 'utf8');
    const functions = functionsOf(listing);
    // the `sysenter` stub the worker's calls come by (hypercall.ts), else vector 0x80's own, else the general one
    const stub = functions.find(f => f.name === '__sysenter_hypercallEntry')
      ?? functions.find(f => f.name === '__interrupt_128_hypercallEntry')
      ?? functions.find(f => f.name === '__interrupt_128_trapHandler');
    if (!stub) throw new Error('bench:trace: no hypercall entry stub in the listing');
    const port = 20000 + (process.pid % 20000);
    const condition = `$eax == ${path.eax}` + (path.ebx !== undefined ? ` && $ebx == ${path.ebx}` : '');
    const script = join(dir, 'trace.gdb');
    writeFileSync(script, [
      'set pagination off', 'set confirm off', `target remote :${port}`,
      `break *0x${stub.start.toString(16)} if ${condition}`, `ignore 1 ${path.skip}`, 'continue', 'delete',
      'set $n = 0',
      'while (($cs & 3) == 0)', '  printf "pc %x\\n", $pc', '  stepi', '  set $n = $n + 1', 'end',
      'printf "steps %d\\n", $n', 'kill', 'quit', '',
    ].join('\n'));
    const qemu = spawn('qemu-system-i386', [
      ...qemuArgs({ kernel: kernel.elfPath, initrd: [worker, manifest] },
        { icount: true, memoryMiB: 64, extraArgs: ['-append', 'bench'] }, join(dir, 'com1.txt')),
      '-S', '-gdb', `tcp::${port}`,
    ], { stdio: 'ignore' });
    try {
      progress.update(1, `gdb single-steps ${path.what}`);
      await new Promise(r => setTimeout(r, 500));
      const out = execFileSync('gdb', ['-nx', '-batch', '-x', script, kernel.elfPath],
        { encoding: 'utf8', maxBuffer: 1 << 28 });
      const pcs = [...out.matchAll(/^pc ([0-9a-f]+)$/gm)].map(m => parseInt(m[1], 16));
      if (pcs.length === 0) throw new Error(`bench:trace: gdb traced nothing:\n${out.slice(-2000)}`);
      const byFunction = new Map<string, number>();
      for (const pc of pcs) {
        const n = nameAt(functions, pc);
        byFunction.set(n, (byFunction.get(n) ?? 0) + 1);
      }
      if (args.includes('--list')) {
        for (const pc of pcs) console.log(`${pc.toString(16).padStart(8, '0')} ${nameAt(functions, pc)}`);
      }
      console.log(`${path.what}: ${pcs.length} instructions from the entry stub to the iret into ring 3`
        + ' (the sysenter or int itself not counted)');
      const ranked = [...byFunction].sort((a, b) => b[1] - a[1]);
      for (const [name, n] of ranked) console.log(`${String(n).padStart(6)}  ${name}`);
      progress.finish(`${pcs.length} instructions traced`);
      return 0;
    } finally { qemu.kill('SIGKILL'); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

process.exit(await main());
