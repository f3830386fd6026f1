// The client VM of test/kernel/net-connect.test.ts: fetches `/` over HTTP/1.1 through socketConnect (the libos
// TCP's active open, guest-src/libos/sockets.ts) from the server whose address is the manifest argument (a
// number: 10.0.0.2 is 0x0A000002), port 80. A refused connection (the server's VM not listening yet) is
// tried again after 100 ms, up to 50 times. Prints
//   `vm N fetch A.B.C.D: connected from port P` (P the ephemeral port, from the socket's connection),
//   `vm N fetch: B bytes, status S, page for VM K` (S the status line's code; K from `<h1>Denali VM K</h1>`,
//   -1 when absent), or `vm N fetch failed R` (socketConnect's error),
// then `vm N fetch done` and exits.
import { i32, u32, write, print, exit } from "dsl";
import { bootInit, argument, vmId } from "../../../guest-src/runtime/boot.ts";
import { enableInterrupts } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot } from "../../../guest-src/libos/stack.ts";
import { threadsInit, threadCreate, threadsRun, threadSleep } from "../../../guest-src/libos/threads.ts";
import {
  socketConnect, socketRead, socketWrite, socketClose, socketLocalPort, SOCKET_REFUSED,
} from "../../../guest-src/libos/sockets.ts";

const REQUEST = "GET / HTTP/1.1\r\nHost: denali\r\nConnection: close\r\n\r\n";
const response = new Uint8Array(8192);

function writeIp(a: u32): void {
  write(a >>> 24); write("."); write((a >>> 16) & 0xff); write(".");
  write((a >>> 8) & 0xff); write("."); write(a & 0xff);
}

/** The decimal number at `at` in the response (-1 when none). */
function numberAt(at: i32, end: i32): i32 {
  let n = -1;
  for (let i = at; i < end && response[i] >= 48 && response[i] <= 57; i++) n = (n < 0 ? 0 : n * 10) + response[i] - 48;
  return n;
}

/** Where `text` starts in response[0..end), or -1. */
function find(text: string, end: i32): i32 {
  for (let i = 0; i + text.length <= end; i++) {
    let j = 0;
    while (j < text.length && response[i + j] === text.charCodeAt(j)) j++;
    if (j === text.length) return i;
  }
  return -1;
}

function fetch(server: u32): void {
  let socket = SOCKET_REFUSED;
  for (let attempt = 0; attempt < 50 && socket === SOCKET_REFUSED; attempt++) {
    if (attempt > 0) threadSleep(100000);
    socket = socketConnect(server, 80);
  }
  if (socket < 0) { write("vm "); write(vmId()); write(" fetch failed "); print(socket); }
  else {
    write("vm "); write(vmId()); write(" fetch "); writeIp(server); write(": connected from port ");
    print(socketLocalPort(socket));
    for (let i = 0; i < REQUEST.length; i++) response[i] = REQUEST.charCodeAt(i);
    socketWrite(socket, response, 0, REQUEST.length);
    let total = 0;
    while (total < 8192) {
      const n = socketRead(socket, response, total, 8192 - total, 10000000);
      if (n <= 0) break;
      total += n;
    }
    socketClose(socket);
    const status = find("HTTP/1.1 ", total) === 0 ? numberAt(9, total) : -1;
    const h1 = find("<h1>Denali VM ", total);
    write("vm "); write(vmId()); write(" fetch: "); write(total); write(" bytes, status "); write(status);
    write(", page for VM "); print(h1 < 0 ? -1 : numberAt(h1 + 14, total));
  }
  write("vm "); write(vmId()); print(" fetch done");
  exit(0);
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  threadCreate(fetch, argument());
  threadsRun();
}
