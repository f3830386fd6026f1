// Contract: the TCP's tables: the connections (Transmission Control Blocks, tcp-tcb.ts) and the listeners,
// finding a connection by its 4-tuple, allocating one (reusing the TIME-WAIT one closest to its end when the
// table is full) and releasing one (its buffers back, the application told), and whether a handler is
// running inside segment processing (the application's writes then wait to go with the ACK). tcp.ts runs
// the protocol over them, tcp-calls.ts the application's calls.
import { i32, u32, bool, structArray } from "dsl";
import { Tcb, TcpHandler, noHandler, seqLt, TCP_CLOSED, TCP_SYN_RECEIVED, TCP_TIME_WAIT } from "./tcp-tcb.ts";
import { TCP_MAX_CONNECTIONS, buffersRelease } from "./tcp-buffers.ts";

export const TCP_MAX_LISTENERS = 8;

class Listener {
  port: i32 = 0;
  backlog: i32 = 0;
  handler: TcpHandler = noHandler;
  /** Its connections ask for a large buffer slot (tcp-buffers.ts). */
  large: bool = false;
}

export const tcbs = structArray(Tcb, 16);            // TCP_MAX_CONNECTIONS
export const listeners = structArray(Listener, 8);   // TCP_MAX_LISTENERS
/** True while a handler runs inside segment processing: writes are sent once, after it, with the ACK. */
export let inHandler = false;
export function setInHandler(running: bool): void { inHandler = running; }

export function lookup(remoteIp: u32, remotePort: i32, localPort: i32): i32 {
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const tcb = tcbs[i];
    if (tcb.state !== TCP_CLOSED && tcb.remoteIp === remoteIp && tcb.remotePort === remotePort
      && tcb.localPort === localPort) return i;
  }
  return -1;
}

/** A free slot, else the TIME-WAIT connection closest to its end; -1 when every slot is busy. */
export function allocate(): i32 {
  let victim = -1;
  for (let i = 0; i < TCP_MAX_CONNECTIONS; i++) {
    const state = tcbs[i].state;
    if (state === TCP_CLOSED) return i;
    if (state === TCP_TIME_WAIT && (victim < 0 || seqLt(tcbs[i].timerAt, tcbs[victim].timerAt))) victim = i;
  }
  if (victim >= 0) release(victim, 0);
  return victim;
}

/** Frees the connection and tells the application (`event`: CLOSED or RESET; 0 tells nobody). */
export function release(index: i32, event: i32): void {
  const tcb = tcbs[index];
  const wasKnown = tcb.state !== TCP_SYN_RECEIVED || tcb.listener < 0;   // (an active open's: the application's)
  tcb.state = TCP_CLOSED;
  tcb.timerOn = false;
  buffersRelease(tcb);
  if (event !== 0 && wasKnown) tcb.handler(index, event);
}

/** A connection number the application may use: in range and not CLOSED. */
export function valid(connection: i32): bool {
  return connection >= 0 && connection < TCP_MAX_CONNECTIONS && tcbs[connection].state !== TCP_CLOSED;
}
