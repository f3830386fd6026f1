// Small DNBC images for the verifier's tests, and byte-level tools to make bad ones: a base module that
// uses every kind of operand the verifier checks, the section framing of an image, unique byte
// patterns and one-byte differences (so that a test knows where a problem is without a second decoder).
import type { Function, Module } from "../../../compiler/ir.ts";
import { FunctionBuilder } from "../../../compiler/builder.ts";
import { encodeModule } from "../../../compiler/bytecode/encode.ts";

/**
 * main(magic, bootInfo) uses a slot, data and function addresses, a direct call with and without a
 * result, an indirect call, two guest intrinsics, a branch, a trap and a return; helper(x, y) -> x + y;
 * sink(x); trap(kind) is the trap handler. Data: greeting (rodata), table (data, relocated to greeting
 * and helper), zeros (bss). All registers, blocks and counts stay below 128: one-byte LEBs.
 */
export function baseModule(): Module {
  const helper = new FunctionBuilder("helper", 2, true);
  helper.ret(helper.binary("add", helper.param(0), helper.param(1)));
  const sink = new FunctionBuilder("sink", 1, false);
  sink.ret();
  const trap = new FunctionBuilder("trap", 1, false);
  trap.unreachable();

  const f = new FunctionBuilder("main", 2, false);
  const slot = f.newSlot(8, 4, "local");
  const five = f.constant(5), minusThree = f.constant(-3);   // v2 v3
  const copied = f.newReg();                                  // v4
  f.copy(copied, five);
  const sum = f.binary("add", five, minusThree);              // v5
  const local = f.slotAddress(slot);                          // v6
  f.store(4, local, sum);
  const loaded = f.load(4, false, local);                     // v7
  f.globalAddress("table");                                   // v8
  const helperAddress = f.functionAddress("helper");          // v9
  const result = f.call("helper", [five, minusThree]);        // v10
  f.callVoid("sink", [result]);
  f.callIndirect(helperAddress, [five, minusThree]);          // v11
  f.intrinsic("memoryFill", [local, five, f.constant(8)]);    // v12 = 8
  f.intrinsic("hypercall", [five, five, five, five, five]);   // v13
  const yes = f.newBlock(), done = f.newBlock();
  f.branch(loaded, yes, done);
  f.switchTo(yes);
  f.trap(2);
  f.jump(done);
  f.switchTo(done);
  f.ret();
  return {
    functions: [f.finish(), helper.finish(), sink.finish(), trap.finish()],
    data: [
      { name: "greeting", section: "rodata", align: 1, size: 6, bytes: new TextEncoder().encode("hello\0"),
        relocations: [] },
      { name: "table", section: "data", align: 4, size: 8, bytes: new Uint8Array(8),
        relocations: [
          { offset: 0, symbol: "greeting", kind: "data" }, { offset: 4, symbol: "helper", kind: "function" },
        ] },
      { name: "zeros", section: "bss", align: 16, size: 16, relocations: [] },
    ],
    entry: "main",
    trapHandler: "trap",
  };
}

/** The bytes of a module, without the host checker (the point is often a module it would refuse). */
export const encode = (module: Module): Uint8Array => encodeModule(module, { verify: false });

/** A deep copy of the base module changed by `change`, encoded. */
export function mutated(change: (module: Module, f: (name: string) => Function) => void): Uint8Array {
  const module = structuredClone(baseModule());
  change(module, (name) => module.functions.find((f) => f.name === name)!);
  return encode(module);
}

export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function readUleb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0, scale = 1, i = at;
  for (;;) {
    const byte = bytes[i++];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, i];
  }
}

/** The section framing of a well-formed image: id's offset, contents' start and end, for ids 1..4. */
export function sections(bytes: Uint8Array): Map<number, { at: number; start: number; end: number }> {
  const out = new Map<number, { at: number; start: number; end: number }>();
  let at = 6;
  while (at < bytes.length) {
    const id = bytes[at];
    const [length, start] = readUleb(bytes, at + 1);
    out.set(id, { at, start, end: start + length });
    at = start + length;
  }
  return out;
}

/** The image with section `id`'s contents replaced (its length field rewritten). */
export function withSection(bytes: Uint8Array, id: number, contents: number[] | Uint8Array): Uint8Array {
  const s = sections(bytes).get(id)!;
  const framed = [id, ...uleb(contents.length), ...contents];
  return new Uint8Array([...bytes.subarray(0, s.at), ...framed, ...bytes.subarray(s.end)]);
}

/** The strings of the string table, in index order. */
export function strings(bytes: Uint8Array): string[] {
  const s = sections(bytes).get(1)!;
  let [count, at] = readUleb(bytes, s.start);
  const out: string[] = [];
  while (count-- > 0) {
    const [length, start] = readUleb(bytes, at);
    out.push(new TextDecoder().decode(bytes.subarray(start, start + length)));
    at = start + length;
  }
  return out;
}

export function stringIndex(bytes: Uint8Array, name: string): number {
  const index = strings(bytes).indexOf(name);
  if (index < 0) throw new Error(`no string ${name}`);
  return index;
}

/** The offset of the only occurrence of `pattern` in `bytes` (throws unless exactly one). */
export function find(bytes: Uint8Array, pattern: number[], from = 0): number {
  const hits: number[] = [];
  for (let i = from; i + pattern.length <= bytes.length; i++) {
    if (pattern.every((byte, k) => bytes[i + k] === byte)) hits.push(i);
  }
  if (hits.length !== 1) throw new Error(`pattern ${pattern} found ${hits.length} times`);
  return hits[0];
}

/** The offset of the first byte where a and b differ. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) throw new Error("the images are equal");
  return i;
}

/** The offset of the only byte where a and b (of one length) differ. */
export function onlyDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
  if (differing.length !== 1) throw new Error(`${differing.length} bytes differ`);
  return differing[0];
}
