//! dpdk-input: polls an rx queue for a burst of packets and starts the
//! trace of those the tracer picks. Its trace record is a snapshot of the
//! mbuf and its first bytes; its text is VPP's dpdk-input trace.

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, RxQueue};
use crate::ids::{ThreadId, TraceHandle};
use crate::trace::decode::decode_headers;
use crate::trace::text::{port_name, push_hexdump, FormatContext};

use super::frame::Frame;
use super::PacketTrace;

/// Bytes of packet data kept per traced packet (VPP's dump shows 128).
pub const TRACE_DATA_BYTES: usize = 128;

/// What dpdk-input saw of an mbuf, copied at rx time.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    pub buffer_index: u32,
    pub trace_handle: u32,
    pub port: u16,
    pub queue: u16,
    /// Which per-socket mempool ("buffer-pool").
    pub pool: u8,
    pub refcnt: u16,
    pub nb_segs: u16,
    pub pkt_len: u32,
    pub data_len: u16,
    pub buf_len: u16,
    pub data_off: u16,
    pub ol_flags: u64,
    pub buf_iova: u64,
    pub packet_type: u32,
    pub l2_len: u16,
    pub l3_len: u16,
    pub outer_l2_len: u16,
    pub outer_l3_len: u16,
    pub rss: u32,
    pub fdir_hi: u32,
    /// How many bytes of `data` are valid (min of data_len and TRACE_DATA_BYTES).
    pub captured: u16,
    pub data: [u8; TRACE_DATA_BYTES],
}

impl Snapshot {
    /// The packet's first bytes, as kept.
    pub fn captured_data(&self) -> &[u8] {
        &self.data[..usize::from(self.captured).min(TRACE_DATA_BYTES)]
    }

    pub fn push_text(&self, out: &mut String, ctx: &FormatContext) {
        push_input(out, self, ctx);
    }
}

/// What the tracer needs on an rx lcore.
pub struct Tracer<'a> {
    pub thread: ThreadId,
    /// Only packets this BPF program accepts are traced (`--trace-filter`).
    pub filter: Option<&'a pcap::BpfProgram>,
    /// Trace index of `traces[0]` (earlier buffers went to the control socket).
    pub base: u32,
}

/// How dpdk-input polls: `burst` packets at a time, until the frame holds
/// `frame` or a poll comes back short.
#[derive(Clone, Copy, Debug)]
pub struct Poll {
    pub burst: usize,
    pub frame: usize,
}

/// dpdk-input: a frame of packets from `rxq` onto the frame's burst (run
/// it through `Frame::run`, which counts what arrived); the tracer, when
/// given, marks and records those it picks, within dpdk-input's time.
/// Polling on while bursts come back full, as VPP's dpdk-input does, hands
/// the next nodes fewer, fuller frames: each ring enqueue and dequeue
/// moves the ring's head and tail lines between the CPUs once per frame
/// instead of once per burst.
#[inline(always)]
pub fn process(rxq: &mut RxQueue, f: &mut Frame, poll: Poll, tracer: Option<&Tracer>) {
    let mut n = 0;
    loop {
        let want = poll.burst.min(poll.frame - n);
        let got = rxq.rx_burst(f.burst, want);
        // Each mbuf's ring element (index, plain) now, while the PMD's
        // writes to it are in L1: by handoffdemo-1 a 256-packet frame's
        // first mbufs have left it (as VPP's dpdk-input turns pointers into
        // buffer indices itself).
        crate::dpdk::classify_for_handoff(f.burst, f.buffers);
        n += got;
        if got < want || n == poll.frame {
            break;
        }
    }
    if let Some(tracer) = tracer {
        if n > 0 && f.traces.len() < f.trace_limit {
            trace(f, tracer, rxq.port(), rxq.queue());
        }
    }
}

/// Marks and records the packets of the frame's burst the tracer picks,
/// until the frame's trace limit; notes them in the frame's traced list.
fn trace(f: &mut Frame, tracer: &Tracer, port: u16, queue: u16) {
    let tsc = rdtsc();
    for (pos, m) in f.burst.as_mut_slice().iter_mut().enumerate() {
        if f.traces.len() >= f.trace_limit {
            break;
        }
        if tracer.filter.is_some_and(|flt| !flt.filter(m.data())) {
            continue;
        }
        let handle = TraceHandle::new(tracer.thread, tracer.base.wrapping_add(f.traces.len() as u32));
        m.set_trace(handle.raw());
        let (l2, l3, ol2, ol3) = m.header_lens();
        let data = m.data();
        let captured = data.len().min(TRACE_DATA_BYTES);
        let mut snap = Snapshot {
            buffer_index: m.buffer_index(),
            trace_handle: handle.raw(),
            port,
            queue,
            pool: f.buffers.pool_of_index(m.buffer_index()),
            refcnt: m.refcnt(),
            nb_segs: m.nb_segs(),
            pkt_len: m.pkt_len(),
            data_len: m.data_len(),
            buf_len: m.buf_len(),
            data_off: m.data_off(),
            ol_flags: m.ol_flags(),
            buf_iova: m.buf_iova(),
            packet_type: m.packet_type(),
            l2_len: l2,
            l3_len: l3,
            outer_l2_len: ol2,
            outer_l3_len: ol3,
            rss: m.rss_hash(),
            fdir_hi: m.fdir_hi(),
            captured: captured as u16,
            data: [0; TRACE_DATA_BYTES],
        };
        snap.data[..captured].copy_from_slice(&data[..captured]);
        f.traced.add(pos, f.traces.len());
        f.traces.push(PacketTrace::from_input(tsc, snap));
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
pub fn buffer_line(s: &Snapshot) -> String {
    let mut out = String::with_capacity(96);
    push_buffer_line(&mut out, s);
    out
}

fn push_buffer_line(out: &mut String, s: &Snapshot) {
    let _ = write!(
        out,
        "current data {}, length {}, buffer-pool {}, ref-count {}",
        // VPP's `current data` is data_off minus the headroom.
        i32::from(s.data_off) - i32::from(crate::dpdk::HEADROOM),
        s.data_len,
        s.pool,
        s.refcnt
    );
    if s.nb_segs > 1 {
        let _ = write!(out, ", totlen-nifb {}", s.pkt_len.saturating_sub(u32::from(s.data_len)));
    }
    let _ = write!(out, ", trace handle 0x{:x}", s.trace_handle);
}

/// dpdk-input's record in VPP's order: interface and queue, buffer line,
/// `PKT MBUF` block (with flag and packet type lists when nonzero), hex dump
/// of the captured bytes, header decode.
fn push_input(out: &mut String, s: &Snapshot, ctx: &FormatContext) {
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
    let data = s.captured_data();
    if !data.is_empty() {
        out.push('\n');
        push_hexdump(out, data);
        for line in decode_headers(data) {
            out.push('\n');
            out.push_str(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::PacketTrace;
    use crate::trace::text::{hexdump, TraceRecordText};

    fn seed_snapshot() -> Snapshot {
        let mut data = [0u8; TRACE_DATA_BYTES];
        for (i, b) in data.iter_mut().take(30).enumerate() {
            *b = i as u8;
        }
        Snapshot {
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
        let t = input_text(0, s, &c);
        assert!(t.text.contains("\n    rte_dynflag_rx_timestamp (0x800000) dynamic flag"), "{}", t.text);
        assert!(t.text.contains("\n    unknown (0x10000000000)"), "{}", t.text);
    }

    fn input_text(tsc: u64, s: Snapshot, c: &FormatContext) -> TraceRecordText {
        PacketTrace::from_input(tsc, s).text(c).records.remove(0)
    }

    #[test]
    fn seed_buffer_line_and_dump() {
        let names = vec!["net_pcap0".to_string()];
        let t = input_text(1_000 + 410_520_688, seed_snapshot(), &ctx(&names));
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
        let t = input_text(0, s, &ctx(&[]));
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
    fn partial_capture_dumps_what_was_kept() {
        let mut s = seed_snapshot();
        s.captured = 40;
        assert_eq!(hexdump(&s.data[..40]).lines().count(), 2);
        let t = input_text(0, s, &ctx(&[]));
        assert!(t.text.contains("\n00000020: 0000000000000000\n"));
        // Captured beyond the buffer is clamped, not a panic.
        s.captured = u16::MAX;
        let t = input_text(0, s, &ctx(&[]));
        assert!(t.text.contains("00000060: "));
    }
}
