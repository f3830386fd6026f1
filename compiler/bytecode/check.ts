// The bytecode verifier: the checks a module must pass before it is encoded or after it is decoded,
// so that the interpreter never meets an index out of range.
// Requires nothing; guarantees, when it returns: every vreg < vregCount, every block target and slot
// index in range, every named function/data symbol exists (calls match the callee's parameter count
// and return kind), intrinsic arities match ir.ts, integers are in range, entry and trapHandler exist.

import {
  INTRINSICS, INTERRUPT_ENTRY_VECTOR_MAX, isLinkerSymbol, type Function, type Instr, type Module, type Terminator,
} from "../ir.ts";
import { BINARY_OPS, BytecodeFormatError, DATA_SECTION_KINDS, RELOCATION_KINDS, UNARY_OPS } from "./format.ts";

const isInt32 = (x: unknown): boolean => typeof x === "number" && Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff;
const isU32 = (x: unknown): boolean => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
const isPowerOfTwo = (x: number): boolean => isU32(x) && x >= 1 && x <= 0x80000000 && (x & (x - 1)) === 0;

/** Throws BytecodeFormatError naming the first problem found. */
export function checkModule(module: Module): void {
  const fail = (where: string, message: string): never => {
    throw new BytecodeFormatError(`invalid module: ${where}: ${message}`);
  };

  const functions = new Map<string, Function>();
  for (const func of module.functions) {
    if (typeof func.name !== "string") fail("function", "name is not a string");
    if (functions.has(func.name)) fail(`function ${func.name}`, "defined twice");
    functions.set(func.name, func);
  }
  const entryNames = new Set<string>();
  for (const entry of module.interruptEntries ?? []) {
    if (functions.has(entry.name) || entryNames.has(entry.name)) fail(`interrupt entry ${entry.name}`, "defined twice");
    if (!isU32(entry.vector) || entry.vector > INTERRUPT_ENTRY_VECTOR_MAX) {
      fail(`interrupt entry ${entry.name}`, `vector ${entry.vector} outside 0..${INTERRUPT_ENTRY_VECTOR_MAX}`);
    }
    if (functions.get(entry.handler)?.params !== 1) fail(`interrupt entry ${entry.name}`, `handler ${entry.handler} is not a function of one parameter`);
    entryNames.add(entry.name);
  }
  const isCode = (name: string): boolean => functions.has(name) || entryNames.has(name);
  const dataNames = new Set<string>();
  for (const symbol of module.data) {
    if (typeof symbol.name !== "string") fail("data symbol", "name is not a string");
    if (dataNames.has(symbol.name)) fail(`data symbol ${symbol.name}`, "defined twice");
    dataNames.add(symbol.name);
  }

  for (const symbol of module.data) {
    const where = `data symbol ${symbol.name}`;
    if (!DATA_SECTION_KINDS.includes(symbol.section)) fail(where, `unknown section ${String(symbol.section)}`);
    if (!isPowerOfTwo(symbol.align)) fail(where, `alignment ${symbol.align} is not a power of two`);
    if (!isU32(symbol.size)) fail(where, `size ${symbol.size} is not a 32-bit unsigned integer`);
    if (symbol.bytes !== undefined) {
      if (!(symbol.bytes instanceof Uint8Array)) fail(where, "bytes is not a Uint8Array");
      if (symbol.section === "bss") fail(where, "a bss symbol has no bytes");
      if (symbol.bytes.length !== symbol.size) fail(where, `has ${symbol.bytes.length} bytes but size ${symbol.size}`);
    }
    for (const relocation of symbol.relocations) {
      if (!RELOCATION_KINDS.includes(relocation.kind)) fail(where, `unknown relocation kind ${String(relocation.kind)}`);
      if (!isU32(relocation.offset) || relocation.offset + 4 > symbol.size) {
        fail(where, `relocation at offset ${relocation.offset} does not fit in ${symbol.size} bytes`);
      }
      const known = relocation.kind === "data" ? dataNames.has(relocation.symbol) : isCode(relocation.symbol);
      if (!known) fail(where, `relocation names unknown ${relocation.kind} symbol ${relocation.symbol}`);
    }
  }

  for (const func of module.functions) checkFunction(func, functions, dataNames, isCode, fail);

  const entry = functions.get(module.entry);
  if (!entry) fail("module", `entry function ${module.entry} is not defined`);
  const trapHandler = functions.get(module.trapHandler);
  if (!trapHandler) fail("module", `trap handler ${module.trapHandler} is not defined`);
  else if (trapHandler.params !== 1) fail("module", `trap handler ${module.trapHandler} must take 1 parameter, not ${trapHandler.params}`);
}

function checkFunction(
  func: Function,
  functions: Map<string, Function>,
  dataNames: Set<string>,
  isCode: (name: string) => boolean,
  fail: (where: string, message: string) => never,
): void {
  const here = `function ${func.name}`;
  if (!isU32(func.vregCount)) fail(here, `vregCount ${func.vregCount} is not an unsigned integer`);
  if (!isU32(func.params) || func.params > func.vregCount) fail(here, `params ${func.params} exceeds vregCount ${func.vregCount}`);
  if (typeof func.returnsValue !== "boolean") fail(here, "returnsValue is not a boolean");
  func.slots.forEach((slot, index) => {
    if (!isU32(slot.size)) fail(here, `slot ${index} size ${slot.size} is not an unsigned integer`);
    if (!isPowerOfTwo(slot.align)) fail(here, `slot ${index} alignment ${slot.align} is not a power of two`);
  });
  if (func.blocks.length === 0) fail(here, "has no blocks");

  func.blocks.forEach((block, blockIndex) => {
    if (block.id !== blockIndex) fail(here, `block at index ${blockIndex} has id ${block.id}`);
    block.instrs.forEach((instr, instrIndex) => {
      const where = `${here}, block ${blockIndex}, instruction ${instrIndex} (${instr.op})`;
      checkInstr(instr, func, functions, dataNames, isCode, (message) => fail(where, message));
    });
    checkTerminator(block.term, func, (message) => fail(`${here}, block ${blockIndex}, terminator (${block.term.op})`, message));
  });
}

function checkInstr(
  instr: Instr,
  func: Function,
  functions: Map<string, Function>,
  dataNames: Set<string>,
  isCode: (name: string) => boolean,
  fail: (message: string) => never,
): void {
  const reg = (name: string, vreg: unknown): void => {
    if (!isU32(vreg) || (vreg as number) >= func.vregCount) fail(`${name} v${String(vreg)} is out of range (vregCount ${func.vregCount})`);
  };
  const dst = (vreg: number | null): void => {
    if (vreg !== null) reg("dst", vreg);
  };
  const args = (list: number[]): void => list.forEach((arg, i) => reg(`argument ${i}`, arg));

  switch (instr.op) {
    case "const":
      reg("dst", instr.dst);
      if (!isInt32(instr.value)) fail(`value ${instr.value} is not an int32`);
      return;
    case "copy": reg("dst", instr.dst); reg("src", instr.src); return;
    case "select": reg("dst", instr.dst); reg("cond", instr.cond); reg("ifTrue", instr.ifTrue); reg("ifFalse", instr.ifFalse); return;
    case "binary":
      if (!BINARY_OPS.includes(instr.kind)) fail(`unknown binary op ${String(instr.kind)}`);
      reg("dst", instr.dst); reg("a", instr.a); reg("b", instr.b);
      return;
    case "unary":
      if (!UNARY_OPS.includes(instr.kind)) fail(`unknown unary op ${String(instr.kind)}`);
      reg("dst", instr.dst); reg("a", instr.a);
      return;
    case "load":
    case "store":
      if (instr.width !== 1 && instr.width !== 2 && instr.width !== 4) fail(`width ${String(instr.width)} is not 1, 2 or 4`);
      if (!isInt32(instr.offset)) fail(`offset ${instr.offset} is not an int32`);
      reg("address", instr.address);
      if (instr.op === "load") {
        reg("dst", instr.dst);
        if (typeof instr.signed !== "boolean") fail("signed is not a boolean");
      } else {
        reg("value", instr.value);
      }
      return;
    case "globalAddress":
      reg("dst", instr.dst);
      if (!dataNames.has(instr.symbol) && !isLinkerSymbol(instr.symbol)) fail(`unknown data symbol ${instr.symbol}`);
      return;
    case "functionAddress":
      reg("dst", instr.dst);
      if (!isCode(instr.func)) fail(`unknown function ${instr.func}`);
      return;
    case "slotAddress":
      reg("dst", instr.dst);
      if (!isU32(instr.slot) || instr.slot >= func.slots.length) fail(`slot ${instr.slot} is out of range (${func.slots.length} slots)`);
      return;
    case "call": {
      const callee = functions.get(instr.func);
      if (!callee) return fail(`unknown function ${instr.func}`);
      dst(instr.dst);
      args(instr.args);
      if (instr.args.length !== callee.params) fail(`${instr.func} takes ${callee.params} arguments, given ${instr.args.length}`);
      if (instr.dst !== null && !callee.returnsValue) fail(`${instr.func} returns no value`);
      return;
    }
    case "callIndirect":
      dst(instr.dst);
      reg("target", instr.target);
      args(instr.args);
      return;
    case "intrinsic": {
      const info = Object.hasOwn(INTRINSICS, instr.name) ? INTRINSICS[instr.name] : undefined;
      if (!info) return fail(`unknown intrinsic ${String(instr.name)}`);
      dst(instr.dst);
      args(instr.args);
      if (instr.args.length !== info.args) fail(`${instr.name} takes ${info.args} arguments, given ${instr.args.length}`);
      if (instr.dst !== null && !info.result) fail(`${instr.name} produces no value`);
      return;
    }
    case "trap":
      if (instr.kind !== 0 && instr.kind !== 1 && instr.kind !== 2) fail(`unknown trap kind ${String(instr.kind)}`);
      return;
    default:
      fail(`unknown instruction ${String((instr as { op: unknown }).op)}`);
  }
}

function checkTerminator(term: Terminator, func: Function, fail: (message: string) => never): void {
  const block = (name: string, target: number): void => {
    if (!isU32(target) || target >= func.blocks.length) fail(`${name} block ${target} is out of range (${func.blocks.length} blocks)`);
  };
  const reg = (name: string, vreg: number): void => {
    if (!isU32(vreg) || vreg >= func.vregCount) fail(`${name} v${vreg} is out of range (vregCount ${func.vregCount})`);
  };
  switch (term.op) {
    case "jump": block("target", term.target); return;
    case "branch": reg("cond", term.cond); block("ifTrue", term.ifTrue); block("ifFalse", term.ifFalse); return;
    case "return":
      if (term.value === null) {
        if (func.returnsValue) fail(`${func.name} must return a value`);
      } else {
        reg("value", term.value);
        if (!func.returnsValue) fail(`${func.name} returns no value`);
      }
      return;
    case "unreachable": return;
    default: fail(`unknown terminator ${String((term as { op: unknown }).op)}`);
  }
}
