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
// Every event is logged on the console: `tcp CONNECTION EVENT`.
import { i32, u32, u8, print, write } from "dsl";
import { bootInit } from "../../../guest-src/runtime/boot.ts";
import { GUEST_MAGIC } from "../../../abi/boot.ts";
import { enableInterrupts } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot, stackRun } from "../../../guest-src/libos/stack.ts";
import { udpBind, udpSend } from "../../../guest-src/libos/udp.ts";
import {
  tcpListen, tcpRead, tcpWrite, tcpClose, tcpWriteSpace, tcpAvailable,
  TCP_EVENT_ACCEPTED, TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED,
} from "../../../guest-src/libos/tcp.ts";

const BULK_BYTES = 10000;
const LARGE_BULK_BYTES = 200000;
const buffer = new Uint8Array(4096);
const bulkSent = new Int32Array(16);
const bulkTotal = new Int32Array(16);

function udpEcho(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  udpSend(source, sourcePort, localPort, data, offset, length);
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
