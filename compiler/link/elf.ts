// Contract: writes an ELF32 i386 ET_EXEC file from laid-out sections, segments and symbols (bytes by hand: headers are
// data).
//
// File layout: ELF header, program headers, then each PT_LOAD segment at a page-aligned file offset
// (p_offset = p_vaddr mod 4096 as loaders require), then the non-allocated sections (DWARF: in no
// segment, loaded by nobody, so they change nothing of the image in memory), .symtab, .strtab, .shstrtab
// and the section header table. Field layouts: System V ABI, "ELF header", "Program header", "Sections",
// "Symbol Table" (Elf32_Ehdr 52 bytes, Elf32_Phdr 32, Elf32_Shdr 40, Elf32_Sym 16).

export const PAGE_SIZE = 0x1000;

type SegmentFlags = "r" | "rx" | "rw";

export interface ElfSection {
  name: string;
  /** progbits carry `bytes`; nobits (.bss) occupy `size` bytes of memory only. */
  kind: "progbits" | "nobits";
  address: number;
  size: number;
  align: number;
  bytes?: Uint8Array;
  flags: SegmentFlags;
  /** Executable code (SHF_EXECINSTR); an `rx` segment may also hold data such as the multiboot header. */
  code?: boolean;
}

/** A PT_LOAD segment: consecutive sections, in address order, that share one page-aligned mapping. */
export interface ElfSegment { flags: SegmentFlags; sections: string[] }

export interface ElfSymbol { name: string; value: number; size: number; type: "func" | "object" | "notype"; section: string }

/** A section in no segment (SHF_ALLOC clear): debug information for the debugger, never loaded. */
export interface ElfInfoSection { name: string; bytes: Uint8Array }

interface ElfImage {
  entry: number; sections: ElfSection[]; segments: ElfSegment[]; symbols: ElfSymbol[]; info?: ElfInfoSection[];
}

const PT_LOAD = 1;
const PF_X = 1, PF_W = 2, PF_R = 4;
const SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
const SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;
const STB_GLOBAL = 1;
const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2;
const EHDR_SIZE = 52, PHDR_SIZE = 32, SHDR_SIZE = 40, SYM_SIZE = 16;

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
const segmentFlagBits = (f: SegmentFlags): number => PF_R | (f === "rx" ? PF_X : 0) | (f === "rw" ? PF_W : 0);
const sectionFlagBits = (s: ElfSection): number => SHF_ALLOC | (s.flags === "rw" ? SHF_WRITE : 0) | (s.code ? SHF_EXECINSTR : 0);

class StringTable {
  private parts: Uint8Array[] = [new Uint8Array(1)];
  private length = 1;
  private index = new Map<string, number>([["", 0]]);
  add(s: string): number {
    const known = this.index.get(s);
    if (known !== undefined) return known;
    const at = this.length;
    const bytes = new TextEncoder().encode(s + "\0");
    this.parts.push(bytes);
    this.length += bytes.length;
    this.index.set(s, at);
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

export function writeElf32(image: ElfImage): Uint8Array {
  const byName = new Map(image.sections.map((s) => [s.name, s]));
  const sectionIndex = new Map(image.sections.map((s, i) => [s.name, i + 1])); // 0 is SHN_UNDEF

  // ---- segments: page-aligned file offsets ----
  const phnum = image.segments.length;
  let fileEnd = EHDR_SIZE + PHDR_SIZE * phnum;
  const sectionOffset = new Map<string, number>();
  const phdrs = image.segments.map((seg) => {
    const secs = seg.sections.map((n) => {
      const s = byName.get(n);
      if (!s) throw new Error(`elf: segment names unknown section '${n}'`);
      return s;
    });
    const vaddr = secs[0].address;
    if (vaddr % PAGE_SIZE !== 0) throw new Error(`elf: segment starting with ${secs[0].name} at 0x${vaddr.toString(16)} is not page-aligned`);
    const offset = alignUp(fileEnd, PAGE_SIZE);
    let fileSize = 0, memSize = 0;
    for (const s of secs) {
      if (s.address < vaddr + memSize) throw new Error(`elf: section ${s.name} overlaps the previous one`);
      sectionOffset.set(s.name, offset + (s.address - vaddr));
      if (s.kind === "progbits") {
        if (fileSize < memSize) throw new Error(`elf: progbits section ${s.name} follows a nobits section in one segment`);
        fileSize = s.address - vaddr + s.size;
      }
      memSize = s.address - vaddr + s.size;
    }
    fileEnd = offset + fileSize;
    return { offset, vaddr, fileSize, memSize, flags: segmentFlagBits(seg.flags) };
  });
  for (const s of image.sections) if (!sectionOffset.has(s.name)) sectionOffset.set(s.name, alignUp(fileEnd, 4));

  // ---- symbol table (all symbols global, after the null symbol) ----
  const strtab = new StringTable();
  const symtab = new Uint8Array(SYM_SIZE * (image.symbols.length + 1));
  const symView = new DataView(symtab.buffer);
  image.symbols.forEach((sym, i) => {
    const at = SYM_SIZE * (i + 1);
    const shndx = sectionIndex.get(sym.section);
    if (shndx === undefined) throw new Error(`elf: symbol ${sym.name} names unknown section '${sym.section}'`);
    const type = sym.type === "func" ? STT_FUNC : sym.type === "object" ? STT_OBJECT : STT_NOTYPE;
    symView.setUint32(at + 0, strtab.add(sym.name), true);
    symView.setUint32(at + 4, sym.value >>> 0, true);
    symView.setUint32(at + 8, sym.size >>> 0, true);
    symView.setUint8(at + 12, (STB_GLOBAL << 4) | type);
    symView.setUint8(at + 13, 0);
    symView.setUint16(at + 14, shndx, true);
  });
  const strtabBytes = strtab.bytes();

  // ---- non-allocated sections and section names ----
  const shstrtab = new StringTable();
  const info = image.info ?? [];
  const infoNames = info.map((s) => s.name);
  const names = [...image.sections.map((s) => s.name), ...infoNames, ".symtab", ".strtab", ".shstrtab"]
    .map((n) => shstrtab.add(n));
  const shstrtabBytes = shstrtab.bytes();
  const infoOffsets: number[] = [];
  for (const s of info) { infoOffsets.push(fileEnd); fileEnd += s.bytes.length; }
  const symtabOffset = alignUp(fileEnd, 4);
  const strtabOffset = symtabOffset + symtab.length;
  const shstrtabOffset = strtabOffset + strtabBytes.length;
  const shoff = alignUp(shstrtabOffset + shstrtabBytes.length, 4);
  const shnum = image.sections.length + info.length + 4;
  const total = shoff + SHDR_SIZE * shnum;

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);

  // ---- ELF header ----
  out.set([0x7f, 0x45, 0x4c, 0x46, 1 /* ELFCLASS32 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */, 0 /* ELFOSABI_SYSV */], 0);
  view.setUint16(16, 2, true);  // e_type ET_EXEC
  view.setUint16(18, 3, true);  // e_machine EM_386
  view.setUint32(20, 1, true);  // e_version
  view.setUint32(24, image.entry >>> 0, true);
  view.setUint32(28, EHDR_SIZE, true); // e_phoff
  view.setUint32(32, shoff, true);
  view.setUint32(36, 0, true);  // e_flags
  view.setUint16(40, EHDR_SIZE, true);
  view.setUint16(42, PHDR_SIZE, true);
  view.setUint16(44, phnum, true);
  view.setUint16(46, SHDR_SIZE, true);
  view.setUint16(48, shnum, true);
  view.setUint16(50, shnum - 1, true); // e_shstrndx: .shstrtab is last

  // ---- program headers ----
  phdrs.forEach((p, i) => {
    const at = EHDR_SIZE + PHDR_SIZE * i;
    view.setUint32(at + 0, PT_LOAD, true);
    view.setUint32(at + 4, p.offset, true);
    view.setUint32(at + 8, p.vaddr, true);
    view.setUint32(at + 12, p.vaddr, true); // p_paddr: identity (the loader copies to physical = virtual)
    view.setUint32(at + 16, p.fileSize, true);
    view.setUint32(at + 20, p.memSize, true);
    view.setUint32(at + 24, p.flags, true);
    view.setUint32(at + 28, PAGE_SIZE, true);
  });

  // ---- contents ----
  for (const s of image.sections) {
    if (s.kind !== "progbits" || !s.bytes) continue;
    if (s.bytes.length > s.size) throw new Error(`elf: section ${s.name} has more bytes than its size`);
    out.set(s.bytes, sectionOffset.get(s.name)!);
  }
  info.forEach((s, i) => out.set(s.bytes, infoOffsets[i]));
  out.set(symtab, symtabOffset);
  out.set(strtabBytes, strtabOffset);
  out.set(shstrtabBytes, shstrtabOffset);

  // ---- section headers ----
  const shdr = (index: number, f: { name: number; type: number; flags: number; addr: number; offset: number; size: number; link?: number; info?: number; align: number; entsize?: number }): void => {
    const at = shoff + SHDR_SIZE * index;
    const fields = [f.name, f.type, f.flags, f.addr, f.offset, f.size, f.link ?? 0, f.info ?? 0, f.align, f.entsize ?? 0];
    fields.forEach((v, k) => view.setUint32(at + 4 * k, v >>> 0, true));
  };
  image.sections.forEach((s, i) => shdr(i + 1, {
    name: names[i], type: s.kind === "progbits" ? SHT_PROGBITS : SHT_NOBITS, flags: sectionFlagBits(s),
    addr: s.address, offset: sectionOffset.get(s.name)!, size: s.size, align: s.align,
  }));
  info.forEach((s, i) => shdr(image.sections.length + 1 + i, {
    name: names[image.sections.length + i], type: SHT_PROGBITS, flags: 0, addr: 0, offset: infoOffsets[i],
    size: s.bytes.length, align: 1,
  }));
  const n = image.sections.length + info.length;
  shdr(n + 1, { name: names[n], type: SHT_SYMTAB, flags: 0, addr: 0, offset: symtabOffset, size: symtab.length, link: n + 2, info: 1, align: 4, entsize: SYM_SIZE });
  shdr(n + 2, { name: names[n + 1], type: SHT_STRTAB, flags: 0, addr: 0, offset: strtabOffset, size: strtabBytes.length, align: 1 });
  shdr(n + 3, { name: names[n + 2], type: SHT_STRTAB, flags: 0, addr: 0, offset: shstrtabOffset, size: shstrtabBytes.length, align: 1 });
  return out;
}
