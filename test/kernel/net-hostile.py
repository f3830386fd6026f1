# Malformed and spoofed frames from the host for test/kernel/net-hostile.test.ts, built with scapy
# (Debian python3-scapy; run with /usr/bin/python3) and written raw to the tap with an AF_PACKET socket,
# so frames of any length go out exactly as built (truncated, oversized, bad checksums).
# Usage: net-hostile.py IFACE attack      -> sends everything, prints JSON {category: count, ..., "spoofed": N,
#                                            "tcp-replies": the flag sweep's replies by class (below)}
#        net-hostile.py IFACE arp IP      -> one broadcast ARP request for IP (the switch must direct it)
#        net-hostile.py IFACE established -> every flag combination on an established connection (below)
# The VMs (the test's manifest): VM 0 httpd 198.18.0.2 port 80, VM 1 echo 198.18.0.3 port 7, VM 2 the
# spoofer 198.18.0.4; their MACs are 02:00:00:00:00:0N (docs/virtual-architecture.md).
#
# TCP replies are checked per flag class against RFC 9293 §3.10.7 (and RFC 5961's challenge ACKs): each
# probe is followed by a fence, an ICMP echo request to the same VM; a VM handles its frames in order and
# sends its answers as it handles them, so the TCP segments it sends between the echo reply before and
# the one after are the probe's replies, whatever the timing. The expected replies come from the RFC's
# rules written out here (expect_* below), never from the guest's code.
import json
import random
import socket
import struct
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


# ---- replies: a receiving socket, frames parsed by hand, fences -------------------------------------------
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FENCE_ID = 0xD3A1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def parse(data):
    """An IPv4 TCP or ICMP frame as a dict (lengths from the IP header: frames are padded to 60 bytes)."""
    if len(data) < 34 or data[12:14] != b"\x08\x00":
        return None
    ihl = (data[14] & 15) * 4
    total = int.from_bytes(data[16:18], "big")
    l4, end = 14 + ihl, min(len(data), 14 + total)
    frame = {"src": socket.inet_ntoa(data[26:30]), "dst": socket.inet_ntoa(data[30:34])}
    if data[23] == 6 and end >= l4 + 20:
        sport, dport, seq, ack = struct.unpack("!HHII", data[l4:l4 + 12])
        start = l4 + (data[l4 + 12] >> 4) * 4
        frame.update(proto="tcp", sport=sport, dport=dport, seq=seq, ack=ack, flags=data[l4 + 13], data=data[start:end])
        return frame
    if data[23] == 1 and end >= l4 + 8:
        identifier, sequence = struct.unpack("!HH", data[l4 + 4:l4 + 8])
        frame.update(proto="icmp", type=data[l4], id=identifier, seq=sequence)
        return frame
    return None


class Replies:
    """Reads what the VMs send to the host; `fence(vm)` returns the TCP segments VM `vm` sent since the last fence."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind((iface, 0))
        self.seq = 0
        self.lost = 0

    def frames(self, until, timeout=5.0):
        """Frames from a VM (parsed), up to the first for which `until` is true; None on timeout."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, address = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            if address[2] == PACKET_OUTGOING:
                continue
            frame = parse(data)
            if frame is None or frame["src"] not in VM_IP:
                continue
            if until(frame):
                return seen
            seen.append(frame)

    def fence(self, vm):
        self.seq = (self.seq + 1) & 0xFFFF
        seq = self.seq
        send("fence", ip_to(vm) / ICMP(id=FENCE_ID, seq=seq), 0)
        seen = self.frames(lambda f: f["src"] == VM_IP[vm] and f.get("proto") == "icmp" and f["type"] == 0
                           and f["id"] == FENCE_ID and f["seq"] == seq)
        if seen is None:
            self.lost += 1
            return None
        return [f for f in seen if f["src"] == VM_IP[vm] and f.get("proto") == "tcp"]

    def refresh_arp(self, vm):
        """Keeps the VM's ARP entry for the host fresh (RFC 826: a packet from a known sender updates
        it), so no reply waits on a resolution."""
        send("fence", eth(vm) / ARP(op=1, hwsrc=host_mac, psrc=HOST, pdst=VM_IP[vm]), 0)


def segment(flags, seq, ack, data=b"", opts=None):
    """The expected shape of a reply: exact flags, and seq/ack/data where given (None: any)."""
    return {"flags": flags, "seq": seq, "ack": ack, "data": data, "options": opts}


def matches(got, want):
    def same(g, w):
        return (g["flags"] == w["flags"] and w["seq"] in (None, g["seq"]) and w["ack"] in (None, g["ack"])
                and g["data"] == w["data"])
    return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))


def show(segments):
    def text(v):
        return v.decode("latin1") if isinstance(v, bytes) else v
    return [{k: text(f[k]) for k in ("flags", "seq", "ack", "data")} for f in segments]


class Tally:
    """Replies by class: how many probes of each class, and every probe whose replies were not the expected ones."""

    def __init__(self):
        self.classes = {}
        self.mismatches = []

    def check(self, name, probe, got, want):
        self.classes[name] = self.classes.get(name, 0) + 1
        if got is None:
            self.mismatches.append({"class": name, "probe": probe, "got": "no fence reply"})
        elif not matches(got, want):
            self.mismatches.append({"class": name, "probe": probe, "got": show(got), "want": show(want)})

    def result(self):
        return {"classes": self.classes, "mismatches": self.mismatches[:20], "mismatch-count": len(self.mismatches)}


def seg_len(flags, data):
    return len(data) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)


def expect_listen(flags, seq, ack, data):
    """RFC 9293 §3.10.7.2 LISTEN: RST ignored; any ACK gets <SEQ=SEG.ACK><CTL=RST>; a SYN gets
    <SEQ=ISS><ACK=SEG.SEQ+1><CTL=SYN,ACK> (its data not acknowledged: the peer sends it again);
    anything else is dropped. SYN with FIN is dropped too (as Linux and BSD do: a scan, not an open)."""
    if flags & RST:
        return "listen: RST -> nothing", []
    if flags & ACK:
        return "listen: ACK -> <SEQ=SEG.ACK><CTL=RST>", [segment(RST, ack, None)]
    if flags & SYN and not flags & FIN:
        return "listen: SYN -> <ACK=SEG.SEQ+1><CTL=SYN,ACK>", [segment(SYN | ACK, None, (seq + 1) & 0xFFFFFFFF)]
    if flags & SYN:
        return "listen: SYN+FIN -> nothing", []
    return "listen: no SYN, ACK or RST -> nothing", []


def expect_closed(flags, seq, ack, data):
    """RFC 9293 §3.10.7.1 CLOSED: RST discarded; ACK on: <SEQ=SEG.ACK><CTL=RST>; ACK off:
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    if flags & RST:
        return "closed: RST -> nothing", []
    if flags & ACK:
        return "closed: ACK -> <SEQ=SEG.ACK><CTL=RST>", [segment(RST, ack, None)]
    reply = segment(RST | ACK, 0, (seq + seg_len(flags, data)) & 0xFFFFFFFF)
    return "closed: no ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", [reply]


def flag_sweep(replies, tally):
    """Every flag value (all 8 bits) to the web server and the echo server (LISTEN) and to a closed port."""
    for vm in (0, 1):
        replies.refresh_arp(vm)
        replies.fence(vm)          # the VM has the host's MAC before the first probe
    for vm, port, expect in ((0, 80, expect_listen), (1, 7, expect_listen), (1, 1234, expect_closed)):
        for flags in range(256):
            if flags % 64 == 0:
                replies.refresh_arp(vm)
            seq, ack = random.getrandbits(32), random.getrandbits(32)
            data = b"data" if flags & PSH else b""
            sport = 20000 + flags
            probe = TCP(sport=sport, dport=port, flags=flags, seq=seq, ack=ack, window=4096)
            send("tcp-flags", ip_to(vm) / probe / (Raw(data) if data else b""), 0)
            got = replies.fence(vm)
            name, want = expect(flags, seq, ack, data)
            ours = None if got is None else [f for f in got if f["dport"] == sport]
            tally.check(f"port {port} {name}", {"flags": flags, "seq": seq, "ack": ack}, ours, want)


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
    replies, tally = Replies(), Tally()
    flag_sweep(replies, tally)
    counts["tcp-replies"] = tally.result()
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
    counts["fences-lost"] = replies.lost
    print(json.dumps(counts))


class Connection:
    """A connection to the echo server made by hand (scapy frames; the test drops the host kernel's RSTs
    meanwhile). seq: our next sequence number (the VM's RCV.NXT); ack: the VM's SND.NXT."""

    def __init__(self, replies, sport):
        self.replies, self.sport = replies, sport
        self.seq, self.ack, self.ok = 1000, 0, False
        syn = TCP(sport=sport, dport=7, flags="S", seq=self.seq, window=8192, options=[("MSS", 1460)])
        send("established", base_frame() / syn, 0)
        got = replies.fence(1)
        synack = [f for f in got or [] if f["dport"] == sport and f["flags"] == SYN | ACK and f["ack"] == self.seq + 1]
        if len(synack) != 1:
            return
        self.seq, self.ack = self.seq + 1, (synack[0]["seq"] + 1) & 0xFFFFFFFF
        self.send(ACK, b"")
        self.ok = replies.fence(1) == []

    def send(self, flags, data, offset=0, ack=None):
        seq = (self.seq + offset) & 0xFFFFFFFF
        ack = self.ack if ack is None else ack & 0xFFFFFFFF
        header = TCP(sport=self.sport, dport=7, flags=flags, seq=seq, ack=ack, window=8192)
        send("established", base_frame() / header / (Raw(data) if data else b""), 0)

    def replies_to(self, got):
        return None if got is None else [f for f in got if f["dport"] == self.sport]


def base_frame():
    return eth(1) / IP(src=HOST, dst=VM_IP[1])


# Where the out-of-order probes go: inside the window, beyond the in-order data a connection receives.
IN_WINDOW = 2048


def expect_established(flags, offset, c, data):
    """RFC 9293 §3.10.7.4 with RFC 5961 (receive window 32,768, `data` 4 bytes, everything before acknowledged):
    first the sequence number: outside the window an ACK <SEQ=SND.NXT><ACK=RCV.NXT>, unless RST; then RST:
    at RCV.NXT it resets (nothing sent), elsewhere in the window a challenge ACK; then SYN: a challenge ACK;
    then no ACK bit: dropped; then the text: in order it is taken (the echo server sends it back with the
    ACK, and closes after a FIN), out of order a duplicate ACK (the data is held). Returns (class, replies,
    what happens)."""
    ack_now = [segment(ACK, c.ack, c.seq)]
    if offset == 0x40000000:
        if flags & RST:
            return "out of window: RST -> nothing", [], "same"
        return "out of window: no RST -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>", ack_now, "same"
    where = "at RCV.NXT" if offset == 0 else "in window past RCV.NXT"
    if flags & RST:
        if offset == 0:
            return f"{where}: RST -> reset, nothing sent", [], "reset"
        return f"{where}: RST -> challenge ACK", ack_now, "same"
    if flags & SYN:
        return f"{where}: SYN -> challenge ACK", ack_now, "same"
    if not flags & ACK:
        return f"{where}: no ACK bit -> nothing", [], "same"
    if offset != 0:
        return f"{where}: ACK, out of order -> duplicate ACK", ack_now, "same"
    if flags & FIN:
        echo = segment(ACK | PSH | FIN, c.ack, (c.seq + len(data) + 1) & 0xFFFFFFFF, data)
        return f"{where}: ACK+FIN -> data and FIN echoed, ACK of both", [echo], "closed"
    echo = segment(ACK | PSH, c.ack, (c.seq + len(data)) & 0xFFFFFFFF, data)
    return f"{where}: ACK -> data echoed with its ACK", [echo], "data"


def established():
    """Every flag combination on an established connection to the echo server, in and out of its window.

    After the handshake and 8 bytes echoed, for each of the 256 flag values one segment with 4 bytes of
    data far outside the window, one 2,048 bytes past RCV.NXT (inside the window: held out of order, where
    the in-order probes of one connection, 4 bytes each, never reach) and one at RCV.NXT, each followed by
    a fence; the replies are checked per class (expect_established). A probe that ends the connection (RST
    at RCV.NXT, or ACK+FIN) is followed by a check that it is gone (an ACK on it meets LISTEN:
    <SEQ=SEG.ACK><CTL=RST>) and a new connection. Prints the counts, the classes and any mismatch."""
    replies, tally = Replies(), Tally()
    replies.refresh_arp(1)
    replies.fence(1)
    ports = iter(range(46000 + random.randint(0, 99) * 100, 65000))
    c = Connection(replies, next(ports))
    if not c.ok:
        print(json.dumps({"error": "no handshake"}))
        return
    c.send(PSH | ACK, b"denali!!")
    got = c.replies_to(replies.fence(1)) or []
    counts["echoed-first"] = b"".join(f["data"] for f in got).decode("latin1")
    c.seq, c.ack = c.seq + 8, (c.ack + sum(len(f["data"]) for f in got)) & 0xFFFFFFFF
    c.send(ACK, b"")
    replies.fence(1)
    data, probes, connections = b"zzzz", 0, 1
    for flags in range(256):
        if flags % 32 == 0:
            replies.refresh_arp(1)
        for offset in (0x40000000, IN_WINDOW, 0):
            name, want, effect = expect_established(flags, offset, c, data)
            c.send(flags, data, offset)
            probes += 1
            probe = {"flags": flags, "offset": offset, "seq": c.seq, "ack": c.ack}
            tally.check(name, probe, c.replies_to(replies.fence(1)), want)
            if effect == "data":
                c.seq, c.ack = c.seq + len(data), (c.ack + len(data)) & 0xFFFFFFFF
                c.send(ACK, b"")                                # acknowledge the echo: nothing comes back
                tally.check("ACK of the echo -> nothing", {"flags": ACK}, c.replies_to(replies.fence(1)), [])
            elif effect in ("reset", "closed"):
                if effect == "closed":                          # our ACK of its FIN: LAST-ACK -> CLOSED
                    c.seq, c.ack = c.seq + len(data) + 1, (c.ack + len(data) + 1) & 0xFFFFFFFF
                    c.send(ACK, b"")
                    tally.check("ACK of its FIN -> nothing", {"flags": ACK}, c.replies_to(replies.fence(1)), [])
                c.send(ACK, b"")                                # gone: LISTEN answers an ACK with a RST
                tally.check("after the end: ACK -> LISTEN's <SEQ=SEG.ACK><CTL=RST>", {"flags": ACK},
                            c.replies_to(replies.fence(1)), [segment(RST, c.ack, None)])
                c = Connection(replies, next(ports))
                connections += 1
                if not c.ok:
                    print(json.dumps({"error": "no handshake", "connections": connections, **tally.result()}))
                    return
    # "fifth, check the ACK field" (RFC 9293 §3.10.7.4, RFC 5961 §5.2), 4 bytes at RCV.NXT each: an ACK of what
    # was never sent (SEG.ACK > SND.NXT) -> an ACK, the segment dropped; one below SND.UNA - MAX.SND.WND (our
    # window, 8,192: scapy offers no scaling) -> a challenge ACK, dropped; an old one within it -> a duplicate
    # ACK, ignored, its data taken (echoed).
    for name, ack, taken in (
            ("ACK of unsent data -> <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, dropped", c.ack + 1000, False),
            ("ACK below SND.UNA - MAX.SND.WND -> challenge ACK, dropped", c.ack - 8192 - 1, False),
            ("ACK old but within MAX.SND.WND -> data echoed", c.ack - 100, True)):
        c.send(ACK | PSH, data, 0, ack)
        probe = {"flags": ACK | PSH, "seq": c.seq, "ack": ack & 0xFFFFFFFF}
        want = [segment(ACK | PSH, c.ack, (c.seq + len(data)) & 0xFFFFFFFF, data)] if taken \
            else [segment(ACK, c.ack, c.seq)]
        tally.check(name, probe, c.replies_to(replies.fence(1)), want)
        if taken:
            c.seq, c.ack = c.seq + len(data), (c.ack + len(data)) & 0xFFFFFFFF
            c.send(ACK, b"")
            tally.check("ACK of the echo -> nothing", {"flags": ACK}, c.replies_to(replies.fence(1)), [])
    counts["probes"] = probes
    counts["connections"] = connections
    counts["fences-lost"] = replies.lost
    counts.update(tally.result())
    print(json.dumps(counts))


if sys.argv[2] == "established":
    established()
elif sys.argv[2] == "attack":
    attack()
elif sys.argv[2] == "arp":
    arp_request(sys.argv[3])
    print(json.dumps(counts))
