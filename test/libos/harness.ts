// A simulated kernel and wire for guests that use guest-src/libos: the guest runs on the host bytecode
// interpreter (compiler/bytecode/interpreter.ts) and its hypercalls are answered here, over in-memory
// frame queues driven by a test script. Deterministic: the clock moves only when the script says so.
//
// The script is a generator. It runs each time the guest idles with no virtual interrupt pending
// (the guest has handled everything it was given); between two `yield`s it inspects what the guest
// sent (`wire.take()`), queues frames (`wire.send(frame)`) and moves the clock (`wire.advance(us)`,
// which raises TIMER when the guest's alarm is due). When the script returns, the run ends.
import { compile } from '../../compiler/pipeline.ts';
import { encodeModule } from '../../compiler/bytecode/encode.ts';
import { Machine, DEFAULT_MULTIBOOT_INFO_ADDRESS, DEFAULT_DATA_BASE } from '../../compiler/bytecode/interpreter.ts';
import { GUEST_RUNTIME, ROOT } from '../../tools/build.ts';
import { bootInfoOffset } from '../../tools/abi.ts';
import {
  HYPERCALL_EXIT, HYPERCALL_IDLE, HYPERCALL_SET_ALARM, HYPERCALL_READ_CLOCK, HYPERCALL_CONSOLE_WRITE,
  HYPERCALL_NET_SEND, HYPERCALL_NET_RECEIVE, HYPERCALL_INTERRUPT_MASK, HYPERCALL_INTERRUPT_ACKNOWLEDGE, HYPERCALL_YIELD,
  EINVAL, EMSGSIZE, INTERRUPT_TIMER, INTERRUPT_NET, INTERRUPT_ALL, INTERRUPT_LAZY_ACKS, FRAME_MIN, FRAME_MAX,
} from '../../abi/hypercalls.ts';
import { ABI_VERSION } from '../../abi/boot.ts';
import { join } from 'node:path';

const compiled = new Map<string, Uint8Array>();
/** Room for the interpreter's stack above the VM's memory. */
const STACK_ROOM = 1 << 20;

/** Compiles a guest (path relative to the repository) in guest mode at -O2 and returns its bytecode (cached). */
function guestBytecode(file: string, entry = 'guestMain'): Uint8Array {
  const key = `${file}#${entry}`;
  let bytes = compiled.get(key);
  if (!bytes) {
    const result = compile({ files: [join(ROOT, file)], mode: 'guest', entry, runtime: GUEST_RUNTIME, optimize: 2 });
    if (!result.module) throw new Error(result.diagnostics.map(d => `${d.file}:${d.line}:${d.column} ${d.code} ${d.message}`).join('\n'));
    bytes = encodeModule(result.module);
    compiled.set(key, bytes);
  }
  return bytes;
}

interface GuestConfig {
  mac: number[]; ip: string; netmask: string; gateway: string; argument?: number; entry?: string;
  /** The VM's memory (the boot page's memorySize); 8 MiB when not given. */
  memoryKiB?: number;
  /** The boot page's entropy words (the kernel's secret for the VM); zeros when not given. */
  entropy?: number[];
}

class ScriptDone extends Error {}
class GuestExit extends Error { constructor(readonly status: number) { super(`guest exited with status ${status}`); } }

export const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

export class Wire {
  /** Simulated time, microseconds. */
  now = 1_000_000;
  alarmAt: number | null = null;
  pending = 0;
  readonly inbox: Uint8Array[] = [];
  private outbox: Uint8Array[] = [];
  console = '';
  idles = 0;
  /** Batches idle delivered (the guest's wake-ups). */
  batches = 0;
  /** The events the guest last enabled (interruptMask; INTERRUPT_LAZY_ACKS among them: bare ACKs may wait). */
  mask = INTERRUPT_ALL;

  /**
   * The kernel's rule for lazy ACKs (kernel-src/switch.ts): a bare TCP ACK for a guest whose mask has
   * INTERRUPT_LAZY_ACKS is queued and NET marked pending without waking the guest (`held`: NET joins the
   * next batch another event wakes it for). Off unless a test turns it on.
   */
  lazyAcks = false;
  held = false;
  /** Queues a frame for the guest (raises NET, unless lazyAcks holds it). */
  send(frame: Uint8Array): void {
    this.inbox.push(frame);
    if (this.lazyAcks && (this.mask & INTERRUPT_LAZY_ACKS) !== 0 && bareAck(frame)) this.held = true;
    else this.pending |= INTERRUPT_NET;
  }
  /** The frames the guest sent since the last take. */
  take(): Uint8Array[] { const out = this.outbox; this.outbox = []; return out; }
  /** Moves the clock; raises TIMER when the alarm is due. */
  advance(microseconds: number): void {
    this.now += microseconds;
    if (this.alarmAt !== null && this.alarmAt <= this.now) { this.alarmAt = null; this.pending |= INTERRUPT_TIMER; }
  }
  /** Moves the clock to the alarm (which must be set) and raises TIMER; returns how far it moved. */
  advanceToAlarm(): number {
    if (this.alarmAt === null) throw new Error('no alarm set');
    const step = Math.max(0, this.alarmAt - this.now);
    this.advance(step);
    return step;
  }

  /** @internal */ sent(frame: Uint8Array): void { this.outbox.push(frame); }
}

/** An Ethernet frame holding an IPv4 TCP segment with ACK, no SYN, FIN, RST or URG, and no data. */
function bareAck(frame: Uint8Array): boolean {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return false;
  const ipHeader = (frame[14] & 0xf) * 4, total = (frame[16] << 8) | frame[17];
  const tcp = 14 + ipHeader, flags = frame[tcp + 13];
  return (flags & 0x10) !== 0 && (flags & 0x27) === 0 && total === ipHeader + (frame[tcp + 12] >> 4) * 4;
}

interface RunOutcome { wire: Wire; instructions: number; exitStatus: number | null }

/**
 * Runs `file` with a boot page for `config` until `script` returns (or the guest exits or fails,
 * which throws with the guest's console output).
 */
export function runGuest(file: string, config: GuestConfig, script: (wire: Wire) => Generator<void, void, void>): RunOutcome {
  const wire = new Wire();
  const generator = script(wire);
  let machine: Machine;
  let exitStatus: number | null = null;
  const memory = () => machine.memory;
  const onHypercall = (number: number, a: number, b: number): number => {
    const ua = a >>> 0, ub = b >>> 0;
    switch (number) {
      case HYPERCALL_EXIT: throw new GuestExit(a);
      case HYPERCALL_IDLE:
        while (wire.pending === 0) {
          wire.idles++;
          if (generator.next().done) throw new ScriptDone();
        }
        {
          // idle's delivery (docs/virtual-architecture.md): the bits of a acknowledged, the clock at b.
          let batch = wire.pending;
          if (wire.held) batch |= INTERRUPT_NET;
          wire.held = false;
          wire.pending = batch & ~ua;
          wire.batches++;
          if (ub !== 0) new DataView(memory().buffer).setBigUint64(ub, BigInt(wire.now) * 1000n, true);
          return batch;
        }
      case HYPERCALL_SET_ALARM: wire.alarmAt = ua === 0 ? null : wire.now + ua; return 0;
      case HYPERCALL_READ_CLOCK: {
        const ns = BigInt(wire.now) * 1000n;
        new DataView(memory().buffer).setBigUint64(ua, ns, true);
        return 0;
      }
      case HYPERCALL_CONSOLE_WRITE:
        wire.console += Buffer.from(memory().subarray(ua, ua + ub)).toString('latin1');
        return ub;
      case HYPERCALL_NET_SEND:
        if (ub < FRAME_MIN || ub > FRAME_MAX) return EMSGSIZE;
        wire.sent(memory().slice(ua, ua + ub));
        return 0;
      case HYPERCALL_NET_RECEIVE: {
        const frame = wire.inbox.shift();
        if (!frame) return 0;
        if (frame.length > ub) return EMSGSIZE;
        memory().set(frame, ua);
        return frame.length;
      }
      case HYPERCALL_INTERRUPT_MASK: wire.mask = ua; return INTERRUPT_ALL;
      case HYPERCALL_INTERRUPT_ACKNOWLEDGE: wire.pending &= ~ua; return wire.pending;
      case HYPERCALL_YIELD: return 0;
      default: return EINVAL;
    }
  };
  // The VM's memory as a real VM sees it: from its image's start (memoryBase) for memoryKiB; the interpreter's
  // own stack (frames from the top of the machine's memory down) lies beyond it, in STACK_ROOM.
  const vmBytes = (config.memoryKiB ?? 8192) * 1024;
  machine = Machine.fromBytecode(guestBytecode(file, config.entry),
    { memorySize: DEFAULT_DATA_BASE + vmBytes + STACK_ROOM, stepLimit: 2e8, onHypercall });
  // The boot page (abi/boot.ts BootInfo, its layout from the compiler) where the entry's second argument points.
  const page = new DataView(machine.memory.buffer, DEFAULT_MULTIBOOT_INFO_ADDRESS);
  const at = bootInfoOffset;
  page.setUint32(at('abiVersion'), ABI_VERSION, true);
  page.setUint32(at('vmCount'), 1, true);
  page.setUint32(at('memoryBase'), DEFAULT_DATA_BASE, true);
  page.setUint32(at('memorySize'), vmBytes, true);
  config.mac.forEach((byte, i) => page.setUint8(at('mac') + i, byte));
  ipBytes(config.ip).forEach((byte, i) => page.setUint8(at('ipAddress') + i, byte));
  ipBytes(config.netmask).forEach((byte, i) => page.setUint8(at('netmask') + i, byte));
  ipBytes(config.gateway).forEach((byte, i) => page.setUint8(at('gateway') + i, byte));
  page.setUint32(at('argument'), config.argument ?? 0, true);
  (config.entropy ?? []).forEach((word, i) => page.setUint32(at('entropy') + 4 * i, word >>> 0, true));
  try {
    const result = machine.run();
    if (result.error) throw new Error(`guest failed: ${result.error}\n${wire.console}`);
    throw new Error(`guest returned (${result.stop})\n${wire.console}`);
  } catch (e) {
    if (e instanceof ScriptDone) return { wire, instructions: 0, exitStatus };
    if (e instanceof GuestExit) { exitStatus = e.status; throw new Error(`guest exited with status ${e.status}:\n${wire.console}`); }
    throw e;
  }
}
