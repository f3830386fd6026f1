// Contract: the DWARF of the images (compiler/link/dwarf.ts), read back by Debian's binutils:
// - `readelf --debug-dump=info,line,frames,loc,ranges` on the kernel, a guest and a program at -O0 reports
//   no error or warning, nor does `objdump --dwarf=decodedline`;
// - every function of the kernel (every FUNC symbol: DSL functions, _start, interrupt entries) has a
//   subprogram DIE at its address, a line row at its first instruction, and an FDE covering it;
// - the debug sections are never loaded: no SHF_ALLOC, outside every PT_LOAD, and the loaded bytes are
//   those the linker placed (the symbols' addresses and the sections' sizes are unchanged by them);
// - types and locations: the kernel's TrapFrame is a structure with its fields at their offsets;
//   hypercallEntry's parameter is in its incoming word, then in the register the allocator gave it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildKernel, buildGuest, compileOrThrow, programImage, ROOT, type BuiltImage } from '../../tools/build.ts';
import { missingTool } from '../../tools/doctor.ts';

let dir: string, kernel: BuiltImage, guest: BuiltImage, programO0: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'denali-dwarf-'));
  kernel = buildKernel(2, dir, dir);
  guest = buildGuest('counter', join(ROOT, 'guest-src', 'demos', 'counter.ts'), 2, dir, dir);
  // -O0: every function keeps its frame pointer (push ebp; mov ebp, esp; leave), every value a frame home
  const program = compileOrThrow({ files: [join(ROOT, 'test', 'programs', 'symbol-table.ts')], optimize: 0 });
  programO0 = join(dir, 'program-O0.elf');
  writeFileSync(programO0, programImage(program, 0).elf);
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const run = (tool: string, ...args: string[]) => spawnSync(tool, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
const skip = missingTool('readelf') ?? missingTool('objdump');

test('readelf and objdump read the DWARF of the kernel, a guest, an -O0 program without a warning', t => {
  if (skip) { t.log(skip); t.pass(); return; }
  for (const elf of [kernel.elfPath, guest.elfPath, programO0]) {
    const dump = run('readelf', '--debug-dump=info,line,frames,loc,ranges', elf);
    t.is(dump.status, 0, elf);
    t.is(dump.stderr, '', `${elf}: readelf says nothing on stderr`);
    t.notRegex(dump.stdout, /^readelf: (warning|error)/im, elf);
    t.regex(dump.stdout, /DW_TAG_compile_unit/);
    const lines = run('objdump', '--dwarf=decodedline', elf);
    t.is(lines.status, 0);
    t.is(lines.stderr, '', `${elf}: objdump says nothing on stderr`);
  }
});

test('every function of the kernel has a DIE at its address, a line row at its start and an FDE', t => {
  if (skip) { t.log(skip); t.pass(); return; }
  const info = run('readelf', '--debug-dump=info', kernel.elfPath).stdout;
  const dies = new Map<string, number>(); // subprogram name -> low_pc
  for (const die of info.split(/\n(?= <\d+><[0-9a-f]+>)/)) {
    if (!/\(DW_TAG_subprogram\)/.test(die)) continue;
    const name = /DW_AT_name\s+:.*?: (\S+)\s*$/m.exec(die)?.[1] ?? /DW_AT_name\s+:\s+(\S+)/.exec(die)?.[1];
    const low = /DW_AT_low_pc\s+:\s+0x([0-9a-f]+)/.exec(die)?.[1];
    if (name && low) dies.set(name, parseInt(low, 16));
  }
  const rows = new Set<number>();
  for (const m of run('objdump', '--dwarf=decodedline', kernel.elfPath).stdout.matchAll(/\s(0x[0-9a-f]+)\s/g)) {
    rows.add(parseInt(m[1], 16));
  }
  const fdes: [number, number][] = [];
  const frames = run('readelf', '--debug-dump=frames', kernel.elfPath).stdout;
  for (const m of frames.matchAll(/FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/g)) {
    fdes.push([parseInt(m[1], 16), parseInt(m[2], 16)]);
  }
  const functions = [...kernel.image.symbols].filter(([name, s]) => s.address >= kernel.image.textAddress
    && s.address < kernel.image.textAddress + kernel.image.textSize && s.size > 0 && name !== '__multiboot_header');
  t.true(functions.length > 400, `${functions.length} functions`);
  const missing = functions.flatMap(([name, s]) => [
    ...(dies.get(name) === s.address ? [] : [`${name}: no DIE at 0x${s.address.toString(16)}`]),
    ...(rows.has(s.address) ? [] : [`${name}: no line row at its start`]),
    ...(fdes.some(([low, high]) => low === s.address && high === s.address + s.size) ? [] : [`${name}: no FDE`]),
  ]);
  t.deepEqual(missing, []);
});

test('the debug sections are never loaded and leave the loaded image as the linker laid it out', t => {
  if (skip) { t.log(skip); t.pass(); return; }
  const sections = run('readelf', '-S', '-W', kernel.elfPath).stdout;
  const header = /\]\s+(\.debug_\w+)\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+(\S*)\s/g;
  const debug = [...sections.matchAll(header)];
  t.deepEqual(debug.map(m => m[1]).sort(),
    ['.debug_abbrev', '.debug_frame', '.debug_info', '.debug_line', '.debug_loc', '.debug_ranges', '.debug_str']);
  const segments = run('readelf', '-l', '-W', kernel.elfPath).stdout;
  const loads = [...segments.matchAll(/LOAD\s+0x([0-9a-f]+) \S+ \S+ 0x([0-9a-f]+)/g)]
    .map(m => [parseInt(m[1], 16), parseInt(m[1], 16) + parseInt(m[2], 16)]);
  t.is(loads.length, 3, 'text, rodata, data+bss');
  for (const [, name, address, offset, size, flags] of debug) {
    t.is(parseInt(address, 16), 0, `${name} has no address`);
    t.false(flags.includes('A'), `${name} is not SHF_ALLOC`);
    const start = parseInt(offset, 16), end = start + parseInt(size, 16);
    t.true(loads.every(([low, high]) => end <= low || start >= high), `${name} lies outside every PT_LOAD`);
  }
  for (const s of kernel.image.sections) {
    const placed = `\\${s.name}\\s+\\w+\\s+0*${s.address.toString(16)} [0-9a-f]+ 0*${s.size.toString(16)} `;
    t.regex(sections, new RegExp(placed), `${s.name} where the linker put it`);
  }
});

test('TrapFrame is a structure of u32 fields at their offsets; a parameter on the stack, then in a register', t => {
  const noGdb = missingTool('gdb');
  if (noGdb) { t.log(noGdb); t.pass(); return; }
  const r = run('gdb', '-batch', '-nx', '-ex', 'ptype struct TrapFrame', '-ex', 'print &((struct TrapFrame *)0)->eip',
    '-ex', 'info scope hypercallEntry', '-ex', 'whatis frameAddress', kernel.elfPath);
  t.regex(r.stdout, /type = struct TrapFrame \{\n\s+u32 gs;\n\s+u32 fs;/);
  t.regex(r.stdout, /\(u32 \*\) 0x38/, 'eip at 56: after 4 segments, 8 pushad words, vector and error code');
  const range = 'Range 0x[0-9a-f]+-0x[0-9a-f]+';
  t.regex(r.stdout, new RegExp(`Symbol frameAddress is multi-location:\\n\\s+${range}: a complex DWARF expression:\\n`
    + '\\s+0: DW_OP_fbreg 0'), 'the argument in its incoming word until the prologue loads it');
  t.regex(r.stdout, /Range 0x[0-9a-f]+-0x[0-9a-f]+: a variable in \$e[a-d]x|\$e[sd]i|\$ebp/, 'then in a register');
});
