// Test guest for test/libos: the libos network stack with small services. The harness's boot page
// gives the MAC and addresses; it calls guestMain with the multiboot magic, so bootInit gets GUEST_MAGIC.
//   UDP 7   echo
//   TCP 7   echo (reads only what it can write back: a full send buffer closes the receive window)
//   TCP 9   discard (reads everything; closes when the peer does)
//   TCP 13  greeting: writes "hello from denali\n" on accept and closes
//   TCP 19  hold: never reads (the receive window fills up); closes when the peer does
//   TCP 20  bulk: writes BULK_BYTES of a pattern (byte i = i * 7 mod 251) then closes
//   TCP 21  bulk with the large buffers (32 KiB each way): LARGE_BULK_BYTES of the same pattern, then closes
//   TCP 22  echo with the large buffers
//   UDP 11  the TCP's memory and counters, as text: `live L most M rings R ringsMost P table T cookies S ok O bad B
//           nomem N` (any datagram asks)
// Every event is logged on the console: `tcp CONNECTION EVENT`.
import { i32, u32, u8, print, write } from "dsl";
import { bootInit } from "../../../guest-src/runtime/boot.ts";
import { GUEST_MAGIC } from "../../../abi/boot.ts";
import { enableInterrupts } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot, stackRun } from "../../../guest-src/libos/stack.ts";
import { udpBind, udpSend } from "../../../guest-src/libos/udp.ts";
import { connectionsLive, connectionsMost } from "../../../guest-src/libos/tcp-table.ts";
import { ringsInUse, ringsMost, tableBytes } from "../../../guest-src/libos/tcp-buffers.ts";
import {
  netStats, STAT_TCP_COOKIE_SENT, STAT_TCP_COOKIE_OK, STAT_TCP_COOKIE_BAD, STAT_TCP_NO_MEMORY,
} from "../../../guest-src/libos/netif.ts";
import { formatString, formatDecimal } from "../../../dsl/runtime/format.ts";
import {
  tcpListen, tcpRead, tcpWrite, tcpClose, tcpWriteSpace, tcpAvailable,
  TCP_EVENT_ACCEPTED, TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED,
} from "../../../guest-src/libos/tcp.ts";

const BULK_BYTES = 10000;
const LARGE_BULK_BYTES = 200000;
const buffer = new Uint8Array(4096);
const bulkSent = new Int32Array(1024);   // connections this test guest tells apart
const bulkTotal = new Int32Array(1024);   // connections this test guest tells apart

function udpEcho(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  udpSend(source, sourcePort, localPort, data, offset, length);
}

const report = new Uint8Array(256);
let reportLength = 0;
function reportByte(byte: u8): void { if (reportLength < 256) report[reportLength++] = byte; }
function reportField(name: string, value: u32): void {
  formatString(reportByte, name);
  formatDecimal(reportByte, value);
}

/** UDP 11: the TCP's memory and counters. */
function udpStats(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  reportLength = 0;
  reportField("live ", u32(connectionsLive())); reportField(" most ", u32(connectionsMost()));
  reportField(" rings ", u32(ringsInUse())); reportField(" ringsMost ", u32(ringsMost()));
  reportField(" table ", tableBytes());
  reportField(" cookies ", netStats[STAT_TCP_COOKIE_SENT]); reportField(" ok ", netStats[STAT_TCP_COOKIE_OK]);
  reportField(" bad ", netStats[STAT_TCP_COOKIE_BAD]); reportField(" nomem ", netStats[STAT_TCP_NO_MEMORY]);
  udpSend(source, sourcePort, localPort, report, 0, reportLength);
}

function log(connection: i32, event: i32): void { write("tcp "); write(connection); write(" "); print(event); }

function echo(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_DATA || event === TCP_EVENT_WRITABLE) {
    while (true) {
      let n = tcpAvailable(connection);
      const space = tcpWriteSpace(connection);
      if (n > space) n = space;
      if (n > 4096) n = 4096;
      if (n <= 0) break;
      n = tcpRead(connection, buffer, 0, n);
      tcpWrite(connection, buffer, 0, n);
    }
  } else if (event === TCP_EVENT_PEER_CLOSED) {
    tcpClose(connection);
  }
}

function discard(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_DATA) tcpRead(connection, buffer, 0, 4096);
  else if (event === TCP_EVENT_PEER_CLOSED) tcpClose(connection);
}

const GREETING = "hello from denali\n";

function greet(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_ACCEPTED) {
    for (let i = 0; i < GREETING.length; i++) buffer[i] = GREETING.charCodeAt(i);
    tcpWrite(connection, buffer, 0, GREETING.length);
    tcpClose(connection);
  }
}

function hold(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_PEER_CLOSED) tcpClose(connection);
}

function bulk(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_ACCEPTED) { bulkSent[connection] = 0; bulkTotal[connection] = BULK_BYTES; }
  pump(connection, event);
}

function largeBulk(connection: i32, event: i32): void {
  log(connection, event);
  if (event === TCP_EVENT_ACCEPTED) { bulkSent[connection] = 0; bulkTotal[connection] = LARGE_BULK_BYTES; }
  pump(connection, event);
}

/** Writes the pattern while there is room, until the connection's total; then closes. */
function pump(connection: i32, event: i32): void {
  if (event === TCP_EVENT_ACCEPTED || event === TCP_EVENT_WRITABLE) {
    const total = bulkTotal[connection];
    while (bulkSent[connection] < total) {
      let n = total - bulkSent[connection];
      if (n > 4096) n = 4096;
      for (let i = 0; i < n; i++) buffer[i] = u8(((bulkSent[connection] + i) * 7) % 251);
      const written = tcpWrite(connection, buffer, 0, n);
      if (written === 0) break;
      bulkSent[connection] += written;
    }
    if (bulkSent[connection] === total) { bulkSent[connection]++; tcpClose(connection); }
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  udpBind(7, udpEcho);
  udpBind(11, udpStats);
  tcpListen(7, 4, echo, false);
  tcpListen(9, 4, discard, false);
  tcpListen(13, 4, greet, false);
  tcpListen(19, 4, hold, false);
  tcpListen(20, 4, bulk, false);
  tcpListen(21, 4, largeBulk, true);
  tcpListen(22, 4, echo, true);
  print("stack up");
  stackRun();
}
