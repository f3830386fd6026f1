// Hand-written IR modules (compiler/builder.ts, no front end involved) with a trap handler and a report
// port, and a runner that collects the values a test program reports through port OUT_PORT.

import type { DataSymbol, Function, Module, VReg } from "../../compiler/ir.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import { runModule, type RunOptions, type RunResult } from "../../compiler/bytecode/interpreter.ts";

/** Test programs report a value with outl(OUT_PORT, value). */
const OUT_PORT = 0x500;
/** The default trap handler reports its kind with outl(TRAP_PORT, kind), then exits through port 0xf4. */
const TRAP_PORT = 0x501;
export const TRAP_EXIT_VALUE = 0x7e;

/** outl(OUT_PORT, value): the test runner collects it. */
export function report(f: FunctionBuilder, value: VReg): void { f.intrinsic("outl", [f.constant(OUT_PORT), value]); }
export function outb(f: FunctionBuilder, port: number, value: VReg): void {
  f.intrinsic("outb", [f.constant(port), value]);
}

/** The standard trap handler: reports its kind on TRAP_PORT, then exits with TRAP_EXIT_VALUE. */
function trapHandlerFunction(name = "__trap"): Function {
  const f = new FunctionBuilder(name, 1, false);
  f.intrinsic("outl", [f.constant(TRAP_PORT), f.param(0)]);
  outb(f, 0xf4, f.constant(TRAP_EXIT_VALUE));
  f.unreachable();
  return f.finish();
}

/** A module with `functions` (entry = the first unless named) plus the standard trap handler. */
export function makeModule(functions: Function[], data: DataSymbol[] = [], entry = functions[0].name): Module {
  return { functions: [...functions, trapHandlerFunction()], data, entry, trapHandler: "__trap" };
}

interface TestRun extends RunResult {
  /** Values written to OUT_PORT, as signed int32. */
  values: number[];
  /** Trap kinds that reached the trap handler. */
  traps: number[];
}

/** Runs a module (from its bytecode) collecting OUT_PORT and TRAP_PORT writes. */
export function run(module: Module, options: RunOptions = {}): TestRun {
  const values: number[] = [];
  const traps: number[] = [];
  const result = runModule(module, {
    ...options,
    onOut(port, value, width) {
      if (port === OUT_PORT) { values.push(value | 0); return true; }
      if (port === TRAP_PORT) { traps.push(value | 0); return true; }
      return options.onOut?.(port, value, width) ?? false;
    },
  });
  return { ...result, values, traps };
}

/** An entry function built by `body`, ending with exit code 0 through port 0xf4. */
export function mainModule(body: (f: FunctionBuilder) => void, extra: Function[] = [], data: DataSymbol[] = []): Module {
  const f = new FunctionBuilder("main", 2, false);
  body(f);
  outb(f, 0xf4, f.constant(0));
  f.unreachable();
  return makeModule([f.finish(), ...extra], data);
}
