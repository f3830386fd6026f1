// Contract: reading the TCP options of a received segment (RFC 9293 §3.2: unknown kinds skipped by their
// length, an illegal length makes a SYN's options malformed): a SYN's MSS and SACK-permitted (RFC 2018 §2),
// and the SACK blocks of an ACK (RFC 2018 §3, with RFC 2883's D-SACK noticed) into the scoreboard of
// tcp-congestion.ts; RFC 7323's Window Scale (§2.2) and Timestamps (§3.2) of a SYN and the Timestamps of
// every other segment. Stateless but for the exported results of the last parse.
import { i32, u32, bool } from "dsl";
import { get16, get32 } from "./bytes.ts";
import { Tcb, seqLe } from "./tcp-tcb.ts";
import {
  TCP_OPTION_END, TCP_OPTION_NOP, TCP_OPTION_MSS, TCP_OPTION_MSS_LENGTH, TCP_OPTION_SACK_PERMITTED,
  TCP_OPTION_SACK_PERMITTED_LENGTH, TCP_OPTION_SACK, TCP_OPTION_WINDOW_SCALE, TCP_OPTION_WINDOW_SCALE_LENGTH,
  TCP_OPTION_TIMESTAMPS, TCP_OPTION_TIMESTAMPS_LENGTH,
} from "./tcp-header.ts";
import { scoreboardAdd } from "./tcp-congestion.ts";

/** SACK-permitted was in the SYN parseSynOptions read last. */
export let synSackPermitted = false;
/** Its Window Scale shift, -1 when absent (RFC 7323 §2.2). */
export let synWindowShift = -1;
/** The Timestamps option of the segment parseSynOptions or parseTimestamps read last: present, TSval, TSecr. */
export let segTimestamps = false;
export let segTsVal: u32 = 0;
export let segTsEcr: u32 = 0;

/**
 * The options of the SYN at `frame[offset..offset+length)` (§3.2): returns its MSS (0 if absent, -1 if an option
 * is malformed) and sets synSackPermitted.
 */
export function parseSynOptions(frame: Uint8Array, offset: i32, length: i32): i32 {
  synSackPermitted = false;
  synWindowShift = -1;
  segTimestamps = false;
  let mss = 0;
  let i = offset;
  const end = offset + length;
  while (i < end) {
    const kind = frame[i];
    if (kind === TCP_OPTION_END) break;
    if (kind === TCP_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end) return -1;
    const optionLength = frame[i + 1];
    if (optionLength < 2 || i + optionLength > end) return -1;   // §3.2: an illegal option length
    if (kind === TCP_OPTION_MSS) {
      if (optionLength !== TCP_OPTION_MSS_LENGTH) return -1;
      mss = get16(frame, i + 2);
    } else if (kind === TCP_OPTION_SACK_PERMITTED && optionLength === TCP_OPTION_SACK_PERMITTED_LENGTH) {
      synSackPermitted = true;
    } else if (kind === TCP_OPTION_WINDOW_SCALE && optionLength === TCP_OPTION_WINDOW_SCALE_LENGTH) {
      synWindowShift = frame[i + 2];
    } else if (kind === TCP_OPTION_TIMESTAMPS && optionLength === TCP_OPTION_TIMESTAMPS_LENGTH) {
      takeTimestamps(frame, i);
    }
    i += optionLength;   // §3.2: unknown options are skipped by their length
  }
  return mss;
}

/**
 * Takes the SACK blocks (RFC 2018 §3) of the options at `frame[offset..offset+length)` of a segment
 * acknowledging `ack` into the scoreboard; returns true when one SACKed bytes not SACKed before. A malformed
 * option ends the scan (the segment still counts).
 */
export function takeSackBlocks(tcb: Tcb, frame: Uint8Array, offset: i32, length: i32, ack: u32): bool {
  let news = false;
  let i = offset;
  const end = offset + length;
  while (i < end) {
    const kind = frame[i];
    if (kind === TCP_OPTION_END) break;
    if (kind === TCP_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end) break;
    const optionLength = frame[i + 1];
    if (optionLength < 2 || i + optionLength > end) break;
    if (kind === TCP_OPTION_SACK && (optionLength - 2) % 8 === 0) {
      // RFC 2883 §4: a first block at or below the ACK field reports a duplicate segment (D-SACK).
      if (optionLength >= 10 && seqLe(get32(frame, i + 6), ack)) { tcb.tlpDsack = true; tcb.dsackSeen = true; }
      for (let b = i + 2; b < i + optionLength; b += 8) {
        if (scoreboardAdd(tcb, get32(frame, b), get32(frame, b + 4))) news = true;
      }
    }
    i += optionLength;
  }
  return news;
}

function takeTimestamps(frame: Uint8Array, at: i32): void {
  segTimestamps = true;
  segTsVal = get32(frame, at + 2);
  segTsEcr = get32(frame, at + 6);
}

/** Finds the Timestamps option (RFC 7323 §3.2) among the options at `frame[offset..offset+length)`: segTimestamps. */
export function parseTimestamps(frame: Uint8Array, offset: i32, length: i32): void {
  segTimestamps = false;
  let i = offset;
  const end = offset + length;
  while (i < end && frame[i] !== TCP_OPTION_END) {
    if (frame[i] === TCP_OPTION_NOP) { i++; continue; }
    if (i + 1 >= end || frame[i + 1] < 2 || i + frame[i + 1] > end) return;
    if (frame[i] === TCP_OPTION_TIMESTAMPS && frame[i + 1] === TCP_OPTION_TIMESTAMPS_LENGTH) {
      takeTimestamps(frame, i);
      return;
    }
    i += frame[i + 1];
  }
}

/** Whether the options at `frame[offset..offset+length)` hold a SACK option at all. */
export function hasSackOption(frame: Uint8Array, offset: i32, length: i32): bool {
  let i = offset;
  const end = offset + length;
  while (i < end && frame[i] !== TCP_OPTION_END) {
    if (frame[i] === TCP_OPTION_NOP) { i++; continue; }
    if (frame[i] === TCP_OPTION_SACK) return true;
    if (i + 1 >= end || frame[i + 1] < 2) return false;
    i += frame[i + 1];
  }
  return false;
}
