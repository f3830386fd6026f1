// Contract: `denali debug` (tools/debug.ts, docs/debugging.md) with gdb in batch mode against the booted
// kernel (QEMU under -icount: every run stops at the same place with the same values):
// - a breakpoint by TypeScript file and line in the kernel's hypercall code stops there when a guest makes
//   a hypercall; `bt` names the TypeScript functions and files from the handler through the dispatcher to
//   the interrupt entry; `info locals`, `info args` and `print` show values that agree with the trap frame
//   (the hypercall number is the guest's eax, console write's length its ecx); `next` steps to the next line;
// - with --vm N a breakpoint in a guest (guest-src/apps/httpd.ts) stops in VM N only, with the guest's
//   functions, lines and locals (the port it listens on); denali-vms prints the VM table, denali-vm shows
//   another VM's saved registers and switches gdb to it, denali-back returns.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/build.ts';
import { missingTool } from '../../tools/doctor.ts';
import { HYPERCALL_CONSOLE_WRITE, HYPERCALL_COUNT } from '../../abi/hypercalls.ts';

const HYPERCALL = join(ROOT, 'kernel-src', 'hypercall.ts');
const HTTPD = join(ROOT, 'guest-src', 'apps', 'httpd.ts');

/**
 * The 1-based line of `file` that contains `text`: exactly one, or with `after`, the first one below the line
 * holding `after` (a function's header).
 */
function lineOf(file: string, text: string, after?: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const from = after === undefined ? 0 : lines.findIndex(l => l.includes(after));
  let found = lines.flatMap((l, i) => (i >= from && l.includes(text) ? [i + 1] : []));
  if (after !== undefined && from >= 0) found = found.slice(0, 1);
  if (found.length !== 1) throw new Error(`${file}: ${found.length} lines contain '${text}'`);
  return found[0];
}

let dir: string;
test.before(() => { dir = mkdtempSync(join(tmpdir(), 'denali-debug-test-')); });
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `denali debug ARGS` with gdb in batch mode on `commands`; gdb's output. */
function debug(t: import('ava').ExecutionContext, args: string[], commands: string[]): string {
  const file = join(dir, `${t.title.replace(/\W+/g, '-')}.gdb`);
  writeFileSync(file, commands.join('\n') + '\n');
  const r = spawnSync(process.execPath, [join(ROOT, 'tools', 'denali.mjs'), 'debug', ...args, '--commands', file],
    { encoding: 'utf8', cwd: ROOT, timeout: 240_000 });
  t.is(r.status, 0, r.stderr);
  t.log(r.stdout);
  return r.stdout;
}

const skip = missingTool('gdb') ?? missingTool('qemu-system-i386');

test.serial('kernel: break by file:line in a hypercall, bt to the interrupt entry, locals, print, next', t => {
  if (skip) { t.log(skip); t.pass(); return; }
  const write = lineOf(HYPERCALL, 'if (!vmRangeValid(vmAt(u32(index)), frame.ebx, frame.ecx)) return EFAULT;');
  // The gate's dispatch (hypercallDirect, bytecode VMs' path, has the same line further down).
  const dispatch = lineOf(HYPERCALL, 'const result = number < HYPERCALL_COUNT ? hypercallTable[number](index, frame)',
    'function hypercallEntry(');
  const out = debug(t, ['--manifest', join(ROOT, 'manifests', 'demo.json')], [
    `break kernel-src/hypercall.ts:${dispatch}`,
    'continue',
    'info locals',
    'print number',
    'print frame.eax',
    'next',
    'delete',
    `break kernel-src/hypercall.ts:${write}`,
    'continue',
    'bt',
    'info args',
    'print frame.ecx',
    'print/x frame.eax',
    'next',
    'denali-vms',
  ]);
  // the dispatcher: number is the guest's eax, a hypercall number
  const at = (line: number) => `at \\S*kernel-src/hypercall\\.ts:${line}`;
  t.regex(out, new RegExp(`Breakpoint 1, hypercallEntry \\(frameAddress=\\d+\\) ${at(dispatch)}`));
  const number = Number(/^number = (\d+)$/m.exec(out)?.[1]);
  t.true(number >= 0 && number < HYPERCALL_COUNT, `number = ${number}`);
  const same = new RegExp(`^\\$1 = ${number}\\n\\$2 = ${number}$`, 'm');
  t.regex(out, same, 'print number and the trap frame\'s eax agree');
  t.regex(out, new RegExp(`^${dispatch + 1}\\s+frame\\.eax = u32\\(result\\);`, 'm'), 'next: the following line');
  // a handler: the backtrace from it through the dispatcher to the interrupt entry, with files and lines
  t.regex(out, new RegExp(`Breakpoint 2, callConsoleWrite \\(index=\\d+, frame=0x[0-9a-f]+.*\\) ${at(write)}`));
  t.regex(out, new RegExp(`^#0  callConsoleWrite \\(.*\\) ${at(write)}$`, 'm'));
  t.regex(out, new RegExp(`^#1  0x[0-9a-f]+ in hypercallEntry \\(.*\\) ${at(dispatch)}$`, 'm'));
  // the demos' calls come by `sysenter` (abi/hypercalls.ts): its entry stub
  t.regex(out, /^#2 {2}0x[0-9a-f]+ in __sysenter_hypercallEntry \(\) at \S*kernel-src\/hypercall\.ts:\d+$/m);
  t.regex(out, /^index = \d+\nframe = 0x[0-9a-f]+/m, 'info args');
  const length = Number(/^\$3 = (\d+)$/m.exec(out)?.[1]);
  t.true(length > 0 && length < 4096, `console write of ${length} bytes`);
  t.regex(out, new RegExp(`^\\$4 = 0x${HYPERCALL_CONSOLE_WRITE.toString(16)}$`, 'm'), 'console write\'s number in eax');
  t.regex(out, new RegExp(`^${write + 1}\\s+return consoleGuestWrite`, 'm'), 'next: the return line');
  t.regex(out, /^7 VMs, current \d\n(vm \d: state \d+ image [0-2] eip 0x4000[0-9a-f]{4} .*\n){7}/m, 'denali-vms');
});

test.serial('guest: --vm 1 stops in VM 1 only, in httpd.ts, with its locals; denali-vm switches to VM 0', t => {
  if (skip) { t.log(skip); t.pass(); return; }
  const manifest = join(dir, 'httpd.json');
  writeFileSync(manifest, JSON.stringify({ groups: [{ image: HTTPD, count: 2, memoryKiB: 1024 }] }));
  const listen = lineOf(HTTPD, 'listener = socketListen(port, BACKLOG);');
  const out = debug(t, ['--manifest', manifest, '--vm', '1'], [
    `denali-break guest-src/apps/httpd.ts:${listen}`,
    'continue',
    'denali-current',
    'bt',
    'info locals',
    'print port',
    'next',
    'denali-vm 0',
    'bt 1',
    'denali-back',
    'bt 1',
  ]);
  const at = (line: number) => `at \\S*guest-src/apps/httpd\\.ts:${line}`;
  t.regex(out, new RegExp(`Breakpoint 1, guestMain \\(magic=.*, bootInfo=.*\\) ${at(listen)}`));
  t.regex(out, /^current vm: 1$/m, 'the breakpoint stopped in VM 1, not VM 0 (which ran first)');
  t.regex(out, new RegExp(`^#0  guestMain \\(.*\\) ${at(listen)}$`, 'm'));
  t.regex(out, /^#1 {2}0x4[0-9a-f]+ in __start \(.*\) at \S*guest-src\/apps\/httpd\.ts:\d+$/m);
  t.regex(out, /^port = 80$/m, 'info locals');
  t.regex(out, /^\$1 = 80$/m, 'print port');
  t.regex(out, new RegExp(`^${listen + 1}\\s+if \\(listener < 0\\)`, 'm'), 'next: the following line');
  t.regex(out, /^vm 0: state \d+, cr3 0x[0-9a-f]+, saved registers \(its trap frame\):\n\$2 = \{gs = /m);
  t.regex(out, /gdb now looks at vm 0/);
  const frames = [...out.matchAll(/^#0 {2}(.*)$/gm)].map(m => m[1]);
  t.true(frames.length >= 3, frames.join('\n'));
  t.notRegex(frames[frames.length - 2], /httpd\.ts:\d+$/, 'vm 0 is elsewhere (in the kernel\'s view of its frame)');
  t.regex(frames[frames.length - 1], new RegExp(`httpd\\.ts:${listen + 1}$`), 'denali-back: vm 1 again');
});
