// Demo: UDP and TCP echo servers on a port (RFC 862), over the libos network stack.
// The argument's low 16 bits are the port (7 when 0). UDP: every datagram is sent back to its sender.
// TCP: every byte is sent back on its connection; once the client has closed its direction and every
// byte it sent has been echoed, the server closes too (a FIN after the last byte). Flow control end
// to end: the server reads only what it can write back, so a client that does not read sees the
// window close. When a connection ends after the stack retransmitted or dropped TCP segments (since
// the last such line), the server prints `vm N echo: connection C closed|reset, retransmits R, timeouts T,
// recoveries F, probes P, out of order O, tcp drops D` (the stack's counters so far: segments sent again,
// RTO expirations, fast retransmits, tail loss probes, segments held out of order, segments dropped as
// malformed).
// Its connections use the TCP's large buffers (tcp-buffers.ts) while one is free.
// Bench mode (argument bit 16, bench/net.ts): the UDP port does not echo; its handler copies the
// datagram's data into the application's buffer (what a receiving application does at least), and the
// stack prints per received frame `bench net-rx-vnic|stack|app N bytes B` (libos/netif.ts).
import { i32, u32, write, print } from "dsl";
import { bootInit, argument, vmId } from "../runtime/boot.ts";
import { enableInterrupts } from "../runtime/events.ts";
import { stackInitFromBoot, stackReport, stackRun } from "../libos/stack.ts";
import { udpBind, udpSend } from "../libos/udp.ts";
import {
  netStats, netifSetBench, STAT_TCP_RETRANSMIT, STAT_TCP_DROP, STAT_TCP_TIMEOUT, STAT_TCP_RECOVERY, STAT_TCP_UNDONE,
  STAT_TCP_OUT_OF_ORDER, STAT_TCP_TAIL_PROBE,
} from "../libos/netif.ts";
import {
  tcpListen, tcpRead, tcpWrite, tcpClose, tcpAvailable, tcpWriteSpace, tcpState, TCP_CLOSE_WAIT,
  TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED, TCP_EVENT_CLOSED, TCP_EVENT_RESET,
} from "../libos/tcp.ts";

const DEFAULT_PORT = 7;
const BACKLOG = 8;
const BENCH_MODE: u32 = 0x10000;
const buffer = new Uint8Array(4096);
/** Bench mode: where the application puts a received datagram. */
const received = new Uint8Array(1500);
let receivedBytes: u32 = 0;

function udpEcho(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  udpSend(source, sourcePort, localPort, data, offset, length);
}

/** Bench mode's application: takes the datagram's data into its own buffer. */
function udpConsume(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  const n = length < 1500 ? length : 1500;
  for (let i = 0; i < n; i++) received[i] = data[offset + i];
  receivedBytes += u32(n);
}

/** Echoes what the send buffer has room for; closes once the peer is done and nothing is left. */
function pump(connection: i32): void {
  while (true) {
    let n = tcpAvailable(connection);
    const space = tcpWriteSpace(connection);
    if (n > space) n = space;
    if (n > 4096) n = 4096;
    if (n <= 0) break;
    n = tcpRead(connection, buffer, 0, n);
    tcpWrite(connection, buffer, 0, n);
  }
  // The peer closed its direction (CLOSE-WAIT): close ours once everything is echoed.
  if (tcpState(connection) === TCP_CLOSE_WAIT && tcpAvailable(connection) === 0) tcpClose(connection);
}

let reportedRetransmits: u32 = 0;
let reportedDrops: u32 = 0;

function report(connection: i32, how: string): void {
  if (netStats[STAT_TCP_RETRANSMIT] === reportedRetransmits && netStats[STAT_TCP_DROP] === reportedDrops) return;
  reportedRetransmits = netStats[STAT_TCP_RETRANSMIT];
  reportedDrops = netStats[STAT_TCP_DROP];
  write("vm "); write(vmId()); write(" echo: connection "); write(connection); write(" "); write(how);
  write(", retransmits "); write(netStats[STAT_TCP_RETRANSMIT]);
  write(", timeouts "); write(netStats[STAT_TCP_TIMEOUT]);
  write(", recoveries "); write(netStats[STAT_TCP_RECOVERY]); write(", probes "); write(netStats[STAT_TCP_TAIL_PROBE]);
  write(", out of order "); write(netStats[STAT_TCP_OUT_OF_ORDER]);
  write(", tcp drops "); write(netStats[STAT_TCP_DROP]); write(", undone "); print(netStats[STAT_TCP_UNDONE]);
}

function tcpEcho(connection: i32, event: i32): void {
  if (event === TCP_EVENT_DATA || event === TCP_EVENT_WRITABLE || event === TCP_EVENT_PEER_CLOSED) pump(connection);
  else if (event === TCP_EVENT_CLOSED) report(connection, "closed");
  else if (event === TCP_EVENT_RESET) report(connection, "reset");
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  const bench = (argument() & BENCH_MODE) !== 0;
  const low = i32(argument() & 0xffff);
  const port = low === 0 ? DEFAULT_PORT : low;
  if (!udpBind(port, bench ? udpConsume : udpEcho) || !tcpListen(port, BACKLOG, tcpEcho, true)) {
    print("echo: cannot bind");
    return;
  }
  if (bench) netifSetBench(true);
  stackReport();
  write("vm "); write(vmId()); write(" echo on port "); write(port); print(bench ? " (bench)" : "");
  stackRun();
}
