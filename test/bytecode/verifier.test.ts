// The kernel's bytecode verifier (kernel-src/bytecode-verify.ts), run as a program on the bytecode
// interpreter with every read checked against the image's bounds (verifier/harness.ts): a valid module
// passes; hand-made bad images, one a rule, are each refused with the expected reason, function and byte
// offset (found from the bytes, by a one-byte difference or a unique pattern, not by the verifier's own
// logic); the guest policy, intrinsic by intrinsic and linker symbol by symbol; each limit at its
// boundary. Every image also goes through the host's decodeModule + checkModule: the format's rules are
// refused there too, the verifier's own rules (policy, limits, one copy of each string) are not.
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../tools/build.ts";
import { decodeModule } from "../../compiler/bytecode/decode.ts";
import { INTRINSIC_NAMES } from "../../compiler/bytecode/format.ts";
import { INTRINSICS, type Module } from "../../compiler/ir.ts";
import { FunctionBuilder } from "../../compiler/builder.ts";
import {
  OP_CALL, OP_CALL_INDIRECT_VOID, OP_COPY, OP_FUNCTION_ADDRESS, OP_GLOBAL_ADDRESS, OP_INTRINSIC,
  OP_INTRINSIC_VOID, OP_SLOT_ADDRESS, OP_TRAP, TERM_JUMP, FORMAT_VERSION, INTRINSIC_COUNT,
} from "../../abi/bytecode.ts";
import * as V from "../../kernel-src/bytecode-reader.ts";
import { STRING_BYTES_LIMIT, STRING_LIMIT } from "../../kernel-src/bytecode-strings.ts";
import {
  BLOCK_LIMIT, FRAME_BYTES_LIMIT, PARAMETER_LIMIT, REGISTER_LIMIT, SLOT_ALIGN_LIMIT, SLOT_LIMIT,
} from "../../kernel-src/bytecode-code.ts";
import { DATA_ALIGN_LIMIT, DATA_BYTES_LIMIT } from "../../kernel-src/bytecode-verify.ts";
import { IMAGE_BYTES_LIMIT } from "../../abi/hypercalls.ts";
import { verifyOnInterpreter, type Input } from "./verifier/harness.ts";
import {
  baseModule, encode, find, firstDifference, mutated, onlyDifference, sections, stringIndex, strings, uleb,
  withSection,
} from "./verifier/images.ts";

const MAIN = 0, HELPER = 1, SINK = 2;      // function indices of baseModule
const NONE = V.NO_FUNCTION;

interface Case {
  name: string;
  image: Uint8Array | Input;
  error: number;
  functionIndex?: number;                  // default NONE
  offset: number;
  /** Whether decodeModule + checkModule accept it: the verifier's own rules are stricter. */
  host: "accepts" | "rejects";
}

const base = encode(baseModule());
const S = (name: string): number => stringIndex(base, name);
const section = (id: number) => sections(base).get(id)!;

function patch(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = value;
  return copy;
}

/** The contents of a string table holding `list`. */
function encodeStrings(list: string[]): number[] {
  const encoded = list.flatMap((s) => { const b = new TextEncoder().encode(s); return [...uleb(b.length), ...b]; });
  return [...uleb(list.length), ...encoded];
}

/** A case whose image differs from the base in one byte, where the problem is. */
function oneByte(
  name: string, offset: number, value: number, error: number, functionIndex: number, host: Case["host"],
): Case {
  const image = patch(base, offset, value);
  return { name, image, error, functionIndex, offset: onlyDifference(base, image), host };
}

/** The image with bytes replaced inside section `id` (its length rewritten): [offset, deleteCount, insert]. */
function spliced(id: number, offset: number, deleteCount: number, insert: number[]): Uint8Array {
  const s = section(id);
  const contents = [...base.subarray(s.start, offset), ...insert, ...base.subarray(offset + deleteCount, s.end)];
  return withSection(base, id, contents);
}

// Offsets in the base image, each found from its bytes.
const callAt = find(base, [OP_CALL, 10, S("helper"), 2, 2, 3]);
const copyAt = find(base, [OP_COPY, 4, 2]);
const trapThenJumpAt = find(base, [OP_TRAP, 2, TERM_JUMP, 2]);
const greetingAt = find(base, [S("greeting"), 0, 1, 6, 1, 6]);   // name rodata align size hasBytes count
const tableAt = find(base, [S("table"), 1, 4, 8, 1, 8]);
const zerosAt = find(base, [S("zeros"), 2, 16, 16, 0, 0]);
const mainAt = find(base, [S("main"), 0, 2, 14, 1, S("local")]);  // name flags params registers slots
const helperAt = find(base, [S("helper"), 1, 2, 3, 0, 1]);
const sinkAt = find(base, [S("sink"), 0, 1, 1, 0, 1]);
const trapAt = find(base, [S("trap"), 0, 1, 1, 0, 1]);
const moduleAt = section(4).start;

function formatCases(): Case[] {
  const s1 = section(1), s3 = section(3), s4 = section(4);
  const unread = withSection(base, 2, [...base.subarray(section(2).start, section(2).end), 0]);
  const countTooLarge = base.length - s1.start;                   // more strings than bytes left
  const constAt = find(base, [1, 2, 5]);                          // const v2, 5
  return [
    oneByte("bad magic", 0, 0x45, V.ERROR_MAGIC, NONE, "rejects"),
    oneByte("unknown version", 4, FORMAT_VERSION + 1, V.ERROR_VERSION, NONE, "rejects"),
    { name: "three bytes", image: base.subarray(0, 3), error: V.ERROR_MAGIC, offset: 0, host: "rejects" },
    { name: "no version byte", image: base.subarray(0, 5), error: V.ERROR_TRUNCATED, offset: 5, host: "rejects" },
    oneByte("section out of order", s1.at, 2, V.ERROR_SECTION_ID, NONE, "rejects"),
    { ...oneByte("section length past the image", s4.at + 1, base[s4.at + 1] + 1, V.ERROR_SECTION_LENGTH, NONE,
      "rejects"), offset: s4.at },
    { name: "image cut inside section 3", image: base.subarray(0, s3.start + 10), error: V.ERROR_SECTION_LENGTH,
      offset: s3.at, host: "rejects" },
    { name: "section with an unread byte", image: unread, error: V.ERROR_SECTION_UNREAD,
      offset: sections(unread).get(2)!.end - 1, host: "rejects" },
    { name: "trailing byte", image: new Uint8Array([...base, 0]), error: V.ERROR_TRAILING_BYTES, offset: base.length,
      host: "rejects" },
    { name: "LEB128 running past its section", image: withSection(base, 4, [S("main"), S("trap"), 0x80]),
      error: V.ERROR_TRUNCATED, offset: base.length, host: "rejects" },
    { name: "LEB128 of six bytes", image: withSection(base, 4, [S("main"), S("trap"), 0x80, 0x80, 0x80, 0x80, 0x80, 0]),
      error: V.ERROR_LEB_TOO_LONG, offset: s4.start + 2, host: "rejects" },
    { name: "LEB128 above 2^32 - 1", image: withSection(base, 4, [S("main"), S("trap"), 0xff, 0xff, 0xff, 0xff, 0x1f]),
      error: V.ERROR_LEB_TOO_LARGE, offset: s4.start + 2, host: "rejects" },
    // const v2, 2^31: a signed LEB128 outside the int32 range
    { name: "signed LEB128 above 2^31 - 1", image: spliced(3, constAt + 2, 1, [0x80, 0x80, 0x80, 0x80, 0x08]),
      error: V.ERROR_LEB_TOO_LARGE, functionIndex: MAIN, offset: constAt + 2, host: "rejects" },
    { name: "count larger than its section", image: spliced(1, s1.start, 1, uleb(countTooLarge)), error: V.ERROR_COUNT,
      offset: s1.start, host: "rejects" },
    oneByte("flag byte 2", mainAt + 9, 2, V.ERROR_BOOL, MAIN, "rejects"),   // block 0's hasLoc
    { name: "invalid UTF-8", image: patch(base, find(base, [8, ...new TextEncoder().encode("greeting")]) + 1, 0xff),
      error: V.ERROR_UTF8, offset: find(base, [8, ...new TextEncoder().encode("greeting")]), host: "rejects" },
  ];
}

function referenceCases(): Case[] {
  const globalAt = find(base, [OP_GLOBAL_ADDRESS, 8, S("table")]);
  const functionAddressAt = find(base, [OP_FUNCTION_ADDRESS, 9, S("helper")]);
  const memoryFillAt = find(base, [OP_INTRINSIC_VOID, 24, 3]);
  const arityImage = mutated((_, f) => { f("helper").params = 3; });
  const resultImage = mutated((_, f) => {
    const call = f("main").blocks[0].instrs.find((i) => i.op === "call" && i.func === "sink")!;
    if (call.op === "call") call.dst = 4;
  });
  const intrinsicArity = mutated((_, f) => {
    const fill = f("main").blocks[0].instrs.find((i) => i.op === "intrinsic" && i.name === "memoryFill")!;
    if (fill.op === "intrinsic") fill.args = fill.args.slice(0, 2);
  });
  const intrinsicResult = mutated((_, f) => {
    const fill = f("main").blocks[0].instrs.find((i) => i.op === "intrinsic" && i.name === "memoryFill")!;
    if (fill.op === "intrinsic") fill.dst = 4;
  });
  const noBlocks = mutated((_, f) => { f("sink").blocks = []; });
  return [
    oneByte("string index out of range", globalAt + 2, 0x7f, V.ERROR_STRING_INDEX, MAIN, "rejects"),
    oneByte("unknown data section kind", greetingAt + 1, 3, V.ERROR_DATA_KIND, NONE, "rejects"),
    { ...oneByte("bytes given to a bss symbol", greetingAt + 1, 2, V.ERROR_DATA_BYTES, NONE, "rejects"),
      offset: greetingAt + 5 },
    { ...oneByte("bytes disagree with the size", greetingAt + 3, 5, V.ERROR_DATA_BYTES, NONE, "rejects"),
      offset: greetingAt + 5 },
    oneByte("alignment 3", greetingAt + 2, 3, V.ERROR_ALIGNMENT, NONE, "rejects"),
    oneByte("unknown relocation kind", tableAt + 17, 2, V.ERROR_RELOCATION_KIND, NONE, "rejects"),
    oneByte("relocation past its symbol", tableAt + 18, 5, V.ERROR_RELOCATION_OFFSET, NONE, "rejects"),
    oneByte("data relocation to a function", tableAt + 16, S("helper"), V.ERROR_UNKNOWN_DATA, NONE, "rejects"),
    oneByte("function relocation to data", tableAt + 19, S("greeting"), V.ERROR_UNKNOWN_FUNCTION, NONE, "rejects"),
    oneByte("data symbol defined twice", zerosAt, S("table"), V.ERROR_DUPLICATE_DATA, NONE, "rejects"),
    oneByte("unknown function flags", mainAt + 1, 4, V.ERROR_FUNCTION_FLAGS, MAIN, "rejects"),
    oneByte("more parameters than registers", sinkAt + 2, 2, V.ERROR_PARAMETERS, SINK, "rejects"),
    { name: "function without blocks", image: noBlocks, error: V.ERROR_NO_BLOCKS, functionIndex: SINK,
      offset: find(noBlocks, [S("sink"), 0, 1, 1, 0, 0]) + 5, host: "rejects" },
    oneByte("function defined twice", sinkAt, S("helper"), V.ERROR_DUPLICATE_FUNCTION, SINK, "rejects"),
    oneByte("unknown opcode", copyAt, 0x0e, V.ERROR_OPCODE, MAIN, "rejects"),
    oneByte("unknown terminator", trapThenJumpAt + 2, 0x65, V.ERROR_TERMINATOR, MAIN, "rejects"),
    oneByte("register out of range", copyAt + 2, 100, V.ERROR_REGISTER, MAIN, "rejects"),
    oneByte("branch target out of range", trapThenJumpAt + 3, 3, V.ERROR_BLOCK_TARGET, MAIN, "rejects"),
    oneByte("slot out of range", find(base, [OP_SLOT_ADDRESS, 6, 0]) + 2, 1, V.ERROR_SLOT, MAIN, "rejects"),
    oneByte("unknown intrinsic number", memoryFillAt + 1, INTRINSIC_COUNT, V.ERROR_INTRINSIC, MAIN, "rejects"),
    { name: "wrong intrinsic argument count", image: intrinsicArity, error: V.ERROR_INTRINSIC_ARGUMENTS,
      functionIndex: MAIN, offset: find(intrinsicArity, [OP_INTRINSIC_VOID, 24, 2]), host: "rejects" },
    { name: "result of an intrinsic without one", image: intrinsicResult, error: V.ERROR_INTRINSIC_RESULT,
      functionIndex: MAIN, offset: find(intrinsicResult, [OP_INTRINSIC, 4, 24, 3]), host: "rejects" },
    oneByte("unknown trap kind", trapThenJumpAt + 1, 3, V.ERROR_TRAP_KIND, MAIN, "rejects"),
    oneByte("call of a missing function", callAt + 2, S("table"), V.ERROR_UNKNOWN_FUNCTION, MAIN, "rejects"),
    { name: "call with the wrong argument count", image: arityImage, error: V.ERROR_CALL_ARGUMENTS, functionIndex: MAIN,
      offset: find(arityImage, [OP_CALL, 10, S("helper"), 2, 2, 3]), host: "rejects" },
    { name: "result of a function without one", image: resultImage, error: V.ERROR_CALL_RESULT, functionIndex: MAIN,
      offset: find(resultImage, [OP_CALL, 4, S("sink"), 1, 10]), host: "rejects" },
    { ...oneByte("value returned by a function without one", helperAt + 1, 0, V.ERROR_RETURN, HELPER, "rejects"),
      offset: find(base, [0x20, 2, 0, 1, 0x62, 2]) + 4 },
    { ...oneByte("no value returned by a function with one", sinkAt + 1, 1, V.ERROR_RETURN, SINK, "rejects"),
      offset: find(base, [0, 0, 0x63], sinkAt) + 2 },
    oneByte("address of unknown data", globalAt + 2, S("helper"), V.ERROR_UNKNOWN_DATA, MAIN, "rejects"),
    oneByte("address of an unknown function", functionAddressAt + 2, S("table"), V.ERROR_UNKNOWN_FUNCTION, MAIN,
      "rejects"),
    oneByte("missing entry", moduleAt, S("table"), V.ERROR_ENTRY, NONE, "rejects"),
    { ...oneByte("trap handler without its parameter", trapAt + 2, 0, V.ERROR_TRAP_HANDLER, NONE, "rejects"),
      offset: moduleAt + 1 },
  ];
}

function policyCases(): Case[] {
  const withEntries = mutated((m) => { m.interruptEntries = [{ name: "vector3", vector: 3, handler: "trap" }]; });
  const symbolTable = mutated((_, f) => {
    const address = f("main").blocks[0].instrs.find((i) => i.op === "globalAddress")!;
    if (address.op === "globalAddress") address.symbol = "__symbol_table";
  });
  const threeParameters = mutated((_, f) => { f("main").params = 3; });
  const duplicate = withSection(base, 1, encodeStrings([...strings(base), "helper"]));
  const bomName = mutated((_, f) => { f("sink").name = "\uFEFFhelper"; f("main").blocks[0].instrs.forEach((i) => {
    if (i.op === "call" && i.func === "sink") i.func = "\uFEFFhelper";
  }); });
  return [
    { ...oneByte("version 6 (the host still reads it)", 4, 6, V.ERROR_VERSION, NONE, "accepts") },
    { name: "interrupt entries", image: withEntries, error: V.ERROR_INTERRUPT_ENTRIES,
      offset: sections(withEntries).get(4)!.start + 2, host: "accepts" },
    { name: "the native symbol table", image: symbolTable, error: V.ERROR_FORBIDDEN_SYMBOL, functionIndex: MAIN,
      offset: find(symbolTable, [OP_GLOBAL_ADDRESS, 8]) + 2, host: "accepts" },
    { name: "entry of three parameters", image: threeParameters, error: V.ERROR_ENTRY, offset: moduleAt,
      host: "accepts" },
    { name: "a string stored twice", image: duplicate, error: V.ERROR_DUPLICATE_STRING,
      offset: find(duplicate, [6, ...new TextEncoder().encode("helper")], section(1).end) + 1, host: "accepts" },
    { name: "names differing by a leading U+FEFF", image: bomName, error: V.VERIFY_OK, offset: 0, host: "accepts" },
  ];
}

/** The base module with one more function `extra` (never called) built by `build`. */
function withFunction(build: (f: FunctionBuilder) => void, params = 0, name = "extra"): Module {
  const module = baseModule();
  const f = new FunctionBuilder(name, params, false);
  build(f);
  if (!f.isTerminated()) f.ret();
  module.functions.push(f.finish());
  return module;
}

/** Extra unused strings x0, x1, ... making `total` strings; the last one `lastLength` bytes long when given. */
function stringTable(total: number, lastLength?: number): Uint8Array {
  const list = [...strings(base)];
  for (let i = 0; list.length < total; i++) list.push(`x${i}`);
  if (lastLength !== undefined) list[list.length - 1] = "y".repeat(lastLength);
  return withSection(base, 1, encodeStrings(list));
}

/** Pairs at each limit: the largest allowed passes, one more is refused where expected (found by difference). */
function limitCases(): Case[] {
  const cases: Case[] = [];
  const pair = (name: string, ok: Uint8Array, bad: Uint8Array, error: number, functionIndex: number, at?: number) => {
    cases.push({ name: `${name} at the limit`, image: ok, error: V.VERIFY_OK, offset: 0, host: "accepts" });
    cases.push({ name: `${name} above the limit`, image: bad, error, functionIndex,
      offset: at ?? firstDifference(ok, bad), host: "accepts" });
  };
  const EXTRA = 4;                                                  // the index of withFunction's function
  const registers = (n: number) => {
    const module = withFunction(() => {});
    module.functions[EXTRA].vregCount = n;
    return encode(module);
  };
  pair("registers", registers(REGISTER_LIMIT), registers(REGISTER_LIMIT + 1), V.ERROR_REGISTER_LIMIT, EXTRA);
  const parameters = (n: number) => encode(withFunction(() => {}, n));
  pair("parameters", parameters(PARAMETER_LIMIT), parameters(PARAMETER_LIMIT + 1), V.ERROR_PARAMETERS, EXTRA);
  const argumentsImage = (n: number) => encode(withFunction((f) => {
    f.callIndirectVoid(f.constant(0), Array.from({ length: n }, () => 0));
  }));
  const tooMany = argumentsImage(PARAMETER_LIMIT + 1);
  pair("call arguments", argumentsImage(PARAMETER_LIMIT), tooMany, V.ERROR_ARGUMENT_LIMIT, EXTRA,
    find(tooMany, [OP_CALL_INDIRECT_VOID, 0, PARAMETER_LIMIT + 1]) + 2);
  const slots = (n: number) => encode(withFunction((f) => { for (let i = 0; i < n; i++) f.newSlot(1, 1, "local"); }));
  const manySlots = slots(SLOT_LIMIT + 1);
  pair("slots", slots(SLOT_LIMIT), manySlots, V.ERROR_SLOT_LIMIT, EXTRA,
    find(manySlots, [stringIndex(manySlots, "extra"), 0, 0, 0, ...uleb(SLOT_LIMIT + 1)]) + 4);
  const frame = (size: number) => encode(withFunction((f) => { f.newSlot(size, 4, "local"); }));
  pair("frame bytes", frame(FRAME_BYTES_LIMIT), frame(FRAME_BYTES_LIMIT + 1), V.ERROR_FRAME_SIZE, EXTRA);
  const slotAlign = (align: number) => encode(withFunction((f) => { f.newSlot(4, align, "local"); }));
  const wideSlot = slotAlign(SLOT_ALIGN_LIMIT * 2);
  pair("slot alignment", slotAlign(SLOT_ALIGN_LIMIT), wideSlot, V.ERROR_ALIGNMENT, EXTRA,
    find(wideSlot, [1, stringIndex(wideSlot, "local"), 4, ...uleb(SLOT_ALIGN_LIMIT * 2)]) + 3);
  const blocks = (n: number) => encode(withFunction((f) => {
    f.unreachable();
    for (let i = 1; i < n; i++) { f.switchTo(f.newBlock()); f.unreachable(); }
  }));
  const manyBlocks = blocks(BLOCK_LIMIT + 1);
  pair("blocks", blocks(BLOCK_LIMIT), manyBlocks, V.ERROR_BLOCK_LIMIT, EXTRA,
    find(manyBlocks, [stringIndex(manyBlocks, "extra"), 0, 0, 0, 0, ...uleb(BLOCK_LIMIT + 1)]) + 5);
  const bss = (size: number, align = 4) => {
    const module = baseModule();
    module.data.push({ name: "big", section: "bss", align, size, relocations: [] });
    return encode(module);
  };
  // The base's own data end at 32 (6 bytes, 8 aligned to 4, 16 aligned to 16): "big" can have the rest.
  pair("data bytes", bss(DATA_BYTES_LIMIT - 32), bss(DATA_BYTES_LIMIT - 31), V.ERROR_DATA_SIZE, NONE);
  const wideData = bss(4, DATA_ALIGN_LIMIT * 2);
  pair("data alignment", bss(4, DATA_ALIGN_LIMIT), wideData, V.ERROR_ALIGNMENT, NONE,
    find(wideData, [stringIndex(wideData, "big"), 2, ...uleb(DATA_ALIGN_LIMIT * 2)]) + 2);
  const manyStrings = stringTable(STRING_LIMIT + 1);
  pair("strings", stringTable(STRING_LIMIT), manyStrings, V.ERROR_STRING_LIMIT, NONE,
    sections(manyStrings).get(1)!.start);
  const longString = stringTable(strings(base).length + 1, STRING_BYTES_LIMIT + 1);
  const justLongEnough = stringTable(strings(base).length + 1, STRING_BYTES_LIMIT);
  pair("string bytes", justLongEnough, longString, V.ERROR_STRING_LENGTH, NONE,
    find(longString, [...uleb(STRING_BYTES_LIMIT + 1), "y".charCodeAt(0)]));
  cases.push({ name: "image above the limit", image: { bytes: new Uint8Array(0), claimedLength: IMAGE_BYTES_LIMIT + 1 },
    error: V.ERROR_IMAGE_SIZE, offset: 0, host: "accepts" });
  return cases;
}

function check(t: ExecutionContext, cases: Case[]): void {
  const { verdicts } = verifyOnInterpreter(cases.map((c) => c.image));
  cases.forEach((c, i) => {
    const expected = { error: c.error, functionIndex: c.error === V.VERIFY_OK ? NONE : c.functionIndex ?? NONE,
      offset: c.offset, reason: V.bytecodeErrorName(c.error) };
    t.deepEqual(verdicts[i], expected, c.name);
    const bytes = c.image instanceof Uint8Array ? c.image : undefined;
    if (!bytes || (c.host === "accepts" && bytes.length > 0x100000)) return;
    let hostError = "";
    try { decodeModule(bytes); } catch (error) { hostError = String(error); }
    if (c.host === "accepts") t.is(hostError, "", `${c.name}: the host accepts it`);
    else t.not(hostError, "", `${c.name}: the host rejects it`);
  });
}

test("the base module is valid for the verifier and the host", (t) => {
  check(t, [{ name: "base", image: base, error: V.VERIFY_OK, offset: 0, host: "accepts" }]);
});

test("format errors: each refused where it is, with its reason", (t) => check(t, formatCases()));
test("bad operands and names: each refused where it is, with its reason", (t) => check(t, referenceCases()));
test("the verifier's own rules: version, entries, symbol table, entry, strings", (t) => check(t, policyCases()));
test("every limit: the largest allowed passes, one more is refused", (t) => check(t, limitCases()));

test("the guest policy: each intrinsic allowed or refused", (t) => {
  const allowed = ["pause", "rdtsc", "rdtscHigh", "memoryCopy", "memoryFill", "invalidOpcode", "divideUnchecked",
    "hypercall", "contextSwitch", "contextCreate", "crc32Word"];
  const cases = INTRINSIC_NAMES.map((name, number): Case => {
    const args = Array.from({ length: INTRINSICS[name].args }, () => 0);
    const image = encode(withFunction((f) => { f.intrinsic(name, args); }, 1));
    const ok = allowed.includes(name);
    const opcode = INTRINSICS[name].result ? [OP_INTRINSIC, 1] : [OP_INTRINSIC_VOID];
    const at = find(image, [...opcode, number, INTRINSICS[name].args], section(3).end);
    return { name, image, error: ok ? V.VERIFY_OK : V.ERROR_FORBIDDEN_INTRINSIC, functionIndex: 4,
      offset: ok ? 0 : at + opcode.length, host: "accepts" };
  });
  check(t, cases);
});

test("linker symbols: image and stack bounds allowed, the native symbol table refused", (t) => {
  const symbols = ["__image_start", "__image_end", "__stack_bottom", "__stack_top", "__symbol_table"];
  const cases = symbols.map((symbol): Case => {
    const image = encode(withFunction((f) => { f.globalAddress(symbol); }));
    const refused = symbol === "__symbol_table";
    return { name: symbol, image, error: refused ? V.ERROR_FORBIDDEN_SYMBOL : V.VERIFY_OK, functionIndex: 4,
      offset: refused ? find(image, [OP_GLOBAL_ADDRESS, 0, stringIndex(image, symbol)]) + 2 : 0, host: "accepts" };
  });
  check(t, cases);
});

test("the read check of the harness catches a read outside the image", (t) => {
  // Told a length beyond the bytes stored, the verifier reads on: the harness must stop it.
  const error = t.throws(() => verifyOnInterpreter([{ bytes: base.subarray(0, 100), claimedLength: base.length }]));
  t.regex(error?.message ?? "", /index out of bounds|trap/);
});

test("a call may leave a result unused", (t) => {
  const image = encode(withFunction((f) => { f.callVoid("helper", [0, 0]); f.call("helper", [0, 0]); }, 1));
  check(t, [{ name: "helper called with and without its result", image, error: V.VERIFY_OK, offset: 0,
    host: "accepts" }]);
});

test("one 1 KiB string stored 500 times: refused at the first equal pair the sort meets", (t) => {
  const repeated = Array<string>(500).fill("z".repeat(STRING_BYTES_LIMIT));
  const image = withSection(base, 1, encodeStrings([...strings(base), ...repeated]));
  const { verdicts: [verdict], instructions } = verifyOnInterpreter([image]);
  t.is(verdict.error, V.ERROR_DUPLICATE_STRING);
  const around = [...image.subarray(verdict.offset - 2, verdict.offset + 1)];
  t.deepEqual(around, [...uleb(STRING_BYTES_LIMIT), "z".charCodeAt(0)], "the offset is one of the repeated strings'");
  // Reading, checking and hashing the 512 KB take about 70 instructions a byte (reads checked); a sort that
  // compared the equal strings in full at each of its ~9,000 steps took 900 a byte.
  t.true(instructions < 100 * image.length, `${instructions} instructions for ${image.length} bytes`);
  t.log(`${instructions} instructions for ${image.length} bytes`);
});

test("docs/bytecode.md lists every error code with its name and reason", (t) => {
  const text = readFileSync(join(ROOT, "docs", "bytecode.md"), "utf8");
  const documented = [...text.matchAll(/^\| (\d+) \| `(\w+)` \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2], m[3]]);
  const defined = Object.entries(V)
    .filter(([name, value]) => /^(ERROR_|VERIFY_OK$)/.test(name) && typeof value === "number")
    .map(([name, value]) => [value as number, name, V.bytecodeErrorName(value as number)])
    .sort((a, b) => +a[0] - +b[0]);
  t.deepEqual(documented, defined);
});
