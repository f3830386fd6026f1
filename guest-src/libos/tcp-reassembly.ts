// Contract: the receive side's out-of-order queue and the SACK blocks that report it (RFC 2018 §4).
// Data that arrives ahead of RCV.NXT (inside the window: tcp.ts trims every segment to it first) is
// stored straight into the receive ring at the place it will occupy once the gap before it fills, and its
// sequence range is remembered (at most TCP_RANGES ranges, merged when they touch); when the missing data
// arrives RCV.NXT jumps over every range it now joins, so a lost segment costs the peer one
// retransmission and the whole run is acknowledged by one cumulative ACK. The memory held out of order
// is part of the connection's receive buffer (it lies inside the window we advertised), so it needs no
// memory of its own: per connection it is bounded by the window, in total by the buffer pool.
//
// The ranges are kept most recently changed first: that is RFC 2018 §4's order for SACK blocks (the
// first block holds the segment that triggered the ACK, then the most recently reported ones).
// Owns Tcb.oooCount/oooStart/oooEnd/finPending; advances Tcb.rcvNxt and rxCount.
import { i32, u32, bool } from "dsl";
import { put32 } from "./bytes.ts";
import { Tcb, TCP_RANGES, seqLt, seqLe } from "./tcp-tcb.ts";
import { receiveStore, receiveRingReady } from "./tcp-buffers.ts";
import { netStats, STAT_TCP_NO_MEMORY } from "./netif.ts";
import { TCP_OPTION_NOP, TCP_OPTION_SACK } from "./tcp-header.ts";

/** The held ranges are forgotten (the connection starts or ends). */
export function reassemblyClear(tcb: Tcb): void {
  tcb.oooCount = 0;
  tcb.finPending = false;
}

/**
 * Takes `n` bytes of segment data for sequence number `seq` (RCV.NXT <= seq, seq + n within the receive
 * window) from `from[offset..]`. Returns how far RCV.NXT moved (0 when the data was held out of order or
 * was dropped because every range is in use and it touches none, or no receive ring could be had: the
 * peer sends it again).
 */
export function reassemblyInput(tcb: Tcb, seq: u32, from: Uint8Array, offset: i32, n: i32): i32 {
  if (n <= 0) return 0;
  const ahead = i32(seq - tcb.rcvNxt);
  if (!receiveRingReady(tcb, tcb.rxCount + ahead + n)) { netStats[STAT_TCP_NO_MEMORY]++; return 0; }
  if (ahead > 0) {
    if (!hold(tcb, seq, u32(seq + n))) return 0;
    receiveStore(tcb, ahead, from, offset, n);
    return 0;
  }
  receiveStore(tcb, 0, from, offset, n);
  tcb.rxCount += n;
  tcb.rcvNxt = u32(tcb.rcvNxt + n);
  return n + pullHeld(tcb);
}

/** Records [start, end) as held: merged with every range it overlaps or touches, first in the list. */
function hold(tcb: Tcb, start: u32, end: u32): bool {
  let s = start, e = end;
  for (let i = tcb.oooCount - 1; i >= 0; i--) {
    if (seqLe(tcb.oooStart[i], e) && seqLe(s, tcb.oooEnd[i])) {
      if (seqLt(tcb.oooStart[i], s)) s = tcb.oooStart[i];
      if (seqLt(e, tcb.oooEnd[i])) e = tcb.oooEnd[i];
      removeRange(tcb, i);
    }
  }
  if (tcb.oooCount === TCP_RANGES) return false;
  for (let i = tcb.oooCount; i > 0; i--) {
    tcb.oooStart[i] = tcb.oooStart[i - 1];
    tcb.oooEnd[i] = tcb.oooEnd[i - 1];
  }
  tcb.oooStart[0] = s;
  tcb.oooEnd[0] = e;
  tcb.oooCount++;
  return true;
}

function removeRange(tcb: Tcb, index: i32): void {
  for (let i = index; i < tcb.oooCount - 1; i++) {
    tcb.oooStart[i] = tcb.oooStart[i + 1];
    tcb.oooEnd[i] = tcb.oooEnd[i + 1];
  }
  tcb.oooCount--;
}

/** RCV.NXT moved: takes in every held range it reached (their bytes are already in place). */
function pullHeld(tcb: Tcb): i32 {
  let moved = 0;
  let i = 0;
  while (i < tcb.oooCount) {
    if (seqLe(tcb.oooStart[i], tcb.rcvNxt)) {
      if (seqLt(tcb.rcvNxt, tcb.oooEnd[i])) {
        const d = i32(tcb.oooEnd[i] - tcb.rcvNxt);
        tcb.rxCount += d;
        tcb.rcvNxt = tcb.oooEnd[i];
        moved += d;
      }
      removeRange(tcb, i);
      i = 0;   // the new RCV.NXT may reach a range already passed over
    } else {
      i++;
    }
  }
  return moved;
}

/** SACK blocks our next segment carries: the held ranges, 3 at most beside timestamps (RFC 2018 §3: 40 bytes). */
function sackBlocks(tcb: Tcb): i32 {
  if (!tcb.sackPermitted) return 0;
  const most = tcb.timestamps ? TCP_RANGES - 1 : TCP_RANGES;
  return tcb.oooCount < most ? tcb.oooCount : most;
}

/** Bytes of the SACK option our next segment carries: NOP, NOP, kind, length, 8 per block; 0 if none. */
export function sackOptionLength(tcb: Tcb): i32 {
  const blocks = sackBlocks(tcb);
  return blocks > 0 ? 4 + 8 * blocks : 0;
}

/** Writes the SACK option (RFC 2018 §3) at `frame[at..]`: the held ranges, most recently changed first. */
export function writeSackOption(tcb: Tcb, frame: Uint8Array, at: i32): void {
  const blocks = sackBlocks(tcb);
  frame[at] = TCP_OPTION_NOP;
  frame[at + 1] = TCP_OPTION_NOP;
  frame[at + 2] = TCP_OPTION_SACK;
  frame[at + 3] = 2 + 8 * blocks;
  for (let i = 0; i < blocks; i++) {
    put32(frame, at + 4 + 8 * i, tcb.oooStart[i]);
    put32(frame, at + 8 + 8 * i, tcb.oooEnd[i]);
  }
}
