// TCP's timers (RFC 9293 §3.8.1, RFC 6298): each connection's one timer (tcp-output.ts arms it: the
// retransmission timeout, a tail loss probe or the reordering window; TIME-WAIT's end), run by tcpTimer
// before the VM idles (stack.ts), which returns the time to the next deadline. A retransmission backs off and
// goes back N (or probes a zero window, the persist condition, for TCP_PERSIST_LIMIT_US at most); past
// TCP_MAX_RETRIES the connection is aborted. Also whether every connection's ACKs may wait (lazy ACKs,
// tcp-congestion.ts ackMayWait; such a connection's RTO is at least LAZY_MIN_RTO_US, backed off from there)
// and the connections waiting for a ring (tellRingWaiters).
import { i32, u32, bool } from "dsl";
import { profileActive, profileEnter, profileLeave } from "../runtime/profile.ts";
import { PROFILE_GUEST_TCP } from "../../abi/boot.ts";
import { netNow, netStats, STAT_TCP_RETRANSMIT, STAT_TCP_TIMEOUT, STAT_TCP_RECOVERY } from "./netif.ts";
import {
  Tcb, TIMER_RTO, TIMER_PROBE, TIMER_REORDER, TCP_CLOSED, TCP_SYN_SENT, TCP_SYN_RECEIVED, TCP_TIME_WAIT,
  TCP_EVENT_WRITABLE, TCP_EVENT_RESET, TCP_EVENT_TIMED_OUT, TCP_EVENT_CLOSED,
} from "./tcp-tcb.ts";
import { TCP_RST } from "./tcp-header.ts";
import { ringsFreed } from "./tcp-buffers.ts";
import {
  rtoBackOff, congestionOnTimeout, congestionOnReorderTimeout, ackMayWait, LAZY_MIN_RTO_US,
} from "./tcp-congestion.ts";
import { emitReset, sendAck, sendSyn, sendSynAck, startTimer, armTimer, output, tailLossProbe } from "./tcp-output.ts";
import { tcbAt, tableSlots, release, acceptDeferred } from "./tcp-table.ts";

/** Retransmissions of one segment, or zero-window probes unanswered, before the connection is aborted (§3.8.3 R2). */
const TCP_MAX_RETRIES = 8;
/**
 * The persist condition (§3.8.6.1: probes of one byte at the RTO, backed off to 60 s) is kept while the peer
 * answers the probes (RFC 1122 §4.2.2.17), but for 10 minutes at most: then the connection is aborted with a RST.
 * A peer that never opens its window would pin the connection's buffers for ever (RFC 6429 lets a sender
 * end a persist condition to free resources; Linux does only on a user timeout).
 */
const TCP_PERSIST_LIMIT_US: u32 = 600000000;

const NO_DEADLINE: u32 = 0xffffffff;

/** Rings came free after a write found none (tcp-buffers.ts): the connections waiting to write hear WRITABLE. */
export function tellRingWaiters(): void {
  if (!ringsFreed()) return;
  const slots = tableSlots();
  for (let i = 0; i < slots; i++) {
    const tcb = tcbAt(i);
    if (!tcb.wantsRing) continue;
    tcb.wantsRing = false;
    if (tcb.state !== TCP_CLOSED) tcb.handler(i, TCP_EVENT_WRITABLE);
  }
}

/**
 * The retransmission timer expired (RFC 6298 §5.4-§5.7): back off, shrink cwnd (tcp-congestion.ts) and send
 * again from SND.UNA; or, with a zero window and nothing in flight, send a probe (§3.8.6.1).
 */
function retransmit(tcb: Tcb, index: i32): void {
  // The persist condition: a zero window with data waiting, nothing in flight but our last probe's byte.
  const probing = tcb.sndWnd === 0 && tcb.txCount > 0 && (tcb.sndUna === tcb.sndMax || tcb.persisting);
  if (probing && !tcb.persisting) { tcb.persisting = true; tcb.persistSince = netNow; tcb.retries = 0; }
  else tcb.retries++;
  if (probing && (tcb.retries > TCP_MAX_RETRIES || u32(netNow - tcb.persistSince) >= TCP_PERSIST_LIMIT_US)) {
    // At SND.UNA, not SND.NXT past the probe's byte: the peer's window ends there, a RST beyond it would only be
    // challenged (RFC 5961 §3.2; Linux's tcp_acceptable_seq).
    emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndUna, 0, TCP_RST);
    release(index, TCP_EVENT_RESET);
    return;
  }
  if (!probing) {
    if (tcb.retries > TCP_MAX_RETRIES) {
      // Nobody to tell (an active open's SYN, or its SYN,ACK after a simultaneous open, went unanswered).
      if (tcb.state === TCP_SYN_SENT || (tcb.state === TCP_SYN_RECEIVED && tcb.listener < 0)) {
        release(index, TCP_EVENT_TIMED_OUT);
        return;
      }
      // §3.8.3 R2 exceeded: abort, telling the peer.
      if (tcb.state !== TCP_SYN_RECEIVED) {
        emitReset(tcb.remoteIp, tcb.localPort, tcb.remotePort, tcb.sndNxt, 0, TCP_RST);
      }
      release(index, TCP_EVENT_RESET);
      return;
    }
    netStats[STAT_TCP_TIMEOUT]++;
    if (tcb.state !== TCP_SYN_RECEIVED && tcb.state !== TCP_SYN_SENT) congestionOnTimeout(tcb, tcb.retries === 1);
  }
  // The timer ran at the lazy floor (runTimers: the connection's ACKs could wait): back off from that, as
  // RFC 6298 does from its 1 s minimum.
  const inEffect = u32(tcb.timerAt - tcb.timerSetAt);
  if (tcb.timerKind === TIMER_RTO && inEffect > tcb.rto) tcb.rto = inEffect;
  rtoBackOff(tcb);
  tcb.timing = false;                                // Karn: no sample from a retransmitted segment
  tcb.timerOn = false;
  if (tcb.state === TCP_SYN_SENT || tcb.state === TCP_SYN_RECEIVED) {
    netStats[STAT_TCP_RETRANSMIT]++;
    if (tcb.state === TCP_SYN_SENT) sendSyn(tcb); else sendSynAck(tcb);
    startTimer(tcb);
    return;
  }
  tcb.sndNxt = tcb.sndUna;                           // go back N, one segment at a time (cwnd = 1 SMSS)
  tcb.probe = probing;
  output(tcb);
}

/** The reordering window passed with the hole still there: recovery retransmits it; then the PTO or RTO runs. */
function reorderTimeout(tcb: Tcb): void {
  tcb.timerOn = false;
  if (congestionOnReorderTimeout(tcb)) netStats[STAT_TCP_RECOVERY]++;
  output(tcb);
  if (!tcb.timerOn && tcb.sndUna !== tcb.sndMax) armTimer(tcb);
}

/** Runs the expired timers; returns microseconds until the next deadline (0xffffffff: none). */
export function tcpTimer(): u32 {
  if (!profileActive()) return runTimers();
  const previous = profileEnter(PROFILE_GUEST_TCP);
  const result = runTimers();
  profileLeave(previous);
  return result;
}

/** Whether the last tcpTimer found every connection's ACKs free to wait (ackMayWait): see tcpAcksMayWait. */
let acksMayWait = true;

/**
 * True when, at the last tcpTimer (stack.ts runs it right before the VM idles), no connection needed its
 * ACKs promptly (tcp-congestion.ts ackMayWait): the VM may ask the kernel not to be woken by bare ACKs.
 */
export function tcpAcksMayWait(): bool { return acksMayWait; }

function runTimers(): u32 {
  let next = NO_DEADLINE;
  let mayWait = true;
  const slots = tableSlots();
  for (let i = 0; i < slots; i++) {
    const tcb = tcbAt(i);
    if (tcb.wantsRing) mayWait = false;      // a ring freed by another's ACK is what it waits for
    if (tcb.ackLater && tcb.state !== TCP_CLOSED) sendAck(tcb);   // nothing went with it this batch
    if (tcb.state === TCP_CLOSED || !tcb.timerOn) continue;
    if (i32(netNow - tcb.timerAt) >= 0) {
      if (tcb.state === TCP_TIME_WAIT) { release(i, 0); continue; }   // the application heard CLOSED on entering it
      // No FIN of the peer's came again: ours arrived, and the peer's ACK of it was lost (or dropped while the
      // VM was on the disk: the kernel drops the ACKs held for a VM with no alarm when it writes it out).
      if (tcb.finQuiet) { release(i, TCP_EVENT_CLOSED); continue; }
      if (tcb.timerKind === TIMER_PROBE) tailLossProbe(tcb);
      else if (tcb.timerKind === TIMER_REORDER) reorderTimeout(tcb);
      else retransmit(tcb, i);
      if (tcb.state === TCP_CLOSED || !tcb.timerOn) continue;
    }
    // (A connection without a timer has nothing in flight nor waiting: its ACKs can only wait.)
    if (tcb.state !== TCP_TIME_WAIT) {
      const lazy = ackMayWait(tcb);
      if (!lazy && !acceptDeferred(tcb)) mayWait = false;
      // Its ACKs will not wake the VM: the RTO is at least LAZY_MIN_RTO_US (tcp-congestion.ts).
      const lazyAt = u32(tcb.timerSetAt + LAZY_MIN_RTO_US);
      if (lazy && tcb.timerKind === TIMER_RTO && i32(lazyAt - tcb.timerAt) > 0) tcb.timerAt = lazyAt;
    }
    if (tcb.finQuiet) continue;               // looked at when the VM wakes for something else: no alarm
    const left = u32(tcb.timerAt - netNow);
    if (left < next) next = left;
  }
  acksMayWait = mayWait;
  tellRingWaiters();
  return next;
}
