// Hostile guest: CPU modes, flags and descriptor tables as ways out of ring 3. The manifest's argument
// picks the attack (machine code in the guest's data; common.ts):
//   0 iretd into virtual-8086 mode, cs 0x1000 ip 0 (QEMU's TCG allows it from ring 3; the SDM does not)
//   1 the same with cs 0, ip 0x7c00 and IOPL 3 asked for
//   2 EFLAGS.NT set, then iretd: a task return through the kernel TSS's back link
//   3 a far call through an LDT selector (0x0007:0)
//   4 every LDT selector probed with lar, lsl and verr (none may be visible), then loaded into es
//   5 sgdt, sidt, str, smsw, sldt: with UMIP they fault; without it they tell where the kernel's tables
//     lie (prints `attack cpumode: tables readable ...` and exits 0: documented, not contained)
//   6 sysenter with TF, NT, DF and AC set, a bad call number, and the kernel's first page as the stack and
//     the place to return to (edi, ebp): the kernel's #DB and flags must survive it, the return fault
//   7 int 2 (the NMI vector) from ring 3
//   8 EFLAGS.TF set: a single-step trap
// Each must end only this VM (#GP, #TS, #UD, #DB, #PF, or "entered virtual-8086 mode") with the kernel and
// the other VMs unharmed.
import { u8, u32, print, write, writeHex, exit, addressOf } from "dsl";
import { bootInit, argument } from "../runtime/boot.ts";
import { announce, notContained, placeCode, callCode } from "./common.ts";

// iretFrom: mov eax,[esp+4]; mov esp,eax; iretd   (eax: an iret image eip cs eflags esp ss es ds fs gs)
const iretFromBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0x8b, 0xe0, 0xcf];
// nestedTaskReturn: pushfd; or dword ptr [esp],4000h; popfd; iretd
const nestedTaskReturnBytes: u8[] = [0x9c, 0x81, 0x0c, 0x24, 0x00, 0x40, 0x00, 0x00, 0x9d, 0xcf];
// farCallLdt: call far 0007:00000000; ret
const farCallLdtBytes: u8[] = [0x9a, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0xc3];
// lar: mov edx,[esp+4]; xor eax,eax; lar ecx,edx; sete al; ret
const larBytes: u8[] = [0x8b, 0x54, 0x24, 0x04, 0x33, 0xc0, 0x0f, 0x02, 0xca, 0x0f, 0x94, 0xc0, 0xc3];
// lsl: mov edx,[esp+4]; xor eax,eax; lsl ecx,edx; sete al; ret
const lslBytes: u8[] = [0x8b, 0x54, 0x24, 0x04, 0x33, 0xc0, 0x0f, 0x03, 0xca, 0x0f, 0x94, 0xc0, 0xc3];
// verr: mov edx,[esp+4]; xor eax,eax; verr dx; sete al; ret
const verrBytes: u8[] = [0x8b, 0x54, 0x24, 0x04, 0x33, 0xc0, 0x0f, 0x00, 0xe2, 0x0f, 0x94, 0xc0, 0xc3];
// loadEs: mov eax,[esp+4]; mov es,ax; ret
const loadEsBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0x8e, 0xc0, 0xc3];
// readTables: mov eax,[esp+4]; sgdt [eax]; sidt [eax+8]; str [eax+10h]; smsw [eax+14h]; sldt [eax+18h]; ret
const readTablesBytes: u8[] = [0x8b, 0x44, 0x24, 0x04, 0x0f, 0x01, 0x00, 0x0f, 0x01, 0x48, 0x08, 0x0f, 0x00, 0x48, 0x10,
  0x0f, 0x01, 0x60, 0x14, 0x0f, 0x00, 0x40, 0x18, 0xc3];
// sysenter: pushfd; or dword ptr [esp],44500h (AC NT DF TF); mov eax,-1; mov edi,100000h; mov ebp,100000h;
// popfd; sysenter (TF traps after the instruction that follows the popfd: the sysenter)
const sysenterBytes: u8[] = [0x9c, 0x81, 0x0c, 0x24, 0x00, 0x45, 0x04, 0x00, 0xb8, 0xff, 0xff, 0xff, 0xff,
  0xbf, 0x00, 0x00, 0x10, 0x00, 0xbd, 0x00, 0x00, 0x10, 0x00, 0x9d, 0x0f, 0x34];
// intNmi: int 2; ret
const intNmiBytes: u8[] = [0xcd, 0x02, 0xc3];
// singleStep: pushfd; or dword ptr [esp],100h; popfd; nop; nop; ret
const singleStepBytes: u8[] = [0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90, 0xc3];

const EFLAGS_VIRTUAL_8086: u32 = 1 << 17;
const EFLAGS_INTERRUPT_ENABLE: u32 = 1 << 9;
const EFLAGS_IO_PRIVILEGE_3: u32 = 3 << 12;
const EFLAGS_RESERVED_ONE: u32 = 1 << 1;
const LDT_SELECTORS: u32 = 8192;
const SELECTOR_LDT_RPL3: u32 = 7;      // table indicator 1, RPL 3

const iretImage = new Uint32Array(9);
const tables = new Uint32Array(8);

/** Enters virtual-8086 mode at cs:ip through iretd from ring 3. */
function enterVirtual8086(cs: u32, ip: u32, extraFlags: u32): void {
  iretImage[0] = ip;
  iretImage[1] = cs;
  iretImage[2] = EFLAGS_VIRTUAL_8086 | EFLAGS_INTERRUPT_ENABLE | EFLAGS_RESERVED_ONE | extraFlags;
  iretImage[3] = 0xfff0;               // sp
  for (let i = 4; i < 9; i++) iretImage[i] = cs;   // ss es ds fs gs
  callCode(placeCode(iretFromBytes), addressOf(iretImage));
}

/** lar, lsl and verr on every LDT selector: how many answered "accessible" (ZF set). */
function probeLdt(): u32 {
  const lar = placeCode(larBytes), lsl = placeCode(lslBytes), verr = placeCode(verrBytes);
  let visible: u32 = 0;
  for (let index: u32 = 0; index < LDT_SELECTORS; index++) {
    const selector = (index << 3) | SELECTOR_LDT_RPL3;
    visible += callCode(lar, selector) + callCode(lsl, selector) + callCode(verr, selector);
  }
  return visible;
}

function readTables(): void {
  callCode(placeCode(readTablesBytes), addressOf(tables));
  write("attack cpumode: tables readable (no UMIP): gdt base 0x"); writeHex((tables[0] >>> 16) | (tables[1] << 16));
  write(" idt base 0x"); writeHex((tables[2] >>> 16) | (tables[3] << 16));
  write(" tr 0x"); writeHex(tables[4] & 0xffff); write(" msw 0x"); writeHex(tables[5] & 0xffff);
  write(" ldtr 0x"); writeHex(tables[6] & 0xffff); print("");
  exit(0);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  switch (argument()) {
    case 0: announce("cpumode", "iretd into virtual-8086 mode at 1000:0000"); enterVirtual8086(0x1000, 0, 0); break;
    case 1: announce("cpumode", "iretd into virtual-8086 mode at 0000:7c00 with IOPL 3");
      enterVirtual8086(0, 0x7c00, EFLAGS_IO_PRIVILEGE_3); break;
    case 2: announce("cpumode", "iretd with EFLAGS.NT set"); callCode(placeCode(nestedTaskReturnBytes), 0); break;
    case 3: announce("cpumode", "far call 0007:00000000 through the LDT");
      callCode(placeCode(farCallLdtBytes), 0); break;
    case 4: {
      announce("cpumode", "lar, lsl, verr on every LDT selector, then mov es, 0x000f");
      write("attack cpumode: ldt selectors visible "); print(probeLdt());
      callCode(placeCode(loadEsBytes), 0x000f);
      break;
    }
    case 5: announce("cpumode", "sgdt, sidt, str, smsw, sldt"); readTables(); break;
    case 6: announce("cpumode", "sysenter"); callCode(placeCode(sysenterBytes), 0); break;
    case 7: announce("cpumode", "int 2"); callCode(placeCode(intNmiBytes), 0); break;
    default: announce("cpumode", "EFLAGS.TF single step"); callCode(placeCode(singleStepBytes), 0); break;
  }
  notContained("cpumode");
}
