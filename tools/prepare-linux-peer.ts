// `tools/setup.sh` (as root): prepares the Linux peer of bench:web and its test once (tools/linux-peer.ts:
// Debian's i386 kernel and busybox, downloaded once per machine, and an initramfs of our own).
import { prepareLinuxPeer } from './linux-peer.ts';

const peer = prepareLinuxPeer(undefined, line => console.log(`setup: ${line}`));
console.log(`setup: linux peer ready (${peer.kernelPackage}, ${peer.busyboxPackage})`);
