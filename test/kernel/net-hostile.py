# Malformed and spoofed frames from the host for test/kernel/net-hostile.test.ts, built with scapy
# (Debian python3-scapy; run with /usr/bin/python3) and written raw to the tap with an AF_PACKET socket,
# so frames of any length go out exactly as built (truncated, oversized, bad checksums).
# Usage: net-hostile.py IFACE attack      -> sends everything, prints JSON {category: count, ..., "spoofed": N}
#        net-hostile.py IFACE arp IP      -> one broadcast ARP request for IP (the switch must direct it)
#        net-hostile.py IFACE established -> every flag combination on an established connection (below)
# The VMs (the test's manifest): VM 0 httpd 198.18.0.2 port 80, VM 1 echo 198.18.0.3 port 7, VM 2 the
# spoofer 198.18.0.4; their MACs are 02:00:00:00:00:0N (docs/virtual-architecture.md).
import json
import random
import socket
import sys
import time

from scapy.all import ARP, ICMP, IP, IPv6, TCP, UDP, Dot1Q, Ether, Raw, fragment, get_if_hwaddr, conf

conf.verb = 0
iface = sys.argv[1]
host_mac = get_if_hwaddr(iface)
HOST = "198.18.0.1"
VM_MAC = ["02:00:00:00:00:00", "02:00:00:00:00:01", "02:00:00:00:00:02"]
VM_IP = ["198.18.0.2", "198.18.0.3", "198.18.0.4"]
ATTACKER_MAC = "de:ad:be:ef:00:01"
random.seed(5)

raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((iface, 0))
counts = {}
refused = {}


def send(category, frame, pause=0.002):
    data = bytes(frame)
    try:
        raw.send(data)
        counts[category] = counts.get(category, 0) + 1
    except OSError as e:  # the host kernel refuses some lengths (below the header, above the MTU)
        refused[category] = refused.get(category, 0) + 1
    time.sleep(pause)


def eth(vm, src=None):
    return Ether(dst=VM_MAC[vm], src=src or host_mac)


def ip_to(vm, **kw):
    return eth(vm) / IP(src=kw.pop("src", HOST), dst=VM_IP[vm], **kw)


def patch(frame, offset, value):
    data = bytearray(bytes(frame))
    data[offset:offset + len(value)] = value
    return bytes(data)


def arp_request(ip):
    send("arp-directed", Ether(dst="ff:ff:ff:ff:ff:ff", src=host_mac) / ARP(op=1, hwsrc=host_mac, psrc=HOST, pdst=ip), 0)


def attack():
    spoofed = 0
    # ---- Ethernet: truncated, oversized, EtherTypes the switch refuses, group and unknown destinations ----
    for n in (1, 6, 13):
        send("truncated-frame", bytes.fromhex("020000000001")[:n] + bytes(max(0, n - 6)))
    send("truncated-frame", eth(1) / Raw(b""))                                 # a bare header, type 0x9000
    send("truncated-frame", patch(eth(1) / Raw(b""), 12, b"\x08\x00"))         # IPv4 type, no header
    send("truncated-frame", (eth(1) / IP(src=HOST, dst=VM_IP[1]) / UDP(dport=7) / Raw(b"x" * 20)).build()[:30])
    send("truncated-frame", (eth(1) / IP(src=HOST, dst=VM_IP[1]) / TCP(dport=7) / Raw(b"x" * 20)).build()[:44])
    send("truncated-frame", (eth(1) / ARP(op=1, psrc=HOST, pdst=VM_IP[1])).build()[:30])
    send("truncated-frame", (Ether(dst="ff:ff:ff:ff:ff:ff", src=host_mac) / ARP(op=1, psrc=HOST, pdst=VM_IP[1])).build()[:40])
    for n in (1515, 1518, 1600, 4000, 9000):
        send("oversized-frame", eth(1) / IP(src=HOST, dst=VM_IP[1]) / UDP(dport=7) / Raw(b"o" * (n - 42)))
    send("ethertype", eth(1) / IPv6(dst="fe80::1") / UDP(dport=7))
    send("ethertype", eth(1) / Dot1Q(vlan=5) / IP(src=HOST, dst=VM_IP[1]) / UDP(dport=7) / Raw(b"vlan"))
    send("ethertype", patch(eth(1) / Raw(b"z" * 46), 12, b"\x88\xb5"))
    send("group-or-unknown-mac", Ether(dst="ff:ff:ff:ff:ff:ff", src=host_mac) / IP(src=HOST, dst="255.255.255.255") / UDP(dport=7) / Raw(b"bcast"))
    send("group-or-unknown-mac", Ether(dst="01:00:5e:00:00:01", src=host_mac) / IP(src=HOST, dst="224.0.0.1") / UDP(dport=7))
    for mac in ("02:00:00:00:00:63", "02:00:00:ff:ff:ff", "02:00:01:00:00:01", "03:00:00:00:00:01"):
        send("group-or-unknown-mac", Ether(dst=mac, src=host_mac) / IP(src=HOST, dst=VM_IP[1]) / UDP(dport=7) / Raw(b"who"))

    # ---- IPv4 header: version, IHL, total length, checksum, TTL, addresses, protocol, options ----------
    good = ip_to(1) / UDP(sport=5000, dport=7) / Raw(b"hello denali")
    built = good.build()
    for version_ihl in (0x65, 0x40, 0x41, 0x44, 0x4F, 0x46):
        send("bad-ip-header", patch(built, 14, bytes([version_ihl])))
    for total in (0, 10, 19, 21, 2000, 65535):
        send("bad-ip-length", ip_to(1, len=total) / UDP(sport=5000, dport=7) / Raw(b"hello denali"))
    send("bad-ip-checksum", patch(built, 24, b"\x12\x34"))
    send("bad-ip-header", ip_to(1, ttl=0) / UDP(sport=5000, dport=7) / Raw(b"ttl0"))
    for src in ("127.0.0.1", "255.255.255.255", "224.0.0.1", "0.0.0.0"):
        send("bad-ip-address", ip_to(1, src=src) / UDP(sport=5000, dport=7) / Raw(b"src"))
    send("bad-ip-address", eth(1) / IP(src=HOST, dst="198.18.0.99") / UDP(sport=5000, dport=7))
    send("bad-ip-header", ip_to(1, proto=99) / Raw(b"p" * 20))
    send("ip-options", ip_to(1, options=[b"\x01\x01\x01\x00"]) / UDP(sport=5001, dport=7) / Raw(b"options"))
    send("ip-options", ip_to(1, ihl=6) / Raw(b"\x07\x27\x04"))                # option length past the header

    # ---- fragments (MF, offsets, overlaps, past 64 KiB): the guest drops them all ----------------------
    for f in fragment(IP(src=HOST, dst=VM_IP[1]) / UDP(sport=5002, dport=7) / Raw(b"f" * 3000), fragsize=1000):
        send("fragment", eth(1) / f)
    send("fragment", ip_to(1, flags="MF", frag=0, id=77) / UDP(sport=5003, dport=7) / Raw(b"a" * 32))
    send("fragment", ip_to(1, flags=0, frag=4, id=77) / Raw(b"b" * 32))
    send("fragment", ip_to(1, flags="MF", frag=2, id=77) / Raw(b"c" * 32))           # overlapping
    send("fragment", ip_to(1, flags=0, frag=8191, id=78, proto=1) / Raw(b"d" * 400))  # past 65535
    send("fragment", ip_to(0, flags="MF", frag=0, id=79) / TCP(sport=5004, dport=80, flags="S"))
    for f in fragment(IP(src=HOST, dst=VM_IP[0]) / ICMP() / Raw(b"p" * 4000), fragsize=1400):
        send("fragment", eth(0) / f)

    # ---- TCP: every flag combination (all 8 bits) to the web server, the echo server, a closed port ----
    for vm, port in ((0, 80), (1, 7), (1, 1234)):
        for flags in range(256):
            seq, ack = random.getrandbits(32), random.getrandbits(32)
            send("tcp-flags", ip_to(vm) / TCP(sport=20000 + flags, dport=port, flags=flags, seq=seq, ack=ack, window=4096) / (Raw(b"data") if flags & 8 else b""), 0.001)
    # ---- TCP options and header lengths ---------------------------------------------------------------
    for options in (b"\x08\x00\x00\x00",             # zero-length option (timestamps kind, length 0)
                    b"\x03\x0a\x00\x00",             # length past the header
                    b"\x02\x03\x05\x00",             # MSS with length 3
                    b"\x02\x02\x00\x00",             # MSS with length 2
                    b"\x02\x05\x05\xb4\x00\x00\x00\x00",  # MSS with length 5
                    b"\x01\x01\x01\x02",             # a kind without its length at the end
                    b"\x02\x04\x00\x00",             # MSS 0
                    b"\x02\x04\x00\x01",             # MSS 1
                    b"\x02\x04\xff\xff",             # MSS 65535
                    b"\x01" * 40):                   # 40 bytes of NOPs (data offset 15)
        for vm, port in ((0, 80), (1, 7)):
            segment = TCP(sport=random.randint(30000, 39999), dport=port, flags="S", seq=random.getrandbits(32), window=4096, options=[])
            data = bytearray(bytes(IP(src=HOST, dst=VM_IP[vm]) / segment / Raw(options)))
            offset_words = (20 + len(options)) // 4
            data[20 + 12] = offset_words << 4
            packet = IP(bytes(data))
            del packet.chksum
            del packet[TCP].chksum
            send("tcp-options", eth(vm) / IP(bytes(packet)))
    for offset_words in (0, 4, 15):
        segment = ip_to(1) / TCP(sport=31000 + offset_words, dport=7, flags="S", seq=1)
        data = bytearray(segment.build())
        data[14 + 20 + 12] = offset_words << 4
        send("tcp-header-length", bytes(data))
    send("tcp-checksum", patch(ip_to(1) / TCP(sport=31100, dport=7, flags="S"), 14 + 20 + 16, b"\xde\xad"))
    send("tcp-flags", ip_to(1) / TCP(sport=31101, dport=7, flags="S") / Raw(b"data in a SYN"))
    send("tcp-flags", ip_to(1) / TCP(sport=0, dport=7, flags="S"))

    # ---- UDP lengths and checksums ------------------------------------------------------------------
    for length in (0, 4, 7, 2000):
        send("bad-udp-length", ip_to(1) / UDP(sport=5100, dport=7, len=length) / Raw(b"udp length"))
    send("bad-udp-length", ip_to(1) / UDP(sport=5101, dport=7, len=10) / Raw(b"longer than the udp length"))
    send("bad-udp-checksum", patch(ip_to(1) / UDP(sport=5102, dport=7) / Raw(b"checksum"), 14 + 20 + 6, b"\x00\x01"))
    send("udp", ip_to(1) / UDP(sport=5103, dport=7, chksum=0) / Raw(b"no checksum"))
    send("udp", ip_to(1) / UDP(sport=5104, dport=9) / Raw(b"unbound port"))
    send("udp", ip_to(1) / UDP(sport=5105, dport=0) / Raw(b"port zero"))
    # ---- ICMP --------------------------------------------------------------------------------------
    send("bad-icmp", ip_to(1) / Raw(b"\x08\x00"))
    send("bad-icmp", patch(ip_to(1) / ICMP(id=1, seq=1) / Raw(b"x" * 8), 14 + 20 + 2, b"\x00\x00"))
    send("bad-icmp", ip_to(1) / ICMP(type=3, code=1) / Raw(b"\x00" * 28))

    # ---- ARP: malformed -----------------------------------------------------------------------------
    send("bad-arp", eth(1) / ARP(op=1, hwlen=8, psrc=HOST, pdst=VM_IP[1]))
    send("bad-arp", eth(1) / ARP(op=7, psrc=HOST, pdst=VM_IP[1]))
    send("bad-arp", eth(1) / ARP(op=2, hwsrc="ff:ff:ff:ff:ff:ff", psrc=HOST, pdst=VM_IP[1]))
    send("bad-arp", eth(1) / ARP(op=1, ptype=0x86dd, psrc=HOST, pdst=VM_IP[1]))

    # ---- spoofing from the wire: another VM's IP or MAC as the sender (the kernel drops and counts) ---
    spoofs = [
        eth(0) / ARP(op=2, hwsrc=ATTACKER_MAC, psrc=VM_IP[1], hwdst=VM_MAC[0], pdst=VM_IP[0]),             # reply: VM 1's IP is-at attacker
        eth(0, src=ATTACKER_MAC) / ARP(op=2, hwsrc=ATTACKER_MAC, psrc=VM_IP[2], hwdst=VM_MAC[0], pdst=VM_IP[0]),
        Ether(dst="ff:ff:ff:ff:ff:ff", src=host_mac) / ARP(op=1, hwsrc=host_mac, psrc=VM_IP[1], pdst=VM_IP[0]),   # request claiming VM 1's IP
        Ether(dst="ff:ff:ff:ff:ff:ff", src=ATTACKER_MAC) / ARP(op=1, hwsrc=ATTACKER_MAC, psrc=VM_IP[1], pdst=VM_IP[1]),  # gratuitous
        Ether(dst="ff:ff:ff:ff:ff:ff", src=host_mac) / ARP(op=1, hwsrc=VM_MAC[2], psrc=HOST, pdst=VM_IP[0]),     # VM 2's MAC as ARP sender
        eth(0, src=VM_MAC[1]) / ARP(op=2, hwsrc=VM_MAC[1], psrc=HOST, hwdst=VM_MAC[0], pdst=VM_IP[0]),           # VM 1's MAC as source
        eth(0, src=VM_MAC[1]) / IP(src=VM_IP[1], dst=VM_IP[0]) / ICMP(),                                          # VM 1 pinging VM 0
        eth(0) / IP(src=VM_IP[2], dst=VM_IP[0]) / TCP(sport=4444, dport=80, flags="S"),                           # VM 2's IP from the host
        eth(1) / IP(src=VM_IP[0], dst=VM_IP[1]) / UDP(sport=80, dport=7) / Raw(b"spoofed"),
    ]
    for frame in spoofs:
        send("spoofed", frame)
        spoofed += 1
    counts["refused"] = refused
    print(json.dumps(counts))


def established():
    """Every flag combination on an established connection to the echo server, in and out of its window.

    The handshake is scapy's own (the test drops the host kernel's RSTs to the VM meanwhile): SYN,
    SYN-ACK, ACK, 8 bytes echoed; then for each of the 256 flag values one segment at the VM's RCV.NXT
    with 4 bytes of data, one just past it and one far outside the window; RST last (it ends the
    connection). Prints what it saw."""
    from scapy.all import srp1, sniff, AsyncSniffer
    sport = 46000 + random.randint(0, 999)
    base = eth(1) / IP(src=HOST, dst=VM_IP[1])
    synack = srp1(base / TCP(sport=sport, dport=7, flags="S", seq=1000, window=8192, options=[("MSS", 1460)]), iface=iface, timeout=10)
    if synack is None or TCP not in synack or (synack[TCP].flags & 0x12) != 0x12:
        print(json.dumps({"error": "no SYN,ACK", "got": repr(synack)}))
        return
    seq, ack = 1001, (synack[TCP].seq + 1) & 0xFFFFFFFF
    send("established", base / TCP(sport=sport, dport=7, flags="A", seq=seq, ack=ack, window=8192))
    sniffer = AsyncSniffer(iface=iface, lfilter=lambda p: TCP in p and p[TCP].sport == 7 and p[TCP].dport == sport)
    sniffer.start()
    send("established", base / TCP(sport=sport, dport=7, flags="PA", seq=seq, ack=ack, window=8192) / Raw(b"denali!!"))
    seq += 8
    time.sleep(0.5)
    order = [f for f in range(256) if not f & 4] + [f for f in range(256) if f & 4]
    for flags in order:
        for offset in (0, 1, 0x40000000):
            send("established", base / TCP(sport=sport, dport=7, flags=flags, seq=(seq + offset) & 0xFFFFFFFF, ack=ack, window=8192) / Raw(b"zzzz"), 0.001)
    time.sleep(0.5)
    replies = sniffer.stop()
    echoed = b"".join(bytes(p[TCP].payload) for p in replies)
    counts["replies"] = len(replies)
    counts["echoed-first"] = echoed[:8].decode("latin1")
    print(json.dumps(counts))


if sys.argv[2] == "established":
    established()
elif sys.argv[2] == "attack":
    attack()
elif sys.argv[2] == "arp":
    arp_request(sys.argv[3])
    print(json.dumps(counts))
