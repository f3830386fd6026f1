// The compiler pipeline, top to bottom: each line one phase or pass (QBE's func() is the model).
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type * as ir from './ir.ts';
import { loadProgram } from './frontend/load.ts';
import { checkSubset } from './frontend/subset.ts';
import { lowerProgram, type LoweringObserver } from './frontend/lower.ts';
import type { Diagnostic } from './frontend/diagnostics.ts';
import { verifyModule } from './verify.ts';
import { foldConstants } from './passes/fold.ts';
import { simplifyCfg } from './passes/simplify-cfg.ts';
import { eliminateDeadCode, removeUnusedFunctions } from './passes/dce.ts';
import { propagateCopies } from './passes/copy-propagation.ts';
import { eliminateCommonSubexpressions } from './passes/cse.ts';
import { reduceStrength } from './passes/strength-reduction.ts';
import { divideByMagic } from './passes/magic-division.ts';
import { inlineSmallFunctions } from './passes/inline.ts';
import { hoistLoopInvariants } from './passes/licm.ts';
import { fuseCopies } from './passes/fuse-copies.ts';
import { duplicateTails } from './passes/tail-duplication.ts';
import { layoutLoops } from './passes/loop-layout.ts';
import { orderBlocks } from './passes/block-order.ts';
import { eliminateRedundantChecks } from './passes/redundant-checks.ts';
import { convertIfs } from './passes/if-conversion.ts';
import { decideBranchesByRanges } from './passes/value-ranges.ts';
import { sinkToUses } from './passes/sink.ts';
import { versionLoops } from './passes/loop-versioning.ts';

export const PROGRAM_RUNTIME = resolve(fileURLToPath(new URL('../dsl/runtime/program.ts', import.meta.url)));

export interface CompileOptions {
  files: string[];                       // the DSL files; their imports are followed
  mode?: 'program' | 'kernel' | 'guest'; // default 'program'
  entry?: string;                        // default 'main' (program) / 'kmain' (kernel) / 'guestMain' (guest)
  runtime?: string;                      // the DSL runtime file; default dsl/runtime/program.ts
  optimize?: 0 | 2;                      // -O0: lowering only; -O2 (default): the passes below
  verify?: boolean;                      // run the IR verifier after every pass (default true)
  timings?: Map<string, number>;         // filled with milliseconds per phase when given
  observer?: LoweringObserver;           // told every expression's DSL type (the TypeScript back end)
}

interface CompileResult { module?: ir.Module; diagnostics: Diagnostic[] }

/** The passes of -O2, in order. Each takes and returns a verified Module. */
export const PASSES: [string, (m: ir.Module) => ir.Module][] = [
  ['inline', inlineSmallFunctions],
  ['simplify-cfg', simplifyCfg],
  ['fold', foldConstants],
  ['copy-propagation', propagateCopies],
  ['cse', eliminateCommonSubexpressions],
  ['copy-propagation', propagateCopies],
  ['fold', foldConstants],
  ['strength-reduction', reduceStrength],
  ['magic-division', divideByMagic],
  ['if-conversion', convertIfs],              // cheap diamonds and triangles become selects (cmov)
  ['licm', hoistLoopInvariants],
  ['cse', eliminateCommonSubexpressions],     // the invariants hoisted into one preheader repeat each other
  ['copy-propagation', propagateCopies],
  ['simplify-cfg', simplifyCfg],
  ['dce', eliminateDeadCode],
  ['loop-versioning', versionLoops],          // a copy without the checks a test before the loop shows hold
  ['redundant-checks', eliminateRedundantChecks], // bounds checks repeated, loop tests implied
  ['value-ranges', decideBranchesByRanges],    // checks of indices whose range is known (induction variables)
  ['simplify-cfg', simplifyCfg],
  ['dce', eliminateDeadCode],
  ['fuse-copies', fuseCopies],
  ['tail-duplication', duplicateTails],
  ['simplify-cfg', simplifyCfg],
  ['block-order', orderBlocks],                // reverse postorder, traps last: more fall-throughs
  ['loop-layout', layoutLoops],
  ['sink', sinkToUses],                        // next to the one reader: address, load, comparison folds
  ['unused-functions', removeUnusedFunctions],
];

export function compile(options: CompileOptions): CompileResult {
  const mode = options.mode ?? 'program';
  const runtime = resolve(options.runtime ?? PROGRAM_RUNTIME);
  const verify = options.verify ?? true;
  const time = <T>(phase: string, f: () => T): T => {
    const start = performance.now();
    try { return f(); } finally { options.timings?.set(phase, (options.timings.get(phase) ?? 0) + performance.now() - start); }
  };

  const loaded = time('load+typecheck', () => loadProgram([...options.files, runtime]));
  // The subset rules are syntactic: they are reported together with tsc's errors, in file order.
  const subset = time('subset', () => loaded.files.flatMap(checkSubset));
  if (loaded.diagnostics.length || subset.length) return { diagnostics: sortDiagnostics([...loaded.diagnostics, ...subset]) };
  const entry = options.entry ?? (mode === 'program' ? 'main' : mode === 'guest' ? 'guestMain' : 'kmain');
  const lowered = time('lower', () => lowerProgram(loaded.files, loaded.checker,
    { mode, entry, runtimeFile: runtime, observer: options.observer }));
  if (!lowered.module) return { diagnostics: lowered.diagnostics };
  let module = lowered.module;
  if (verify) time('verify', () => verifyModule(module));
  if ((options.optimize ?? 2) >= 2) module = optimize(module, { verify, time });
  else module = removeUnusedFunctions(module);
  return { module, diagnostics: [] };
}

function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/** Runs the -O2 passes over a lowered Module (in place), the verifier after each when asked. */
export function optimize(module: ir.Module, options: { verify?: boolean; time?: <T>(phase: string, f: () => T) => T } = {}): ir.Module {
  const time = options.time ?? (<T>(_: string, f: () => T) => f());
  for (const [name, pass] of PASSES) {
    module = time(name, () => pass(module));
    if (options.verify ?? true) time('verify', () => verifyModule(module));
  }
  return module;
}
