// Contract: encodes one instruction stream at a base address with a single BlockEncoder run and returns the bytes plus
// each instruction's address.
//
// BlockEncoder (JS build) returns only bytes, so the addresses come from decoding the result: the
// stream holds code only (no data), and in 32-bit mode BlockEncoder maps every input instruction
// to exactly one output instruction (it only switches branches between rel8 and rel32), so the
// i-th decoded instruction is the i-th input one. The count is checked.

import { BlockEncoder, BlockEncoderOptions, Decoder, DecoderOptions, type Instruction } from "iced-x86";

interface EncodedText {
  bytes: Uint8Array;
  /** Address of each input instruction, plus one final entry = end address. */
  addresses: number[];
  /** The decoded instructions (owned by the caller: free() them). */
  decoded: Instruction[];
}

export function encodeText(instructions: Instruction[], base: number): EncodedText {
  const encoder = new BlockEncoder(32, BlockEncoderOptions.None);
  let bytes: Uint8Array;
  try {
    for (const i of instructions) encoder.add(i);
    bytes = encoder.encode(BigInt(base));
  } finally {
    encoder.free();
  }
  const decoder = new Decoder(32, bytes, DecoderOptions.None);
  decoder.ip = BigInt(base);
  const decoded = decoder.decodeAll();
  decoder.free();
  if (decoded.length !== instructions.length) {
    throw new Error(`link: encoded ${instructions.length} instructions but decoded ${decoded.length}`);
  }
  const addresses = decoded.map((d) => Number(d.ip));
  addresses.push(base + bytes.length);
  return { bytes, addresses, decoded };
}
