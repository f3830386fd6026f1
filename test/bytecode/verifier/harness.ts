// Runs the kernel's bytecode verifier (kernel-src/bytecode-verify.ts, compiled as the program driver.ts)
// on images given from the host: on the bytecode interpreter and natively in QEMU. The images go into
// the driver's `images` array as initialized data (the IR module is patched before it is run or linked),
// so both targets see exactly the same bytes at run time. Also compiles the modules the verifier must
// accept: the guests of guest-src/ and the programs of test/programs/ as bytecode guests.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { definedRegister, type DataSymbol, type Instr, type Module } from "../../../compiler/ir.ts";
import { FunctionBuilder } from "../../../compiler/builder.ts";
import { compileOrThrow, GUEST_RUNTIME, programImage, ROOT } from "../../../tools/build.ts";
import { parseProgramSerial, runQemu } from "../../../tools/qemu.ts";
import { runModule } from "../../../compiler/bytecode/interpreter.ts";

const DRIVER = join(ROOT, "test", "bytecode", "verifier", "driver.ts");
/** The runtime of a test/programs program compiled as a bytecode guest (hypercalls, no port I/O). */
const PROGRAM_GUEST_RUNTIME = join(ROOT, "guest-src", "runtime", "program.ts");
const IMAGES_SYMBOL = "images";

interface Verdict { error: number; functionIndex: number; offset: number; reason: string }

let driver: Module | undefined, instrumented: Module | undefined;
/** The driver at -O2, compiled once per process. */
function driverModule(): Module {
  driver ??= compileOrThrow({ files: [DRIVER], optimize: 2 });
  return driver;
}

/** Bytes the driver's array holds (its size less the length word of a typed array). */
function capacity(module: Module): number {
  const symbol = module.data.find((d) => d.name === IMAGES_SYMBOL);
  if (!symbol) throw new Error(`driver.ts has no data symbol ${IMAGES_SYMBOL}`);
  return symbol.size - 4;
}

const padded = (n: number): number => (n + 3) & ~3;
const asInput = (x: Uint8Array | Input): Input => (x instanceof Uint8Array ? { bytes: x } : x);

/** An image as the driver gets it: its bytes, and the length the verifier is told when it differs. */
export interface Input { bytes: Uint8Array; claimedLength?: number }

/** Splits the inputs into batches whose blob (count, then per image two words and its padded bytes) fits. */
function batches(inputs: Input[], room: number): Input[][] {
  const out: Input[][] = [];
  let batch: Input[] = [], used = 4;
  for (const input of inputs) {
    const need = 8 + padded(input.bytes.length);
    if (need + 4 > room) throw new Error(`an image of ${input.bytes.length} bytes does not fit the driver's ${room}`);
    if (used + need > room) { out.push(batch); batch = []; used = 4; }
    batch.push(input);
    used += need;
  }
  if (batch.length) out.push(batch);
  return out;
}

/** The driver with the inputs as the data of `images`: the typed array's length word, then the blob. */
function withImages(module: Module, inputs: Input[]): Module {
  const symbol = module.data.find((d) => d.name === IMAGES_SYMBOL)!;
  const bytes = new Uint8Array(symbol.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, symbol.size - 4, true);
  view.setUint32(4, inputs.length, true);
  let at = 8;
  for (const { bytes: image, claimedLength } of inputs) {
    view.setUint32(at, claimedLength ?? image.length, true);
    view.setUint32(at + 4, image.length, true);
    bytes.set(image, at + 8);
    at += 8 + padded(image.length);
  }
  const patched: DataSymbol = { ...symbol, section: "data", bytes };
  return { ...module, data: module.data.map((d) => (d === symbol ? patched : d)) };
}

const READ_CHECK = "__verifierReadCheck";

/**
 * The driver with a check before every load of every function but main and __start (which read the
 * blob's headers): a load that touches the blob outside the image being verified (the driver's
 * readableStart..readableEnd) calls the trap handler, which ends the run with status 101. So a read
 * outside the image, which the interpreter's own check (outside its memory) would not see, fails the test.
 */
function instrumentReads(module: Module): Module {
  const check = new FunctionBuilder(READ_CHECK, 2, false);    // (address, width)
  const [address, width] = [check.param(0), check.param(1)];
  const blobStart = check.globalAddress(IMAGES_SYMBOL);
  const blobEnd = check.binary("add", blobStart, check.constant(capacity(module) + 4));
  const last = check.binary("sub", check.binary("add", address, width), check.constant(1));
  const inBlob = check.binary("and", check.binary("geu", last, blobStart), check.binary("ltu", address, blobEnd));
  const start = check.load(4, false, check.globalAddress("readableStart"));
  const end = check.load(4, false, check.globalAddress("readableEnd"));
  const fits = check.binary("leu", check.binary("add", address, width), end);
  const inImage = check.binary("and", check.binary("geu", address, start), fits);
  const bad = check.binary("and", inBlob, check.binary("eq", inImage, check.constant(0)));
  const fault = check.newBlock(), fine = check.newBlock();
  check.branch(bad, fault, fine);
  check.switchTo(fault);
  check.trap(2);
  check.unreachable();
  check.switchTo(fine);
  check.ret();
  const functions = module.functions.map((f) => {
    if (f.name === "main" || f.name === "__start") return f;
    // A load through a register defined once, by the address of another symbol (a module global, a table),
    // cannot touch the blob: left unchecked (most loads are of globals; checking them all is 5x slower).
    const definitions = new Map<number, Instr[]>();
    for (const instr of f.blocks.flatMap((b) => b.instrs)) {
      const defined = definedRegister(instr);
      if (defined !== null) definitions.set(defined, [...(definitions.get(defined) ?? []), instr]);
    }
    // A parameter is defined by the caller too: never "defined once" here.
    for (let p = 0; p < f.params; p++) {
      definitions.set(p, [...(definitions.get(p) ?? []), { op: "copy", dst: p, src: p }]);
    }
    const elsewhere = (register: number): boolean => {
      const defs = definitions.get(register) ?? [];
      return defs.length === 1 && defs[0].op === "globalAddress" && defs[0].symbol !== IMAGES_SYMBOL;
    };
    let next = f.vregCount;
    const blocks = f.blocks.map((block) => ({
      ...block,
      instrs: block.instrs.flatMap((instr): Instr[] => {
        if (instr.op !== "load" || elsewhere(instr.address)) return [instr];
        const [offset, sum, size] = [next++, next++, next++];
        return [
          { op: "const", dst: offset, value: instr.offset },
          { op: "binary", kind: "add", dst: sum, a: instr.address, b: offset },
          { op: "const", dst: size, value: instr.width },
          { op: "call", dst: null, func: READ_CHECK, args: [sum, size] },
          instr,
        ];
      }),
    }));
    return { ...f, blocks, vregCount: next };
  });
  return { ...module, functions: [...functions, check.finish()] };
}

/** The driver's output: a line "index error functionIndex offset reason" per image, in order. */
function parseVerdicts(stdout: string, count: number): Verdict[] {
  const lines = stdout.split("\n").filter((line) => line !== "");
  if (lines.length !== count) {
    throw new Error(`the driver printed ${lines.length} lines for ${count} images:\n${stdout.slice(-2000)}`);
  }
  return lines.map((line, i) => {
    const match = /^(\d+) (\d+) (\d+) (\d+) (.*)$/.exec(line);
    if (!match || Number(match[1]) !== i) throw new Error(`driver line ${JSON.stringify(line)} for image ${i}`);
    return { error: Number(match[2]), functionIndex: Number(match[3]), offset: Number(match[4]), reason: match[5] };
  });
}

/** Interpreter steps the run of one batch may take: far above what a verification costs (a bug loops). */
const STEP_LIMIT = 4e9;

/**
 * Verifies each image with the DSL verifier on the host bytecode interpreter, every load checked
 * (instrumentReads) unless `checkReads` is false; also returns the interpreter's instruction count.
 */
export function verifyOnInterpreter(inputs: (Uint8Array | Input)[], checkReads = true):
  { verdicts: Verdict[]; instructions: number } {
  const module = checkReads ? (instrumented ??= instrumentReads(driverModule())) : driverModule();
  const verdicts: Verdict[] = [];
  let instructions = 0;
  for (const batch of batches(inputs.map(asInput), capacity(module))) {
    const run = runModule(withImages(module, batch), { stepLimit: STEP_LIMIT });
    const outcome = parseProgramSerial(run.serial);
    if (run.stop === "error" || outcome.status !== 0 || outcome.stderr !== "") {
      throw new Error(`the verifier stopped: ${run.error ?? ""} ${outcome.stderr} (status ${outcome.status})`);
    }
    verdicts.push(...parseVerdicts(outcome.stdout, batch.length));
    instructions += run.instructions;
  }
  return { verdicts, instructions };
}

/** Verifies the images (one batch) natively: the driver linked for x86 with them, booted in QEMU. */
export async function verifyInQemu(inputs: (Uint8Array | Input)[], elfPath: string): Promise<Verdict[]> {
  const module = driverModule();
  const [batch, ...rest] = batches(inputs.map(asInput), capacity(module));
  if (rest.length) throw new Error("verifyInQemu: the images must fit in one batch");
  writeFileSync(elfPath, programImage(withImages(module, batch), 2).elf);
  const run = await runQemu({ kernel: elfPath }, { timeoutMs: 120_000 });
  if (run.timedOut) throw new Error("QEMU timed out");
  const outcome = parseProgramSerial(run.serial);
  if (outcome.status !== 0 || outcome.stderr !== "") {
    throw new Error(`the verifier stopped in QEMU: ${outcome.stderr} (status ${outcome.status})`);
  }
  return parseVerdicts(outcome.stdout, batch.length);
}

/**
 * The guests of guest-src/ (apps, demos, attacks) as the image builder compiles them, at -O2 (without the
 * IR verifier between passes, which the compiler's own tests run: the same module, compiled faster).
 */
export function guestModules(): { name: string; module: Module }[] {
  const out: { name: string; module: Module }[] = [];
  for (const folder of ["apps", "demos", "attacks"]) {
    for (const file of readdirSync(join(ROOT, "guest-src", folder)).sort()) {
      if (!file.endsWith(".ts") || file === "common.ts") continue;
      const module = compileOrThrow({ files: [join(ROOT, "guest-src", folder, file)], mode: "guest", entry: "guestMain",
        runtime: GUEST_RUNTIME, optimize: 2, verify: false });
      out.push({ name: `${folder}/${file}`, module });
    }
  }
  return out;
}

/** The programs of test/programs/ compiled at -O2 as bytecode guests (guest-src/runtime/program.ts). */
export function programModules(): { name: string; module: Module }[] {
  const dir = join(ROOT, "test", "programs");
  return readdirSync(dir).filter((file) => file.endsWith(".ts")).sort().map((file) => ({
    name: file,
    module: compileOrThrow({ files: [join(dir, file)], runtime: PROGRAM_GUEST_RUNTIME, optimize: 2, verify: false }),
  }));
}
