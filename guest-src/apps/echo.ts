// Demo: UDP and TCP echo servers on a port (RFC 862), over the libos network stack.
// The port is the manifest's argument (7 when it is 0). UDP: every datagram is sent back to its
// sender. TCP: every byte is sent back on its connection; the server closes when the client does.
// Flow control end to end: the server reads only what it can write back, so a client that does not
// read sees the window close.
import { i32, u32, write, print } from "dsl";
import { bootInit, argument, vmId } from "../runtime/boot.ts";
import { enableInterrupts } from "../runtime/events.ts";
import { stackInitFromBoot, stackRun } from "../libos/stack.ts";
import { udpBind, udpSend } from "../libos/udp.ts";
import { tcpListen, tcpRead, tcpWrite, tcpClose, tcpAvailable, tcpWriteSpace, TCP_EVENT_DATA, TCP_EVENT_WRITABLE, TCP_EVENT_PEER_CLOSED } from "../libos/tcp.ts";

const DEFAULT_PORT = 7;
const BACKLOG = 8;
const buffer = new Uint8Array(4096);

function udpEcho(source: u32, sourcePort: i32, localPort: i32, data: Uint8Array, offset: i32, length: i32): void {
  udpSend(source, sourcePort, localPort, data, offset, length);
}

function tcpEcho(connection: i32, event: i32): void {
  if (event === TCP_EVENT_DATA || event === TCP_EVENT_WRITABLE) {
    let n = tcpAvailable(connection);
    const space = tcpWriteSpace(connection);
    if (n > space) n = space;
    if (n > 4096) n = 4096;
    n = tcpRead(connection, buffer, 0, n);
    tcpWrite(connection, buffer, 0, n);
  } else if (event === TCP_EVENT_PEER_CLOSED) {
    tcpClose(connection);
  }
}

export function guestMain(magic: u32, bootInfo: u32): void {
  bootInit(magic, bootInfo);
  enableInterrupts();
  stackInitFromBoot();
  const port = argument() === 0 ? DEFAULT_PORT : i32(argument());
  if (!udpBind(port, udpEcho) || !tcpListen(port, BACKLOG, tcpEcho)) { print("echo: cannot bind"); return; }
  write("vm "); write(vmId()); write(" echo on port "); print(port);
  stackRun();
}
