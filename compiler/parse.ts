// Contract: the IR text parser, the inverse of compiler/print.ts: parseFunction(printFunction(f)) and
// parseModule(printModule(m, { completeData: true })) give back f and m, but for what the text leaves
// out: source locations (`; line N` and every other `;` comment is skipped) and registers numbered past
// the highest one the function names (vregCount is one past that, or the parameter count). The
// grammar, one construct a line:
//
//   entry NAME, trap handler NAME
//   interrupt NAME vector N handler NAME
//   data NAME .rodata|.data|.bss size N align N [= [BYTE ...]] [relocations +OFFSET:data|function:NAME ...]
//   function NAME(v0, v1, ...) [-> i32] {
//     slot N: SIZE bytes, align N, "NAME"
//   bN:
//     INSTRUCTION ...     as printInstr writes them (vD = add vA, vB; store.32 [vA + 4], vB; call f(vA) ...)
//     TERMINATOR          jump bN | branch vC, bT, bF | return [vX] | unreachable
//   }
//
// Ops are looked up in the op table (ir.OPS, ir.INTRINSICS, ir.TRAP_NAMES), so a new binary or unary op
// parses without a change here. Guarantees: well-formed shapes (register and block numbers, widths,
// int32 constants); whether the result verifies is compiler/verify.ts's business. Errors are thrown as
// IrParseError `file:line:column - error: message`.
import * as ir from './ir.ts';

class IrParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IrParseError';
  }
}

/** What parseModule reads: a Module, whose entry and trap handler a text may leave out (test/ir adds them). */
type ParsedModule = Omit<ir.Module, 'entry' | 'trapHandler'> & Partial<Pick<ir.Module, 'entry' | 'trapHandler'>>;

const NAME = /[A-Za-z_$.][A-Za-z0-9_$.]*/y;
const INTEGER = /-?(0x[0-9a-fA-F]+|\d+)/y;
const BINARY_OPS = new Set(Object.keys(ir.OPS).filter(k => ir.OPS[k as ir.Opcode].form === 'binary'));
const UNARY_OPS = new Set(Object.keys(ir.OPS).filter(k => ir.OPS[k as ir.Opcode].form === 'unary'));
const WIDTHS: Record<string, ir.Width> = { 8: 1, 16: 2, 32: 4 };

/** One line of text, read left to right; every failure names the file, the line and the column. */
class LineReader {
  at = 0;
  constructor(readonly text: string, readonly file: string, readonly line: number) {}

  fail(message: string, at = this.at): never {
    throw new IrParseError(`${this.file}:${this.line}:${at + 1} - error: ${message}`);
  }
  private skipSpaces(): void { while (this.text[this.at] === ' ') this.at++; }
  /** Where the next token starts. */
  here(): number { this.skipSpaces(); return this.at; }
  atEnd(): boolean { this.skipSpaces(); return this.at >= this.text.length; }
  /** Consumes `literal` if it comes next (after spaces). */
  accept(literal: string): boolean {
    this.skipSpaces();
    if (!this.text.startsWith(literal, this.at)) return false;
    this.at += literal.length;
    return true;
  }
  expect(literal: string): void { if (!this.accept(literal)) this.fail(`expected '${literal}'`); }
  /** Consumes the word `word` if it comes next as a whole word (not the start of a longer name). */
  keyword(word: string): boolean {
    const start = this.at;
    if (!this.accept(word)) return false;
    if (/[A-Za-z0-9_$.]/.test(this.text[this.at] ?? '')) { this.at = start; return false; }
    return true;
  }
  /** Whether the line goes on with `vN =` (an instruction that defines a register). */
  definesRegister(): boolean { return /^ *v\d+ *=/.test(this.text.slice(this.at)); }
  private match(pattern: RegExp, what: string): string {
    this.skipSpaces();
    pattern.lastIndex = this.at;
    const m = pattern.exec(this.text);
    if (!m) this.fail(`expected ${what}`);
    this.at += m[0].length;
    return m[0];
  }
  name(): string { return this.match(NAME, 'a name'); }
  /** An integer within [min, max]. */
  integer(min = -0x80000000, max = 0x7fffffff): number {
    const start = this.here();
    const text = this.match(INTEGER, 'an integer');
    const value = text.startsWith('-') ? -Number(text.slice(1)) : Number(text);
    if (value < min || value > max) this.fail(`${text} is outside ${min}..${max}`, start);
    return value;
  }
  register(): ir.VReg { this.expect('v'); return this.integer(0, 0xffffffff); }
  block(): number { this.expect('b'); return this.integer(0, 0xffffffff); }
  /** `(vA, vB, ...)` */
  registerList(): ir.VReg[] {
    this.expect('(');
    const list: ir.VReg[] = [];
    if (this.accept(')')) return list;
    do list.push(this.register()); while (this.accept(','));
    this.expect(')');
    return list;
  }
  /** `[vA]`, `[vA + N]` or `[vA - N]`. */
  address(): { address: ir.VReg; offset: number } {
    this.expect('[');
    const address = this.register();
    let offset = 0;
    if (this.accept('+')) offset = this.integer(0, 0x7fffffff);
    else if (this.accept('-')) offset = -this.integer(0, 0x80000000);
    this.expect(']');
    return { address, offset };
  }
  /** The rest of the line is nothing (or a comment). */
  end(): void { if (!this.atEnd()) this.fail(`unexpected '${this.text.slice(this.at)}'`); }
}

/** The lines of a text without comments, each with its number (1-based). */
function codeLines(text: string): Line[] {
  return text.split('\n').map((raw, k) => {
    // `;` starts a comment, except inside a slot's quoted name
    let quoted = false, end = raw.length;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '"' && raw[i - 1] !== '\\') quoted = !quoted;
      else if (raw[i] === ';' && !quoted) { end = i; break; }
    }
    return { text: raw.slice(0, end).trimEnd(), line: k + 1 };
  }).filter(l => l.text.trim() !== '');
}

export function parseModule(text: string, file = '<ir>'): ParsedModule {
  const lines = codeLines(text);
  const module: ParsedModule = { functions: [], data: [] };
  for (let k = 0; k < lines.length;) {
    const r = new LineReader(lines[k].text, file, lines[k].line);
    if (r.keyword('function')) { k = parseFunctionAt(lines, k, file, module.functions); continue; }
    if (r.keyword('entry')) {
      if (module.entry !== undefined) r.fail('a second entry line');
      module.entry = r.name();
      r.expect(','); r.expect('trap'); r.expect('handler');
      module.trapHandler = r.name();
    } else if (r.keyword('interrupt')) {
      const name = r.name();
      r.expect('vector');
      const vector = r.integer(0, ir.INTERRUPT_ENTRY_VECTOR_MAX);
      r.expect('handler');
      (module.interruptEntries ??= []).push({ name, vector, handler: r.name() });
    } else if (r.keyword('data')) {
      module.data.push(parseData(r));
    } else {
      r.fail('expected function, data, interrupt or entry');
    }
    r.end();
    k++;
  }
  return module;
}

/** The text of exactly one function (as printFunction writes it). */
export function parseFunction(text: string, file = '<ir>'): ir.Function {
  const m = parseModule(text, file);
  if (m.functions.length !== 1 || m.data.length || m.entry !== undefined || m.interruptEntries) {
    throw new IrParseError(`${file}: expected exactly one function`);
  }
  return m.functions[0];
}

function parseData(r: LineReader): ir.DataSymbol {
  const name = r.name();
  const sectionAt = r.here();
  r.expect('.');
  const section = r.name() as ir.DataSymbol['section'];
  if (section !== 'rodata' && section !== 'data' && section !== 'bss') r.fail(`unknown section .${section}`, sectionAt);
  r.expect('size');
  const size = r.integer(0, 0xffffffff);
  r.expect('align');
  const symbol: ir.DataSymbol = { name, section, align: r.integer(1, 0xffffffff), size, relocations: [] };
  if (r.accept('=')) {
    r.expect('[');
    const bytes: number[] = [];
    while (!r.accept(']')) {
      if (r.accept('...')) r.fail(`the bytes of ${name} were elided by the printer (print with completeData)`);
      bytes.push(r.integer(0, 255));
    }
    symbol.bytes = new Uint8Array(bytes);
  }
  if (r.accept('relocations')) {
    do {
      r.expect('+');
      const offset = r.integer(0, 0xffffffff);
      r.expect(':');
      const kindAt = r.at;
      const kind = r.name();
      if (kind !== 'data' && kind !== 'function') r.fail(`unknown relocation kind '${kind}'`, kindAt);
      r.expect(':');
      symbol.relocations.push({ offset, symbol: r.name(), kind });
    } while (!r.atEnd());
  }
  return symbol;
}

type Line = { text: string; line: number };

/** Parses the function starting at lines[k] into `into`; returns the index of the line after its `}`. */
function parseFunctionAt(lines: Line[], k: number, file: string, into: ir.Function[]): number {
  const header = new LineReader(lines[k].text, file, lines[k].line);
  header.keyword('function');
  const name = header.name();
  const params = header.registerList();
  params.forEach((p, i) => { if (p !== i) header.fail(`parameter ${i} must be v${i}`); });
  const returnsValue = header.accept('->');
  if (returnsValue) header.expect('i32');
  header.expect('{');
  header.end();
  const f: ir.Function = { name, params: params.length, returnsValue, vregCount: params.length, slots: [], blocks: [] };
  const seen = (v: ir.VReg) => { if (v >= f.vregCount) f.vregCount = v + 1; return v; };
  let block: ir.Block | null = null;
  for (k++; k < lines.length; k++) {
    const r = new LineReader(lines[k].text, file, lines[k].line);
    const closing = r.here();
    if (r.accept('}')) {
      r.end();
      if (block !== null) r.fail(`block b${block.id} has no terminator`, closing);
      if (f.blocks.length === 0) r.fail(`function ${name} has no blocks`, closing);
      into.push(f);
      return k + 1;
    }
    if (block === null) {
      if (r.keyword('slot')) { f.slots.push(parseSlot(r, f.slots.length)); r.end(); continue; }
      if (!r.accept('b')) r.fail(f.blocks.length ? 'expected a block label bN: (after a terminator)' : 'expected b0:');
      const id = r.integer(0, 0xffffffff);
      if (id !== f.blocks.length) r.fail(`expected block b${f.blocks.length}`);
      r.expect(':');
      r.end();
      block = { id, instrs: [], term: { op: 'unreachable' } };
      f.blocks.push(block);
      continue;
    }
    const term = parseTerminator(r, seen);
    if (term) { block.term = term; block = null; }
    else block.instrs.push(ir.mapDefs(ir.mapUses(parseInstr(r), seen), seen));
    r.end();
  }
  const last = lines[lines.length - 1];
  return new LineReader(last.text, file, last.line).fail(`function ${name} has no closing '}'`);
}

function parseSlot(r: LineReader, index: number): ir.FrameSlot {
  if (r.integer(0, 0xffffffff) !== index) r.fail(`expected slot ${index}`);
  r.expect(':');
  const size = r.integer(0, 0xffffffff);
  r.expect('bytes'); r.expect(','); r.expect('align');
  const align = r.integer(1, 0xffffffff);
  r.expect(',');
  r.expect('"');
  const start = r.at - 1;
  let end = start + 1;
  while (end < r.text.length && !(r.text[end] === '"' && r.text[end - 1] !== '\\')) end++;
  if (end >= r.text.length) r.fail('unterminated slot name', start);
  r.at = end + 1;
  return { size, align, name: JSON.parse(r.text.slice(start, end + 1)) as string };
}

/** A terminator, or null when the line is not one (nothing consumed then). */
function parseTerminator(r: LineReader, seen: (v: ir.VReg) => ir.VReg): ir.Terminator | null {
  if (r.keyword('jump')) return { op: 'jump', target: r.block() };
  if (r.keyword('branch')) {
    const cond = seen(r.register());
    r.expect(',');
    const ifTrue = r.block();
    r.expect(',');
    return { op: 'branch', cond, ifTrue, ifFalse: r.block() };
  }
  if (r.keyword('return')) return { op: 'return', value: r.atEnd() ? null : seen(r.register()) };
  if (r.keyword('unreachable')) return { op: 'unreachable' };
  return null;
}

function parseInstr(r: LineReader): ir.Instr {
  if (r.accept('store.')) {
    const width = parseWidth(r, r.integer(8, 32));
    const { address, offset } = r.address();
    r.expect(',');
    return { op: 'store', width, address, offset, value: r.register() };
  }
  if (r.keyword('trap')) {
    const at = r.here();
    const kind = ir.TRAP_NAMES.findIndex(n => r.accept(n));
    if (kind < 0) r.fail(`unknown trap kind (one of: ${ir.TRAP_NAMES.join(', ')})`, at);
    return { op: 'trap', kind: kind as ir.TrapKind };
  }
  // [vD =] call / intrinsic, or vD = op ...
  let dst: ir.VReg | null = null;
  if (r.definesRegister()) { dst = r.register(); r.expect('='); }
  if (r.keyword('call')) {
    if (r.accept('*')) {
      const target = r.register();
      return { op: 'callIndirect', dst, target, args: r.registerList() };
    }
    const func = r.name();
    return { op: 'call', dst, func, args: r.registerList() };
  }
  const at = r.here();
  const word = r.name();
  if (Object.hasOwn(ir.INTRINSICS, word)) {
    return { op: 'intrinsic', dst, name: word as ir.IntrinsicName, args: r.registerList() };
  }
  if (dst === null) r.fail(`expected an instruction`, at);
  if (BINARY_OPS.has(word)) {
    const a = r.register();
    r.expect(',');
    return { op: 'binary', kind: word as ir.BinaryOp, dst, a, b: r.register() };
  }
  if (UNARY_OPS.has(word)) return { op: 'unary', kind: word as ir.UnaryOp, dst, a: r.register() };
  switch (word) {
    case 'const': return { op: 'const', dst, value: r.integer() };
    case 'copy': return { op: 'copy', dst, src: r.register() };
    case 'select': {
      const cond = r.register();
      r.expect(',');
      const ifTrue = r.register();
      r.expect(',');
      return { op: 'select', dst, cond, ifTrue, ifFalse: r.register() };
    }
    case 'address': return { op: 'globalAddress', dst, symbol: r.name() };
    case 'function': return { op: 'functionAddress', dst, func: r.name() };
    case 'slot': return { op: 'slotAddress', dst, slot: r.integer(0, 0xffffffff) };
  }
  const load = /^load\.([su])(8|16|32)$/.exec(word); // a name may hold dots: load.s8 is one word
  if (load) {
    const { address, offset } = r.address();
    return { op: 'load', width: WIDTHS[load[2]], signed: load[1] === 's', dst, address, offset };
  }
  return r.fail(`unknown op '${word}'`, at);
}

function parseWidth(r: LineReader, bits: number): ir.Width {
  const width = WIDTHS[bits];
  if (width === undefined) r.fail(`width ${bits} is not 8, 16 or 32`);
  return width;
}
