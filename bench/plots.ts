// Contract: the picture of each bench, drawn from its results file alone (bench/results/NAME.json as the
// bench wrote it) with bench/plot.ts's one implementation, so that a bench writes NAME.png beside its table
// (writeBenchPlot, after the JSON) and a test draws every committed result without running a bench:
//   compiler  milliseconds per phase, the kernel and the corpus
//   codegen   instructions per program relative to gcc -O2 (our -O0 and -O2, the interpreter); gcc dashed at 1
//   kernel    instructions of each kernel path
//   vm        instructions of each VM cost (null hypercall, VM switch, interrupt batch, VM start)
//   net       instructions per stage of receiving one packet, 100 and 1400 bytes (the paper's Figure 2)
//   swap      instructions per page written out and read back, under -icount and in real time
//   request   instructions per web request by part, kernel and guest, at each VM count
//   web       requests/s against VMs, bench/web.ts's own webPlot (the paper's Figure 3)
//   relay     MB/s of a TCP echo through a wire that delays, reorders and duplicates, Denali/TS and Linux
// Reads the fields it draws and nothing else: a results file stays what its bench defines.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../tools/build.ts';
import { plotBars, type Rgb } from './plot.ts';
import { STAGES } from './net.ts';
import { webPlot, type WebPoint } from './web.ts';

const RESULTS = join(ROOT, 'bench', 'results');
const PALETTE: Rgb[] = [[200, 40, 40], [30, 90, 200], [40, 140, 40], [200, 130, 20]];
const GREY: Rgb = [90, 90, 90];

type Json = Record<string, unknown>;
const at = (json: unknown, ...path: string[]): Json => path.reduce((o, k) => (o as Json)[k], json) as Json;
const commitOf = (json: Json) => (typeof json.commit === 'string' ? `, commit ${json.commit.split(' ')[0]}` : '');

/** Grouped bars of `rows` (category -> a value per series), a series a colour of the palette. */
function bars(title: string, valueLabel: string, seriesLabels: string[], rows: [string, number[]][],
  references?: { label: string; value: number }[]): Buffer {
  return plotBars({
    title, valueLabel, categories: rows.map(([category]) => category),
    series: seriesLabels.map((label, j) => ({ label, color: PALETTE[j], values: rows.map(([, v]) => v[j]) })),
    references: references?.map(r => ({ ...r, color: GREY })),
  });
}

interface CompilerRow { name: string; phases: Record<string, number> }
interface CodegenProgram { name: string; instructions: Record<'O0' | 'O2' | 'gcc' | 'interp', number> }
interface RequestPoint { vms: number; kernel: Record<string, number>; guest: Record<string, number> }

const BENCH_PLOTS = {
  compiler: (json: Json) => {
    const rows = json.rows as CompilerRow[];
    const phases = [...new Set(rows.flatMap(r => Object.keys(r.phases)))];
    return bars('Compiler time by phase', 'milliseconds', rows.map(r => r.name),
      phases.map(p => [p, rows.map(r => r.phases[p] ?? 0)]));
  },
  codegen: (json: Json) => {
    const programs = json.programs as CodegenProgram[];
    const ratio = (p: CodegenProgram, k: 'O0' | 'O2' | 'interp') =>
      Math.round(p.instructions[k] / p.instructions.gcc * 100) / 100;
    return bars(`Instructions relative to gcc -O2${commitOf(json)}`, 'instructions / gcc -O2 instructions',
      ['ours -O0', 'ours -O2', 'interpreter (bytecode ops)'],
      programs.map(p => [p.name, [ratio(p, 'O0'), ratio(p, 'O2'), ratio(p, 'interp')]]),
      [{ label: 'gcc -O2', value: 1 }]);
  },
  kernel: (json: Json) => {
    // tsc-khz and tsc-per-pit-tick are the clock's calibration, not costs.
    const costs = Object.entries(at(json, 'bench') as Record<string, number>)
      .filter(([name]) => !name.startsWith('tsc-'));
    return bars(`Kernel paths under -icount${commitOf(json)}`, 'instructions', ['instructions'],
      costs.map(([name, n]) => [name, [n]]));
  },
  vm: (json: Json) => {
    const bytecode = (json.bytecode as { costs?: Record<string, number> } | undefined)?.costs ?? {};
    return bars(`VM costs under -icount${commitOf(json)}`, 'instructions', ['hardware VM', 'bytecode VM'],
      Object.entries(at(json, 'costs') as Record<string, number>).map(([name, n]) => [name, [n, bytecode[name] ?? 0]]));
  },
  net: (json: Json) => {
    const figures = at(json, 'figures') as Record<string, Record<string, number>>;
    const sizes = Object.keys(figures);
    return bars(`Receiving one UDP packet, by stage${commitOf(json)}`, 'instructions',
      sizes.map(s => `${s}-byte frame`),
      STAGES.map(stage => [stage, sizes.map(s => figures[s][stage])]));
  },
  swap: (json: Json) => {
    const runs = [['icount', '-icount (instructions)'], ['realTime', 'real time (TSC cycles)']] as const;
    const perPage = (key: 'outPerPage' | 'inPerPage') => runs.map(([run]) => at(json, run)[key] as number);
    return bars(`Swapping, per 4 KiB page${commitOf(json)}`, 'instructions or cycles per page',
      runs.map(([, label]) => label), [['written out', perPage('outPerPage')], ['read back', perPage('inPerPage')]]);
  },
  request: (json: Json) => {
    const points = json.points as RequestPoint[];
    const parts = [...new Set(points.flatMap(p => [...Object.keys(p.kernel).map(k => `kernel ${k}`),
      ...Object.keys(p.guest).map(g => `guest ${g}`)]))];
    const value = (p: RequestPoint, part: string) => {
      const [side, name] = part.split(' ');
      return (side === 'kernel' ? p.kernel : p.guest)[name] ?? 0;
    };
    return bars(`Instructions per web request${commitOf(json)}`, 'instructions per request',
      points.map(p => `${p.vms.toLocaleString('en-US')} VMs`),
      parts.map(part => [part, points.map(p => value(p, part))]));
  },
  web: (json: Json) => webPlot(json.points as WebPoint[], `qemu-system-i386 TCG${commitOf(json)}`),
  relay: (json: Json) => {
    const points = json.points as { system: string; wire: string; mbs: number }[];
    const wires = [...new Set(points.map(p => p.wire))];
    const mbs = (system: string, wire: string) => points.find(p => p.system === system && p.wire === wire)?.mbs ?? 0;
    return bars(`10 MiB TCP echo through the relay${commitOf(json)}`, 'MB/s (both directions)',
      ['Denali/TS echo VM', 'Linux to Linux'], wires.map(w => [w, [mbs('denali', w), mbs('linux', w)]]));
  },
};

type BenchName = keyof typeof BENCH_PLOTS;
export const BENCH_NAMES = Object.keys(BENCH_PLOTS) as BenchName[];

/** The PNG of bench `name` from a results file (bench/results/NAME.json unless given). */
export function benchPlot(name: BenchName, resultsFile = join(RESULTS, `${name}.json`)): Buffer {
  return BENCH_PLOTS[name](JSON.parse(readFileSync(resultsFile, 'utf8')));
}

/** Writes bench/results/NAME.png from bench/results/NAME.json; returns its path for the bench's last line. */
export function writeBenchPlot(name: BenchName): string {
  const file = join(RESULTS, `${name}.png`);
  writeFileSync(file, benchPlot(name));
  return file;
}
