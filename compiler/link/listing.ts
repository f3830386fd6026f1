// Contract: renders the encoded .text as a human-readable listing (iced-x86 masm formatter): per function a header, per
// block its source line, per instruction address + bytes + text.

import { Formatter, FormatterSyntax, type Instruction } from "iced-x86";
import type { LoweredModule } from "../x86/index.ts";

const hex = (n: number, width = 8): string => n.toString(16).toUpperCase().padStart(width, "0");

export function renderListing(lowered: LoweredModule, decoded: Instruction[], text: Uint8Array, textAddress: number): string {
  const formatter = new Formatter(FormatterSyntax.Masm);
  formatter.firstOperandCharIndex = 8;
  formatter.uppercaseHex = true;
  const lines: string[] = [];
  try {
    for (const f of lowered.functions) {
      const start = Number(decoded[f.startIndex].ip);
      const end = f.endIndex < decoded.length ? Number(decoded[f.endIndex].ip) : textAddress + text.length;
      const where = f.loc ? `  ; ${f.loc.file}:${f.loc.line}` : "";
      lines.push("", `; ---- ${f.name} @ ${hex(start)} size ${end - start} frame ${f.frameSize}${where}`, `${f.name}:`);
      const blocksAt = new Map<number, typeof f.blocks>();
      for (const b of f.blocks) blocksAt.set(b.startIndex, [...(blocksAt.get(b.startIndex) ?? []), b]);
      for (let i = f.startIndex; i < f.endIndex; i++) {
        for (const block of blocksAt.get(i) ?? []) {
          lines.push(`  ; block ${block.id}${block.loc ? `  ; ${block.loc.file}:${block.loc.line}` : ""}`);
        }
        const ins = decoded[i];
        const address = Number(ins.ip);
        const bytes = Array.from(text.subarray(address - textAddress, address - textAddress + ins.length), (b) => hex(b, 2)).join("");
        lines.push(`  ${hex(address)}  ${bytes.padEnd(22)}  ${formatter.format(ins)}`);
      }
    }
  } finally {
    formatter.free();
  }
  return lines.join("\n").trimStart() + "\n";
}
