// Contract: the Transmission Control Block (RFC 9293 §3.3.1) shared by the TCP's files: tcp.ts (segments
// and states), tcp-output.ts (sending, the timers), tcp-congestion.ts (RFC 5681,
// 6582, 6675, 8985 and 6298: what may be sent and what to retransmit), tcp-reassembly.ts (the out-of-order
// queue and the SACK blocks we report), tcp-buffers.ts (the send and receive rings) and tcp-extensions.ts
// (RFC 7323); tcp-table.ts holds them, tcp-calls.ts serves the application, sockets.ts keeps its socket*
// fields. Holds no behaviour
// beyond sequence arithmetic: every file reads and writes the fields its own header comment names.
import { i32, u32, bool } from "dsl";

// ---- states (RFC 9293 §3.3.2) ---------------------------------------------------------------------------
export const TCP_CLOSED = 0;
const TCP_LISTEN = 1;
export const TCP_SYN_SENT = 2;
export const TCP_SYN_RECEIVED = 3;
export const TCP_ESTABLISHED = 4;
export const TCP_FIN_WAIT_1 = 5;
export const TCP_FIN_WAIT_2 = 6;
export const TCP_CLOSE_WAIT = 7;
export const TCP_CLOSING = 8;
export const TCP_LAST_ACK = 9;
export const TCP_TIME_WAIT = 10;

// ---- what a connection's one timer is running for ------------------------------------------------------------
/** The retransmission timeout (RFC 6298), also the persist timer and TIME-WAIT's. */
export const TIMER_RTO = 0;
/** A tail loss probe's timeout (RFC 8985 §7.2). */
export const TIMER_PROBE = 1;
/** The reordering window of a hole with SACKed data above it (RFC 8985 §6.3, tcp-congestion.ts). */
export const TIMER_REORDER = 2;

export type TcpHandler = (connection: i32, event: i32) => void;

export function noHandler(connection: i32, event: i32): void {}

/**
 * Sequence ranges kept per connection: out-of-order data held (receive) and SACKed data (send). RFC 2018
 * §3: an ACK carries at most 4 SACK blocks, so 4 ranges report everything a peer could use.
 */
export const TCP_RANGES = 4;

export class Tcb {
  state: i32 = 0;
  /** The next connection in its hash chain, or of the free list (tcp-table.ts); -1 ends it. */
  hashNext: i32 = 0;
  remoteIp: u32 = 0;
  localPort: i32 = 0;
  remotePort: i32 = 0;
  listener: i32 = 0;
  handler: TcpHandler = noHandler;
  // send sequence variables
  iss: u32 = 0;
  sndUna: u32 = 0;
  sndNxt: u32 = 0;
  /** The highest SND.NXT so far (RFC 6675's HighData; a timeout moves SND.NXT back to SND.UNA). */
  sndMax: u32 = 0;
  sndWnd: u32 = 0;
  /** The largest window the peer has offered (sender SWS avoidance, RFC 9293 §3.8.6.2.1). */
  sndWndMax: u32 = 0;
  sndWl1: u32 = 0;
  sndWl2: u32 = 0;
  /** SMSS: the most data a segment without options carries to this peer. */
  sndMss: i32 = 0;
  // receive sequence variables
  irs: u32 = 0;
  rcvNxt: u32 = 0;
  /** RCV.NXT + RCV.WND as last advertised (the right edge never moves left, §3.8.6.2.2). */
  rcvEdge: u32 = 0;
  // buffers (tcp-buffers.ts): rings at the addresses rxBase / txBase (0: none held now) of rxSize / txSize bytes
  rxBase: u32 = 0;
  rxSize: i32 = 0;
  /** The receive ring's own size (a chunk, a page or a large slot; 0: none held): rxSize is the window's. */
  rxCap: i32 = 0;
  txBase: u32 = 0;
  txSize: i32 = 0;
  /** The large slot these rings are in, or -1 (the connection's own small slot). */
  largeSlot: i32 = 0;
  rxStart: i32 = 0;
  /** In-order bytes waiting for the application, from rxStart. */
  rxCount: i32 = 0;
  /** txStart is the byte at SND.UNA; txCount bytes from there are queued (sent or not). */
  txStart: i32 = 0;
  txCount: i32 = 0;
  /** The application closed: a FIN goes at finSeq after the queued data. */
  closing: bool = false;
  finSeq: u32 = 0;
  /**
   * LAST-ACK with our FIN the first ACK of the peer's, nothing else in flight (tcp-output.ts sendNew): its loss
   * brings the peer's FIN again, which sends ours again (tcp.ts), so its timer sets no alarm (tcp-timers.ts).
   */
  finQuiet: bool = false;
  // options agreed in the handshake
  /** Both SYNs carried SACK-permitted (RFC 2018 §2). */
  sackPermitted: bool = false;
  // RFC 7323 (tcp-extensions.ts): in SYN-SENT "offered in our SYN", until the SYN,ACK says
  /** Both SYNs carried Window Scale. */
  windowScaling: bool = false;
  /** Snd.Wind.Scale, the shift of the peer's window fields, and Rcv.Wind.Scale, of ours (0 without scaling). */
  sndScale: i32 = 0;
  rcvScale: i32 = 0;
  /** Both SYNs carried Timestamps (Snd.TS.OK): every segment but a RST carries them. */
  timestamps: bool = false;
  /** TS.Recent, the TSval we echo, and our millisecond clock when it was set (PAWS's 24-day rule, §5.5). */
  tsRecent: u32 = 0;
  tsRecentAt: u32 = 0;
  /** Last.ACK.sent: the ACK field of the latest segment we sent (§4.3). */
  lastAckSent: u32 = 0;
  /** This connection's offset of the timestamp clock (§7.1: TSval = the clock + a per-connection offset). */
  tsOffset: u32 = 0;
  // retransmission timer (RFC 6298) and TIME-WAIT
  timerOn: bool = false;
  timerAt: u32 = 0;
  /** When startTimer last started the RTO (a connection whose ACKs may wait keeps it LAZY_MIN_RTO_US from then). */
  timerSetAt: u32 = 0;
  rto: u32 = 0;
  srtt: u32 = 0;
  rttvar: u32 = 0;
  /** Timeouts in a row for the oldest unacknowledged segment (§3.8.3 R2). */
  retries: i32 = 0;
  timing: bool = false;
  timedSeq: u32 = 0;
  timedAt: u32 = 0;
  probe: bool = false;
  /** In the persist condition (a zero window, probes going, tcp.ts) since persistSince. */
  persisting: bool = false;
  persistSince: u32 = 0;
  ackNow: bool = false;
  /**
   * An ACK owed for in-order data or a FIN: it goes with what the VM sends before it idles (the answer, our
   * FIN), else alone then (tcp-timers.ts).
   */
  ackLater: bool = false;
  // congestion control (RFC 5681, RFC 6582, RFC 6675): tcp-congestion.ts
  cwnd: u32 = 0;
  ssthresh: u32 = 0;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 5681 §3.1 byte counting). */
  bytesAcked: u32 = 0;
  /** Duplicate ACKs in a row (RFC 5681 §2; with SACK, RFC 6675 §2's DupAcks). */
  dupAcks: i32 = 0;
  /** In fast recovery (NewReno, RFC 6582) or SACK loss recovery (RFC 6675). */
  inRecovery: bool = false;
  /** RFC 6582 "recover", RFC 6675 "RecoveryPoint": SND.MAX when the loss was found (one past it). */
  recover: u32 = 0;
  /** NewReno: the first partial ACK of this recovery restarted the timer (RFC 6582 §3.2 step 5). */
  partialAcked: bool = false;
  /** The segment at SND.UNA is to be sent again at once (fast retransmit, NewReno partial ACK). */
  retransmitFirst: bool = false;
  /** RFC 6675 HighRxt: the retransmissions of this recovery reached here (one past). */
  highRxt: u32 = 0;
  /** SND.MAX when the latest retransmission of this recovery was sent (lost retransmission detection). */
  rxtMark: u32 = 0;
  /** One past the highest byte ever sent again (any retransmission): data below SND.UNA-to-here was not. */
  rxtHigh: u32 = 0;
  // reordering (RFC 8985 §6.2, Linux's tp->reordering) and Eifel undo (RFC 3522, RFC 4015): tcp-congestion.ts
  /** DupThresh of this connection: 3, raised to the degree of reordering seen + 1 (at most 127). */
  dupThresh: i32 = 0;
  /** Reordering was seen: recovery starts from RACK's reordering window, not from duplicate ACK counts. */
  reorderSeen: bool = false;
  /** RFC 8985 §6.2 reo_wnd_mult, the round it last grew in (until SND.UNA passes reoRoundEnd), reo_wnd_persist. */
  reoWndMult: i32 = 0;
  reoRoundEnd: u32 = 0;
  reoPersist: i32 = 0;
  /** A D-SACK (RFC 2883) arrived in the ACK being processed (tcp-options.ts sets it). */
  dsackSeen: bool = false;
  /** The recovery may be undone (Eifel): SND.UNA at its start, cwnd and ssthresh before it. */
  undoArmed: bool = false;
  undoUna: u32 = 0;
  undoCwnd: u32 = 0;
  undoSsthresh: u32 = 0;
  /** The TSval of the recovery's first retransmission (tcp-output.ts records it), once sent. */
  undoTsSet: bool = false;
  undoTsVal: u32 = 0;
  /** When data was last sent (RFC 5681 §4.1 restart after idle). */
  lastSendAt: u32 = 0;
  // tail loss probes (RFC 8985 §7): tcp-congestion.ts decides, tcp-output.ts sends
  /** What the running timer is: TIMER_RTO, TIMER_PROBE (a PTO) or TIMER_REORDER. */
  timerKind: i32 = 0;
  /** tcp-output.ts is sending the probe: one segment, cwnd aside. */
  probing: bool = false;
  /** A probe is outstanding (TLP.end_seq is not None) and ends at tlpEnd. */
  tlpActive: bool = false;
  tlpEnd: u32 = 0;
  /** The probe sent old data again (no new data could go), and whether a D-SACK (RFC 2883) said it was not needed. */
  tlpRetransmitted: bool = false;
  tlpDsack: bool = false;
  // receive: out-of-order data in the ring beyond RCV.NXT (tcp-reassembly.ts), most recently changed first
  oooCount: i32 = 0;
  oooStart = new Uint32Array(4);   // TCP_RANGES (a field's length must be a literal today)
  oooEnd = new Uint32Array(4);
  /** A FIN arrived out of order: it counts once RCV.NXT reaches finPendingSeq. */
  finPending: bool = false;
  finPendingSeq: u32 = 0;
  // send: the SACK scoreboard (RFC 6675 §3), SACKed ranges above SND.UNA in sequence order
  sackedCount: i32 = 0;
  sackedStart = new Uint32Array(4);
  sackedEnd = new Uint32Array(4);
  /**
   * When an acceptable segment last arrived (tcp.ts), its text taken or not (no ring: tcp-buffers.ts): the
   * peer is there (sockets.ts's idle sweep counts it).
   */
  heardAt: u32 = 0;
  /** A write found no send ring (tcp-buffers.ts): WRITABLE follows when one is freed (tcp.ts). */
  wantsRing: bool = false;
  // the sockets layer's own (sockets.ts), kept across reuse of the connection number
  socketGeneration: i32 = 0;
  socketFlags: i32 = 0;
  socketOpened: i32 = 0;
  socketNext: i32 = 0;
  socketSince: u32 = 0;
  /** The sockets listener that accepted the connection (-1: an active open), so events need not look it up. */
  socketListener: i32 = 0;
}

export function seqLt(a: u32, b: u32): bool { return i32(a - b) < 0; }
export function seqLe(a: u32, b: u32): bool { return i32(a - b) <= 0; }

// ---- events for the application (tcp.ts has the contract) ----------------------------------------------
/** The handshake completed: a new connection of a listener. */
export const TCP_EVENT_ACCEPTED = 1;
/** Data arrived: tcpRead it. */
export const TCP_EVENT_DATA = 2;
/** Sent data was acknowledged: there is room for tcpWrite. */
export const TCP_EVENT_WRITABLE = 3;
/** The peer sent FIN: no more data will come (tcpClose when done sending). */
export const TCP_EVENT_PEER_CLOSED = 4;
/** Both sides closed: the connection number is free. */
export const TCP_EVENT_CLOSED = 5;
/** Reset by the peer or aborted (retransmissions exhausted): the connection number is free. */
export const TCP_EVENT_RESET = 6;
/** An active open (tcpConnect) completed: ESTABLISHED, tcpWrite away. */
export const TCP_EVENT_CONNECTED = 7;
/** An active open was refused (a RST acknowledging our SYN): the connection number is free. */
export const TCP_EVENT_REFUSED = 8;
/** An active open gave up (no answer to its SYN and its retransmissions): the connection number is free. */
export const TCP_EVENT_TIMED_OUT = 9;
