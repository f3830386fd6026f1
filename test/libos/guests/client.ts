// Test guest for test/libos/tcp-connect.test.ts: TCP clients on the libos threads and blocking sockets
// (socketConnect, guest-src/libos/sockets.ts). Entries:
//   connectMain: one thread connects to port 80 of the boot argument's address (10.0.0.1 when 0) and prints
//     `connect R` (0 on success, else the negative error); connected, it writes "ping\n", reads once,
//     prints `read N: B B ...` (the bytes in decimal), closes (our FIN first) and prints `closed`.
//   twoMain: two threads connect to 10.0.0.1 port 80 at once and print `tK connect R` each; with a boot argument
//     P, port P is listened on first (an ephemeral port must not be a listener's).
import { i32, u32, write, print } from "dsl";
import { bootInit, argument } from "../../../guest-src/runtime/boot.ts";
import { GUEST_MAGIC } from "../../../abi/boot.ts";
import { enableInterrupts } from "../../../guest-src/runtime/events.ts";
import { stackInitFromBoot } from "../../../guest-src/libos/stack.ts";
import { threadsInit, threadCreate, threadsRun, threadSelf } from "../../../guest-src/libos/threads.ts";
import {
  socketConnect, socketListen, socketRead, socketWrite, socketClose,
} from "../../../guest-src/libos/sockets.ts";

const PEER: u32 = 0x0a000001;   // 10.0.0.1
const buffer = new Uint8Array(256);

function client(target: u32): void {
  const socket = socketConnect(target, 80);
  write("connect "); print(socket < 0 ? socket : 0);
  if (socket < 0) return;
  const request = "ping\n";
  for (let i = 0; i < request.length; i++) buffer[i] = request.charCodeAt(i);
  socketWrite(socket, buffer, 0, request.length);
  const n = socketRead(socket, buffer, 0, 256, 0);
  write("read "); write(n); write(":");
  for (let i = 0; i < n; i++) { write(" "); write(buffer[i]); }
  print("");
  socketClose(socket);
  print("closed");
}

export function connectMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  threadCreate(client, argument() === 0 ? PEER : argument());
  threadsRun();
}

function connector(arg: u32): void {
  const socket = socketConnect(PEER, 80);
  write("t"); write(threadSelf()); write(" connect "); print(socket < 0 ? socket : 0);
}

export function twoMain(magic: u32, bootInfo: u32): void {
  bootInit(GUEST_MAGIC, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  threadsInit();
  if (argument() !== 0) socketListen(i32(argument()), 1);
  threadCreate(connector, 0);
  threadCreate(connector, 0);
  threadsRun();
}
