#!/usr/bin/env bash
# Installs what Denali/TS needs on a fresh Debian machine with Node 20: the Debian packages (when a
# tool is missing) and the npm packages from the lock file (when node_modules is missing or stale).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
[ -d /usr/lib/grub/i386-pc ] || need+=(grub-pc-bin)
command -v grub-mkrescue >/dev/null || need+=(grub-common)
command -v xorriso >/dev/null || need+=(xorriso)
command -v mformat >/dev/null || need+=(mtools)
command -v bochs >/dev/null || need+=(bochs bochs-term)
[ -f /usr/share/bochs/BIOS-bochs-latest ] || need+=(bochsbios)
[ -d /usr/share/vgabios ] || need+=(vgabios)
dpkg -s bochs-term >/dev/null 2>&1 || need+=(bochs-term)
command -v objdump >/dev/null || need+=(binutils)
command -v gdb >/dev/null || need+=(gdb)                # debugging; `denali doctor` checks it
command -v ip >/dev/null || need+=(iproute2)          # network namespaces and tap devices (networking tests, as root)
command -v ping >/dev/null || need+=(iputils-ping)    # the tap test pings a VM
command -v iptables >/dev/null || need+=(iptables)    # net-tcp test: packet loss injected on the tap
command -v socat >/dev/null || need+=(socat)          # net-relay test, bench:relay: a tap bridged to the relay
command -v curl >/dev/null || need+=(curl)            # net-hostile test: the web server still serves
/usr/bin/python3 -c 'import scapy.all' >/dev/null 2>&1 || need+=(python3-scapy)   # net-hostile test: raw malformed frames
command -v curl >/dev/null || need+=(curl)            # the web tests fetch pages from the VMs
command -v ab >/dev/null || need+=(apache2-utils)     # ApacheBench against the web VMs
command -v tc >/dev/null || need+=(iproute2)          # tc netem: packet loss on the tap
/usr/bin/python3 -c 'import scapy' 2>/dev/null || need+=(python3-scapy)   # malformed traffic (Debian's python3, not a pyenv one)
dpkg -s gcc-multilib >/dev/null 2>&1 || need+=(gcc-multilib)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root (or install them yourself): apt-get install ${need[*]}" >&2; exit 1; fi
  apt-get update -qq || echo "setup: apt-get update reported errors (continuing with the indexes it has)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The Linux peer (test/tools/web-bench.test.ts, npm run bench:web): as root only (it needs apt-get and a
# network namespace to run); cached in out/linux-peer/, its .debs in /var/cache/denali/.
if [ "$(id -u)" = 0 ] && [ ! -f out/linux-peer/peer.json ]; then
  npx tsx tools/prepare-linux-peer.ts
fi
