//! Raw trace records into VPP's trace text, on the control thread only.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::report::model::{TracePacketText, TraceRecordText};
use crate::trace::decode::decode_headers;
use crate::trace::record::{InputSnapshot, RawPacketTrace, RawRecord, RecordKind, TRACE_DATA_BYTES};

/// DPDK's RTE_PKTMBUF_HEADROOM: VPP's `current data` is data_off minus it.
const PKTMBUF_HEADROOM: i32 = 128;

/// What turns TSC stamps and port ids into text.
pub struct FormatContext<'a> {
    pub tsc_hz: u64,
    /// TSC when the data path started; trace times count from it.
    pub start_tsc: u64,
    /// Interface names, index = port id.
    pub port_names: &'a [String],
    /// Dynamic mbuf flags registered at run time: (bit mask, name).
    pub dynflags: &'a [(u64, String)],
}

fn port_name<'a>(ctx: &'a FormatContext, port: u16) -> Cow<'a, str> {
    match ctx.port_names.get(usize::from(port)) {
        Some(name) => Cow::Borrowed(name.as_str()),
        None => Cow::Owned(format!("port {port}")),
    }
}

/// RTE_MBUF_F_RX_* bits (rte_mbuf_core.h), named as VPP's dpdk plugin shows
/// them (`PKT_` + flag), with VPP's descriptions where it has one.
const RX_OFFLOAD_FLAGS: &[(u64, &str, &str)] = &[
    (1 << 0, "PKT_RX_VLAN", "RX packet is a 802.1q VLAN packet"),
    (1 << 1, "PKT_RX_RSS_HASH", "RX packet with RSS hash result"),
    (1 << 2, "PKT_RX_FDIR", "RX packet with FDIR infos"),
    (1 << 3, "PKT_RX_L4_CKSUM_BAD", "L4 cksum of RX pkt. is not OK"),
    (1 << 4, "PKT_RX_IP_CKSUM_BAD", "IP cksum of RX pkt. is not OK"),
    (1 << 5, "PKT_RX_OUTER_IP_CKSUM_BAD", "External IP header checksum error"),
    (1 << 6, "PKT_RX_VLAN_STRIPPED", "RX packet VLAN tag stripped"),
    (1 << 7, "PKT_RX_IP_CKSUM_GOOD", "IP cksum of RX pkt. is valid"),
    (1 << 8, "PKT_RX_L4_CKSUM_GOOD", "L4 cksum of RX pkt. is valid"),
    (1 << 9, "PKT_RX_IEEE1588_PTP", "RX IEEE1588 L2 Ethernet PT Packet"),
    (1 << 10, "PKT_RX_IEEE1588_TMST", "RX IEEE1588 L2/L4 timestamped packet"),
    (1 << 13, "PKT_RX_FDIR_ID", "FD id reported if FDIR match"),
    (1 << 14, "PKT_RX_FDIR_FLX", "Flexible bytes reported if FDIR match"),
    (1 << 15, "PKT_RX_QINQ_STRIPPED", "RX packet QinQ tags stripped"),
    (1 << 16, "PKT_RX_LRO", "LRO packet"),
    (1 << 18, "PKT_RX_SEC_OFFLOAD", "RX packet with security offload applied"),
    (1 << 19, "PKT_RX_SEC_OFFLOAD_FAILED", "RX packet security offload failed"),
    (1 << 20, "PKT_RX_QINQ", "RX packet is a double VLAN packet"),
    (1 << 21, "PKT_RX_OUTER_L4_CKSUM_BAD", "Outer L4 cksum of RX pkt. is not OK"),
    (1 << 22, "PKT_RX_OUTER_L4_CKSUM_GOOD", "Outer L4 cksum of RX pkt. is valid"),
];

/// RTE_PTYPE_* (rte_mbuf_ptype.h): (layer mask, value, name, description).
/// A type matches when `packet_type & mask == value`, as in VPP.
const PACKET_TYPES: &[(u32, u32, &str, &str)] = &[
    (0xf, 0x1, "RTE_PTYPE_L2_ETHER", "Ethernet packet"),
    (0xf, 0x2, "RTE_PTYPE_L2_ETHER_TIMESYNC", "Ethernet packet for time sync"),
    (0xf, 0x3, "RTE_PTYPE_L2_ETHER_ARP", "ARP packet"),
    (0xf, 0x4, "RTE_PTYPE_L2_ETHER_LLDP", "LLDP (Link Layer Discovery Protocol) packet"),
    (0xf, 0x5, "RTE_PTYPE_L2_ETHER_NSH", "NSH (Network Service Header) packet"),
    (0xf, 0x6, "RTE_PTYPE_L2_ETHER_VLAN", "VLAN packet"),
    (0xf, 0x7, "RTE_PTYPE_L2_ETHER_QINQ", "QinQ packet"),
    (0xf, 0x8, "RTE_PTYPE_L2_ETHER_PPPOE", "PPPoE packet"),
    (0xf, 0x9, "RTE_PTYPE_L2_ETHER_FCOE", "FCoE packet"),
    (0xf, 0xa, "RTE_PTYPE_L2_ETHER_MPLS", "MPLS packet"),
    (0xf0, 0x10, "RTE_PTYPE_L3_IPV4", "IPv4 packet without extension headers"),
    (0xf0, 0x30, "RTE_PTYPE_L3_IPV4_EXT", "IPv4 packet with extension headers"),
    (0xf0, 0x40, "RTE_PTYPE_L3_IPV6", "IPv6 packet without extension headers"),
    (0xf0, 0x90, "RTE_PTYPE_L3_IPV4_EXT_UNKNOWN", "IPv4 packet with or without extension headers"),
    (0xf0, 0xc0, "RTE_PTYPE_L3_IPV6_EXT", "IPv6 packet with extension headers"),
    (0xf0, 0xe0, "RTE_PTYPE_L3_IPV6_EXT_UNKNOWN", "IPv6 packet with or without extension headers"),
    (0xf00, 0x100, "RTE_PTYPE_L4_TCP", "TCP packet"),
    (0xf00, 0x200, "RTE_PTYPE_L4_UDP", "UDP packet"),
    (0xf00, 0x300, "RTE_PTYPE_L4_FRAG", "Fragmented IP packet"),
    (0xf00, 0x400, "RTE_PTYPE_L4_SCTP", "SCTP (Stream Control Transmission Protocol) packet"),
    (0xf00, 0x500, "RTE_PTYPE_L4_ICMP", "ICMP packet"),
    (0xf00, 0x600, "RTE_PTYPE_L4_NONFRAG", "Non-fragmented IP packet"),
    (0xf00, 0x700, "RTE_PTYPE_L4_IGMP", "IGMP packet"),
    (0xf000, 0x1000, "RTE_PTYPE_TUNNEL_IP", "IP in IP tunneling packet"),
    (0xf000, 0x2000, "RTE_PTYPE_TUNNEL_GRE", "GRE tunneling packet"),
    (0xf000, 0x3000, "RTE_PTYPE_TUNNEL_VXLAN", "VXLAN tunneling packet"),
    (0xf000, 0x4000, "RTE_PTYPE_TUNNEL_NVGRE", "NVGRE Tunneling packet"),
    (0xf000, 0x5000, "RTE_PTYPE_TUNNEL_GENEVE", "GENEVE Tunneling packet"),
    (0xf000, 0x6000, "RTE_PTYPE_TUNNEL_GRENAT", "Teredo, VXLAN or GRE Tunneling packet"),
    (0xf000, 0x7000, "RTE_PTYPE_TUNNEL_GTPC", "GTP-C tunneling packet"),
    (0xf000, 0x8000, "RTE_PTYPE_TUNNEL_GTPU", "GTP-U tunneling packet"),
    (0xf000, 0x9000, "RTE_PTYPE_TUNNEL_ESP", "ESP tunneling packet"),
    (0xf000, 0xa000, "RTE_PTYPE_TUNNEL_L2TP", "L2TP tunneling packet"),
    (0xf000, 0xb000, "RTE_PTYPE_TUNNEL_VXLAN_GPE", "VXLAN-GPE tunneling packet"),
    (0xf000, 0xc000, "RTE_PTYPE_TUNNEL_MPLS_IN_GRE", "MPLS in GRE tunneling packet"),
    (0xf000, 0xd000, "RTE_PTYPE_TUNNEL_MPLS_IN_UDP", "MPLS in UDP tunneling packet"),
    (0xf_0000, 0x1_0000, "RTE_PTYPE_INNER_L2_ETHER", "Inner Ethernet packet"),
    (0xf_0000, 0x2_0000, "RTE_PTYPE_INNER_L2_ETHER_VLAN", "Inner Ethernet packet with VLAN"),
    (0xf_0000, 0x3_0000, "RTE_PTYPE_INNER_L2_ETHER_QINQ", "Inner Ethernet packet with QinQ"),
    (0xf0_0000, 0x10_0000, "RTE_PTYPE_INNER_L3_IPV4", "Inner IPv4 packet without extension headers"),
    (0xf0_0000, 0x20_0000, "RTE_PTYPE_INNER_L3_IPV4_EXT", "Inner IPv4 packet with extension headers"),
    (0xf0_0000, 0x30_0000, "RTE_PTYPE_INNER_L3_IPV6", "Inner IPv6 packet without extension headers"),
    (
        0xf0_0000,
        0x40_0000,
        "RTE_PTYPE_INNER_L3_IPV4_EXT_UNKNOWN",
        "Inner IPv4 packet with or without extension headers",
    ),
    (0xf0_0000, 0x50_0000, "RTE_PTYPE_INNER_L3_IPV6_EXT", "Inner IPv6 packet with extension headers"),
    (
        0xf0_0000,
        0x60_0000,
        "RTE_PTYPE_INNER_L3_IPV6_EXT_UNKNOWN",
        "Inner IPv6 packet with or without extension headers",
    ),
    (0xf00_0000, 0x100_0000, "RTE_PTYPE_INNER_L4_TCP", "Inner TCP packet"),
    (0xf00_0000, 0x200_0000, "RTE_PTYPE_INNER_L4_UDP", "Inner UDP packet"),
    (0xf00_0000, 0x300_0000, "RTE_PTYPE_INNER_L4_FRAG", "Inner fragmented IP packet"),
    (0xf00_0000, 0x400_0000, "RTE_PTYPE_INNER_L4_SCTP", "Inner SCTP (Stream Control Transmission Protocol) packet"),
    (0xf00_0000, 0x500_0000, "RTE_PTYPE_INNER_L4_ICMP", "Inner ICMP packet"),
    (0xf00_0000, 0x600_0000, "RTE_PTYPE_INNER_L4_NONFRAG", "Inner non-fragmented IP packet"),
];

/// VPP's buffer line: `current data %d, length %d, buffer-pool %d,
/// ref-count %u[, totlen-nifb %d], trace handle 0x%x`.
pub fn buffer_line(s: &InputSnapshot) -> String {
    let mut out = String::with_capacity(96);
    push_buffer_line(&mut out, s);
    out
}

fn push_buffer_line(out: &mut String, s: &InputSnapshot) {
    let _ = write!(
        out,
        "current data {}, length {}, buffer-pool {}, ref-count {}",
        i32::from(s.data_off) - PKTMBUF_HEADROOM,
        s.data_len,
        s.pool,
        s.refcnt
    );
    if s.nb_segs > 1 {
        let _ = write!(out, ", totlen-nifb {}", s.pkt_len.saturating_sub(u32::from(s.data_len)));
    }
    let _ = write!(out, ", trace handle 0x{:x}", s.trace_handle);
}

/// Hex dump as in VPP's trace: `%08x: ` then up to 32 bytes as lowercase
/// hex, lines joined by '\n' (no trailing newline; empty for no data).
pub fn hexdump(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2 + data.len().div_ceil(32) * 11);
    push_hexdump(&mut out, data);
    out
}

fn push_hexdump(out: &mut String, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, chunk) in data.chunks(32).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{:08x}: ", i * 32);
        for b in chunk {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// dpdk-input's record in VPP's order: interface and queue, buffer line,
/// `PKT MBUF` block (with flag and packet type lists when nonzero), hex dump
/// of the captured bytes, header decode.
fn push_input(out: &mut String, s: &InputSnapshot, ctx: &FormatContext) {
    let _ = writeln!(out, "{} rx queue {}", port_name(ctx, s.port), s.queue);
    let _ = write!(out, "buffer 0x{:x}: ", s.buffer_index);
    push_buffer_line(out, s);
    let _ = write!(
        out,
        "\nPKT MBUF: port {}, nb_segs {}, pkt_len {}\
         \n  buf_len {}, data_len {}, ol_flags 0x{:x}, data_off {}, phys_addr 0x{:x}\
         \n  packet_type 0x{:x} l2_len {} l3_len {} outer_l2_len {} outer_l3_len {}\
         \n  rss 0x{:x} fdir.hi 0x{:x} fdir.lo 0x{:x}",
        s.port,
        s.nb_segs,
        s.pkt_len,
        s.buf_len,
        s.data_len,
        s.ol_flags,
        s.data_off,
        s.buf_iova,
        s.packet_type,
        s.l2_len,
        s.l3_len,
        s.outer_l2_len,
        s.outer_l3_len,
        s.rss,
        s.fdir_hi,
        s.rss
    );
    if s.ol_flags != 0 {
        out.push_str("\n  Packet Offload Flags");
        let mut named = 0u64;
        for &(bit, name, desc) in RX_OFFLOAD_FLAGS {
            if s.ol_flags & bit != 0 {
                named |= bit;
                let _ = write!(out, "\n    {name} (0x{bit:04x}) {desc}");
            }
        }
        for (bit, name) in ctx.dynflags {
            if s.ol_flags & bit != 0 && named & bit == 0 {
                named |= bit;
                let _ = write!(out, "\n    {name} (0x{bit:04x}) dynamic flag");
            }
        }
        if s.ol_flags & !named != 0 {
            let _ = write!(out, "\n    unknown (0x{:04x})", s.ol_flags & !named);
        }
    }
    if s.packet_type != 0 {
        out.push_str("\n  Packet Types");
        for &(mask, value, name, desc) in PACKET_TYPES {
            if s.packet_type & mask == value {
                let _ = write!(out, "\n    {name} (0x{value:04x}) {desc}");
            }
        }
    }
    let n = usize::from(s.captured).min(TRACE_DATA_BYTES);
    if n > 0 {
        let data = &s.data[..n];
        out.push('\n');
        push_hexdump(out, data);
        for line in decode_headers(data) {
            out.push('\n');
            out.push_str(&line);
        }
    }
}

/// One record as VPP's `show trace` would print it.
pub fn format_record(rec: &RawRecord, ctx: &FormatContext) -> TraceRecordText {
    let time = if ctx.tsc_hz == 0 { 0.0 } else { rec.tsc.saturating_sub(ctx.start_tsc) as f64 / ctx.tsc_hz as f64 };
    let mut text = String::new();
    match &rec.kind {
        RecordKind::Input(s) => {
            text.reserve(1024);
            push_input(&mut text, s, ctx);
        }
        RecordKind::HandoffDemo { thread } => {
            let _ = write!(text, "HANDOFFDEMO: current thread {thread}");
        }
        RecordKind::HandedOff { from_thread, trace_index } => {
            let _ = write!(text, "HANDED-OFF: from thread {from_thread} trace index {trace_index}");
        }
        RecordKind::ErrorDrop { rx_port } => {
            let _ = write!(text, "rx:{}", port_name(ctx, *rx_port));
        }
        RecordKind::Drop { reason } => {
            let _ = write!(text, "{}: {}", reason.node().name(), reason.text());
        }
        RecordKind::Output { port, queue } => {
            let _ = write!(text, "{} tx queue {}", port_name(ctx, *port), queue);
        }
    }
    TraceRecordText { time, node: rec.node.name().to_string(), text }
}

/// Every record of one traced packet, in order.
pub fn format_packet(p: &RawPacketTrace, ctx: &FormatContext) -> TracePacketText {
    TracePacketText { records: p.iter().map(|r| format_record(&r, ctx)).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::nodes::{Node, Reason};

    fn seed_snapshot() -> InputSnapshot {
        let mut data = [0u8; TRACE_DATA_BYTES];
        for (i, b) in data.iter_mut().take(30).enumerate() {
            *b = i as u8;
        }
        InputSnapshot {
            buffer_index: 0x9f2a,
            trace_handle: 0x100_0000,
            port: 0,
            queue: 0,
            pool: 0,
            refcnt: 1,
            nb_segs: 1,
            pkt_len: 128,
            data_len: 128,
            buf_len: 2176,
            data_off: 128,
            ol_flags: 0,
            buf_iova: 0x1_2345_6780,
            packet_type: 0,
            l2_len: 0,
            l3_len: 0,
            outer_l2_len: 0,
            outer_l3_len: 0,
            rss: 0,
            fdir_hi: 0,
            captured: 128,
            data,
        }
    }

    fn ctx(names: &[String]) -> FormatContext<'_> {
        FormatContext { tsc_hz: 1_000_000, start_tsc: 1_000, port_names: names, dynflags: &[] }
    }

    #[test]
    fn dynamic_and_unknown_flags_are_named() {
        let names = vec!["net_pcap0".to_string()];
        let dynflags = vec![(0x80_0000u64, "rte_dynflag_rx_timestamp".to_string())];
        let c = FormatContext { tsc_hz: 1_000_000, start_tsc: 0, port_names: &names, dynflags: &dynflags };
        let mut s = seed_snapshot();
        s.ol_flags = 0x80_0000 | (1 << 40);
        let t = format_record(&record(0, Node::DpdkInput, RecordKind::Input(s)), &c);
        assert!(t.text.contains("\n    rte_dynflag_rx_timestamp (0x800000) dynamic flag"), "{}", t.text);
        assert!(t.text.contains("\n    unknown (0x10000000000)"), "{}", t.text);
    }

    fn record(tsc: u64, node: Node, kind: RecordKind) -> RawRecord {
        RawRecord { tsc, node, kind }
    }

    #[test]
    fn seed_buffer_line_and_dump() {
        let names = vec!["net_pcap0".to_string()];
        let rec = record(1_000 + 410_520_688, Node::DpdkInput, RecordKind::Input(seed_snapshot()));
        let t = format_record(&rec, &ctx(&names));
        assert_eq!(t.node, "dpdk-input");
        assert!((t.time - 410.520688).abs() < 1e-9);
        let lines: Vec<&str> = t.text.lines().collect();
        assert_eq!(lines[0], "net_pcap0 rx queue 0");
        assert_eq!(
            lines[1].strip_prefix("buffer 0x9f2a: "),
            Some("current data 0, length 128, buffer-pool 0, ref-count 1, trace handle 0x1000000")
        );
        assert_eq!(lines[2], "PKT MBUF: port 0, nb_segs 1, pkt_len 128");
        assert_eq!(lines[3], "  buf_len 2176, data_len 128, ol_flags 0x0, data_off 128, phys_addr 0x123456780");
        assert_eq!(lines[4], "  packet_type 0x0 l2_len 0 l3_len 0 outer_l2_len 0 outer_l3_len 0");
        assert_eq!(lines[5], "  rss 0x0 fdir.hi 0x0 fdir.lo 0x0");
        let seed_dump = [
            "00000000: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d0000",
            "00000020: 0000000000000000000000000000000000000000000000000000000000000000",
            "00000040: 0000000000000000000000000000000000000000000000000000000000000000",
            "00000060: 0000000000000000000000000000000000000000000000000000000000000000",
        ];
        assert_eq!(&lines[6..10], &seed_dump);
        // The seed's bytes as a frame: an unknown ether type 0x0c0d.
        assert_eq!(lines[10], "0x0c0d: 06:07:08:09:0a:0b -> 00:01:02:03:04:05");
        assert_eq!(lines.len(), 11);
        assert_eq!(hexdump(&seed_snapshot().data), seed_dump.join("\n"));
    }

    #[test]
    fn buffer_line_chained_and_headroom() {
        let mut s = seed_snapshot();
        s.nb_segs = 3;
        s.pkt_len = 9000;
        s.data_len = 2048;
        s.data_off = 64;
        s.refcnt = 2;
        s.pool = 1;
        s.trace_handle = 0x100_0004;
        assert_eq!(
            buffer_line(&s),
            "current data -64, length 2048, buffer-pool 1, ref-count 2, totlen-nifb 6952, trace handle 0x1000004"
        );
    }

    #[test]
    fn flags_and_types_listed() {
        let mut s = seed_snapshot();
        s.ol_flags = (1 << 1) | (1 << 7) | (1 << 8);
        s.packet_type = 0x0000_0291;
        s.rss = 0xdead_beef;
        s.captured = 0;
        let t = format_record(&record(0, Node::DpdkInput, RecordKind::Input(s)), &ctx(&[]));
        let expected = "port 0 rx queue 0
buffer 0x9f2a: current data 0, length 128, buffer-pool 0, ref-count 1, trace handle 0x1000000
PKT MBUF: port 0, nb_segs 1, pkt_len 128
  buf_len 2176, data_len 128, ol_flags 0x182, data_off 128, phys_addr 0x123456780
  packet_type 0x291 l2_len 0 l3_len 0 outer_l2_len 0 outer_l3_len 0
  rss 0xdeadbeef fdir.hi 0x0 fdir.lo 0xdeadbeef
  Packet Offload Flags
    PKT_RX_RSS_HASH (0x0002) RX packet with RSS hash result
    PKT_RX_IP_CKSUM_GOOD (0x0080) IP cksum of RX pkt. is valid
    PKT_RX_L4_CKSUM_GOOD (0x0100) L4 cksum of RX pkt. is valid
  Packet Types
    RTE_PTYPE_L2_ETHER (0x0001) Ethernet packet
    RTE_PTYPE_L3_IPV4_EXT_UNKNOWN (0x0090) IPv4 packet with or without extension headers
    RTE_PTYPE_L4_UDP (0x0200) UDP packet";
        assert_eq!(t.text, expected);
        // Time before the start saturates to 0.
        assert_eq!(t.time, 0.0);
    }

    #[test]
    fn short_records() {
        let names = vec!["local0".to_string(), "net_tap1".to_string()];
        let c = ctx(&names);
        let cases = [
            (
                Node::HandoffDemo1,
                RecordKind::HandoffDemo { thread: 1 },
                "handoffdemo-1",
                "HANDOFFDEMO: current thread 1",
            ),
            (
                Node::HandoffTrace,
                RecordKind::HandedOff { from_thread: 1, trace_index: 4 },
                "handoff_trace",
                "HANDED-OFF: from thread 1 trace index 4",
            ),
            (Node::ErrorDrop, RecordKind::ErrorDrop { rx_port: 0 }, "error-drop", "rx:local0"),
            (Node::ErrorDrop, RecordKind::ErrorDrop { rx_port: 7 }, "error-drop", "rx:port 7"),
            (Node::Drop, RecordKind::Drop { reason: Reason::Completed }, "drop", "handoffdemo-2: completed packets"),
            (
                Node::Drop,
                RecordKind::Drop { reason: Reason::Congestion },
                "drop",
                "handoffdemo-1: handoff queue congestion drops",
            ),
            (
                Node::InterfaceOutput,
                RecordKind::Output { port: 1, queue: 2 },
                "interface-output",
                "net_tap1 tx queue 2",
            ),
        ];
        for (node, kind, name, text) in cases {
            let t = format_record(&record(2_001_000, node, kind), &c);
            assert_eq!((t.node.as_str(), t.text.as_str()), (name, text));
            assert_eq!(t.time, 2.0);
        }
        let zero_hz = FormatContext { tsc_hz: 0, start_tsc: 0, port_names: &names, dynflags: &[] };
        let t = format_record(&record(5, Node::HandoffDemo2, RecordKind::HandoffDemo { thread: 2 }), &zero_hz);
        assert_eq!(t.time, 0.0);
    }

    #[test]
    fn packet_keeps_record_order() {
        let mut p = RawPacketTrace::default();
        p.push(record(10, Node::HandoffTrace, RecordKind::HandedOff { from_thread: 1, trace_index: 0 }));
        p.push(record(10, Node::HandoffDemo2, RecordKind::HandoffDemo { thread: 2 }));
        let names: Vec<String> = Vec::new();
        let t = format_packet(&p, &ctx(&names));
        let nodes: Vec<&str> = t.records.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["handoff_trace", "handoffdemo-2"]);
        assert!(format_packet(&RawPacketTrace::default(), &ctx(&names)).records.is_empty());
    }

    #[test]
    fn partial_capture_dumps_what_was_kept() {
        let mut s = seed_snapshot();
        s.captured = 40;
        assert_eq!(hexdump(&s.data[..40]).lines().count(), 2);
        let t = format_record(&record(0, Node::DpdkInput, RecordKind::Input(s)), &ctx(&[]));
        assert!(t.text.contains("\n00000020: 0000000000000000\n"));
        // Captured beyond the buffer is clamped, not a panic.
        s.captured = u16::MAX;
        let t = format_record(&record(0, Node::DpdkInput, RecordKind::Input(s)), &ctx(&[]));
        assert!(t.text.contains("00000060: "));
    }
}
