// Contract: the TCP header and options as they are on the wire (RFC 9293 §3.1 "Header Format", §3.2
// "Specific Option Definitions"; RFC 2018 §2-§3 for SACK; RFC 7323 §2.2, §3.2 for Window Scale and
// Timestamps), and the segment sizes of §3.7.1. Only
// constants: tcp.ts parses segments with them, tcp-output.ts builds them.

// ---- header -------------------------------------------------------------------------------------------------
export const TCP_SOURCE_PORT = 0;
export const TCP_DESTINATION_PORT = 2;
export const TCP_SEQUENCE = 4;
export const TCP_ACKNOWLEDGMENT = 8;
/** Data Offset: the header length in 32-bit words, high 4 bits (then 4 reserved bits). */
export const TCP_DATA_OFFSET = 12;
/** Control bits: CWR ECE URG ACK PSH RST SYN FIN. */
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;
export const TCP_HEADER = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

// ---- options --------------------------------------------------------------------------------------------------
export const TCP_OPTION_END = 0;
export const TCP_OPTION_NOP = 1;
/** Maximum Segment Size: kind 2, length 4, a 16-bit MSS; only in SYN segments. */
export const TCP_OPTION_MSS = 2;
export const TCP_OPTION_MSS_LENGTH = 4;
/** SACK-permitted: kind 4, length 2; only in SYN segments (RFC 2018 §2). */
export const TCP_OPTION_SACK_PERMITTED = 4;
export const TCP_OPTION_SACK_PERMITTED_LENGTH = 2;
/** SACK: kind 5, length 2 + 8 per block (RFC 2018 §3). */
export const TCP_OPTION_SACK = 5;
/** Window Scale: kind 3, length 3, a shift count; only in SYN segments (RFC 7323 §2.2). */
export const TCP_OPTION_WINDOW_SCALE = 3;
export const TCP_OPTION_WINDOW_SCALE_LENGTH = 3;
/** Timestamps: kind 8, length 10, TSval and TSecr (RFC 7323 §3.2). */
export const TCP_OPTION_TIMESTAMPS = 8;
export const TCP_OPTION_TIMESTAMPS_LENGTH = 10;

// ---- segment sizes (§3.7.1) -------------------------------------------------------------------------------------
/** Send MSS when the peer sends no MSS option (§3.7.1: "536"; RFC 1122 §4.2.2.6). */
export const TCP_DEFAULT_MSS = 536;
/** Our MSS: the Ethernet MTU minus the IPv4 and TCP headers (§3.7.1 MMS_R - 20). */
export const TCP_OUR_MSS = 1460;
/** We never send segments smaller than this much data per full segment, whatever MSS the peer asks. */
export const TCP_MIN_MSS = 64;
