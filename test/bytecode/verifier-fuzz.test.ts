// Fuzzing the kernel's bytecode verifier (kernel-src/bytecode-verify.ts) on the bytecode interpreter,
// every read checked against the image's bounds (verifier/harness.ts): thousands of corrupted valid
// images (bit flips, random bytes, truncations, runs inserted, deleted or overwritten inside a section,
// and modules changed field by field then encoded) and pure random images. The verifier must never trap,
// read outside the image or run on (the interpreter's step limit; instructions stay linear in the
// bytes), and must agree with the host's decodeModule + checkModule: whatever it accepts the host
// accepts, and what the host accepts it refuses only by one of its own stricter rules (STRICTER).
// VERIFIER_FUZZ_COUNT=n scales the run (default 3,000 images; the seed is printed, VERIFIER_FUZZ_SEED sets it).
import test from "ava";
import { join } from "node:path";
import { decodeModule } from "../../compiler/bytecode/decode.ts";
import { BytecodeFormatError, INTRINSIC_NAMES } from "../../compiler/bytecode/format.ts";
import type { Module } from "../../compiler/ir.ts";
import { compileOrThrow, GUEST_RUNTIME, ROOT } from "../../tools/build.ts";
import * as V from "../../kernel-src/bytecode-reader.ts";
import { verifyOnInterpreter } from "./verifier/harness.ts";
import { baseModule, encode, sections } from "./verifier/images.ts";

/** The verifier's rules beyond the host's: a refusal for one of these of an image the host accepts is expected. */
const STRICTER = new Set([
  V.ERROR_IMAGE_SIZE, V.ERROR_VERSION, V.ERROR_STRING_LIMIT, V.ERROR_STRING_LENGTH, V.ERROR_DUPLICATE_STRING,
  V.ERROR_ALIGNMENT, V.ERROR_DATA_SIZE, V.ERROR_REGISTER_LIMIT, V.ERROR_PARAMETERS, V.ERROR_SLOT_LIMIT,
  V.ERROR_FRAME_SIZE, V.ERROR_BLOCK_LIMIT, V.ERROR_ARGUMENT_LIMIT, V.ERROR_FORBIDDEN_INTRINSIC,
  V.ERROR_FORBIDDEN_SYMBOL, V.ERROR_INTERRUPT_ENTRIES, V.ERROR_ENTRY,
]);

const COUNT = Number(process.env.VERIFIER_FUZZ_COUNT ?? 3000);
const SEED = Number(process.env.VERIFIER_FUZZ_SEED ?? 20261218);

/** mulberry32: a small seeded generator, the same images from the same seed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  return { int, pick, bytes: (n: number) => Uint8Array.from({ length: n }, () => int(256)) };
}
type Random = ReturnType<typeof generator>;

// ---- byte-level corruption of a valid image -------------------------------------------------------------

function corruptBytes(image: Uint8Array, r: Random): Uint8Array {
  const out = image.slice();
  const at = () => r.int(out.length);
  switch (r.int(7)) {
    case 0: for (let k = 1 + r.int(4); k > 0; k--) out[at()] ^= 1 << r.int(8); return out;         // bit flips
    case 1: for (let k = 1 + r.int(8); k > 0; k--) out[at()] = r.int(256); return out;             // random bytes
    case 2: return out.subarray(0, r.int(out.length));                                               // truncated
    case 3: {                                                                                        // a run inserted
      const p = at();
      return new Uint8Array([...out.subarray(0, p), ...r.bytes(1 + r.int(16)), ...out.subarray(p)]);
    }
    case 4: {                                                                                        // a run deleted
      const p = at();
      return new Uint8Array([...out.subarray(0, p), ...out.subarray(p + 1 + r.int(16))]);
    }
    case 5: {                                                                 // a run inside a section overwritten
      const s = r.pick([...sections(image).values()]);
      const length = Math.min(1 + r.int(32), s.end - s.start);
      out.set(r.bytes(length), s.start + r.int(s.end - s.start - length + 1));
      return out;
    }
    default: {                                                                // a chunk copied elsewhere
      const from = at(), to = at(), length = 1 + r.int(24);
      out.set(image.subarray(from, from + length).subarray(0, out.length - to), to);
      return out;
    }
  }
}

// ---- field-level changes of a valid module, then encoded ----------------------------------------------

const LINKER = ["__image_start", "__image_end", "__stack_bottom", "__stack_top", "__symbol_table"];

/** Sets one random field of `object` (a number, a name or an argument list) to a plausible wrong value. */
function changeField(object: Record<string, unknown>, module: Module, limit: number, r: Random): void {
  const keys = Object.keys(object).filter((k) => k !== "op" && k !== "loc" && k !== "kind");
  if (!keys.length) return;
  const key = r.pick(keys), value = object[key];
  const names = [...module.functions.map((f) => f.name), ...module.data.map((d) => d.name), ...LINKER, "missing"];
  if (typeof value === "number") object[key] = r.int(3) === 0 ? r.int(0x200) : r.int(limit + 3);
  else if (key === "name" && object.args) object[key] = r.pick(INTRINSIC_NAMES);
  else if (typeof value === "string") object[key] = r.pick(names);
  else if (typeof value === "boolean") object[key] = !value;
  else if (value === null) object[key] = r.int(limit + 2);
  else if (Array.isArray(value)) {
    if (value.length && r.int(2)) value.pop();
    else value.push(r.int(limit + 2));
  }
}

function changeModule(original: Module, r: Random): Module {
  const module = structuredClone(original);
  const f = r.pick(module.functions);
  const block = r.pick(f.blocks);
  const limit = Math.max(f.vregCount, f.blocks.length, f.slots.length);
  switch (r.int(8)) {
    case 0: case 1: case 2:
      if (block.instrs.length) { changeField(r.pick(block.instrs) as never, module, limit, r); break; }
    // falls through: a block without instructions changes its terminator
    case 3: changeField(block.term as never, module, limit, r); break;
    case 4: changeField(f as never, module, limit, r); break;
    case 5: if (f.slots.length) changeField(r.pick(f.slots) as never, module, 8, r); break;
    case 6: {
      const symbol = r.pick(module.data);
      if (symbol.relocations.length && r.int(2)) {
        changeField(r.pick(symbol.relocations) as never, module, symbol.size, r);
      }
      else changeField(symbol as never, module, 64, r);
      break;
    }
    default:
      if (r.int(4) === 0) {
        module.interruptEntries = [{ name: "vector", vector: r.int(300), handler: r.pick(module.functions).name }];
      } else changeField(module as never, module, 4, r);
  }
  return module;
}

// ---- pure random images --------------------------------------------------------------------------------

function randomImage(r: Random): Uint8Array {
  const noise = r.bytes(r.int(600));
  if (r.int(2)) return noise;
  // A valid header and four section frames of random lengths over random contents: past the first checks.
  const out = [0x44, 0x4e, 0x42, 0x43, 7, 0];
  for (let id = 1; id <= 4; id++) {
    const length = r.int(120);
    out.push(id, length, ...r.bytes(length).map((b) => (b & 0x80 ? b : b & 0x0f)));   // small numbers, mostly
  }
  return new Uint8Array(r.int(4) ? out : out.slice(0, r.int(out.length)));
}

function hostVerdict(image: Uint8Array): "accepts" | "rejects" {
  try {
    decodeModule(image);
    return "accepts";
  } catch (error) {
    if (error instanceof BytecodeFormatError) return "rejects";
    throw new Error(`the host decoder crashed instead of rejecting: ${String(error)}`);
  }
}

test(`${COUNT} corrupted and random images: no trap, linear time, agreement with the host (seed ${SEED})`, (t) => {
  const program = (file: string) => compileOrThrow({ files: [join(ROOT, "test", "programs", file)], optimize: 2,
    verify: false, runtime: join(ROOT, "guest-src", "runtime", "program.ts") });
  const modules: Module[] = [baseModule(), program("hello.ts"), program("function-refs.ts"), program("contexts.ts"),
    compileOrThrow({ files: [join(ROOT, "guest-src", "demos", "counter.ts")], mode: "guest", entry: "guestMain",
      runtime: GUEST_RUNTIME, optimize: 2, verify: false })];
  const valid = modules.map(encode);
  const r = generator(SEED);
  const images: Uint8Array[] = [];
  while (images.length < COUNT) {
    const kind = r.int(10);
    // Most changes go to the 229-byte base module: each costs a tenth of one of the others.
    if (kind < 4) images.push(corruptBytes(valid[0], r));
    else if (kind < 6) images.push(corruptBytes(r.pick(valid), r));
    else if (kind < 9) {
      const module = r.int(2) ? modules[0] : r.pick(modules);
      try { images.push(encode(changeModule(module, r))); } catch { /* the encoder refused the change: none */ }
    } else images.push(randomImage(r));
  }

  const { verdicts, instructions } = verifyOnInterpreter(images);
  const bytes = images.reduce((sum, image) => sum + image.length, 0);
  const tally = new Map<string, number>();
  const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
  const disagreements: string[] = [];
  images.forEach((image, i) => {
    const verdict = verdicts[i], host = hostVerdict(image);
    if (verdict.error === V.VERIFY_OK) {
      count(`both accept`);
      if (host !== "accepts") disagreements.push(`image ${i}: the verifier accepts what the host rejects`);
    } else if (host === "accepts") {
      count(`host only: ${verdict.reason}`);
      if (!STRICTER.has(verdict.error)) {
        disagreements.push(`image ${i}: refused (${verdict.reason} at ${verdict.offset}) but the host accepts`);
      }
    } else count("both refuse");
  });
  t.deepEqual(disagreements, []);
  const [accepted, refused] = [tally.get("both accept") ?? 0, tally.get("both refuse") ?? 0];
  t.true(accepted > 0 && refused > COUNT / 2, JSON.stringify([...tally]));
  // Linear time: about 140 instructions a byte for a whole image (reads checked), fewer when it stops early.
  t.true(instructions < 400 * bytes + 20_000 * images.length, `${instructions} instructions for ${bytes} bytes`);
  t.log(`${images.length} images, ${bytes} bytes, ${instructions} interpreter instructions `
    + `(${(instructions / bytes).toFixed(0)} a byte)`);
  t.log([...tally].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join("; "));
});
