//! The reports as VPP's CLI prints them (`show errors`, `show runtime`,
//! `show trace`, `show interface`), column for column as in the seed.
//!
//! VPP pads centred header cells with trailing spaces; the seed shows none,
//! so every line here is trimmed at its end.

use std::fmt::Write as _;

use crate::report::model::{
    ErrorRow, InterfaceRow, NodeRuntime, NodeState, PairRow, RingRow, ThreadRuntime, ThreadTrace,
};
use crate::report::vpp_fmt::{push_center, push_e, push_left, push_right, push_spaces, push_time};

/// Nodes VPP registers as input nodes, whatever state they report.
const INPUT_NODES: [&str; 2] = ["dpdk-input", "pg-input"];

/// Column where `show interface` counters start (`%-32s%=5d`).
const IFACE_COUNTER_COL: usize = 32 + 5;

fn is_input(n: &NodeRuntime) -> bool {
    INPUT_NODES.contains(&n.name.as_str()) || n.state != NodeState::Active
}

/// Moves `line` into `out` without its trailing spaces, then clears it.
fn flush_line(out: &mut String, line: &mut String) {
    out.push_str(line.trim_end_matches(' '));
    out.push('\n');
    line.clear();
}

/// `show errors` in the seed's layout: `%=10s%=40s%=6s` header, then
/// `%10d%=40s%s` per row. Rows stay per thread, in the given order; zero
/// counts are skipped.
pub fn show_errors(rows: &[ErrorRow]) -> String {
    let mut out = String::with_capacity(80 * (rows.len() + 1));
    let mut line = String::with_capacity(128);
    push_center(&mut line, "Count", 10);
    push_center(&mut line, "Node", 40);
    push_center(&mut line, "Reason", 6);
    flush_line(&mut out, &mut line);
    let mut num = String::with_capacity(20);
    for r in rows.iter().filter(|r| r.count > 0) {
        num.clear();
        let _ = write!(num, "{}", r.count);
        push_right(&mut line, &num, 10);
        push_center(&mut line, &r.node, 40);
        line.push_str(&r.reason);
        flush_line(&mut out, &mut line);
    }
    out
}

/// `show runtime`: one block per thread, blocks separated by
/// `---------------`, nodes that ran sorted by name.
pub fn show_runtime(threads: &[ThreadRuntime]) -> String {
    let mut out = String::with_capacity(1024 * threads.len().max(1));
    let mut line = String::with_capacity(160);
    let mut num = String::with_capacity(24);
    for (i, t) in threads.iter().enumerate() {
        if i > 0 {
            out.push_str("---------------\n");
        }
        let mut nodes: Vec<&NodeRuntime> = t.nodes.iter().filter(|n| n.calls > 0).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));

        let (mut vectors, mut calls) = (0u64, 0u64);
        for n in nodes.iter().filter(|n| !is_input(n)) {
            vectors = vectors.saturating_add(n.vectors);
            calls = calls.saturating_add(n.calls);
        }
        let average = if calls > 0 { vectors as f64 / calls as f64 } else { 0.0 };

        let _ = writeln!(out, "Thread {} {} (lcore {})", t.thread, t.name, t.lcore);
        let _ = writeln!(
            out,
            "Time {:.1}, average vectors/node {:.2}, last 128 main loops {:.2} per node {:.2}",
            t.time, average, t.last_128_vectors_per_loop, t.last_128_vectors_per_node
        );
        out.push_str("  vector rates in ");
        push_e(&mut out, t.rate_in, 4);
        out.push_str(", out ");
        push_e(&mut out, t.rate_out, 4);
        out.push_str(", drop ");
        push_e(&mut out, t.rate_drop, 4);
        out.push_str(", punt ");
        push_e(&mut out, t.rate_punt, 4);
        out.push('\n');

        // Header `%=30s%=12s%=16s%=16s%=16s%=16s%=16s`.
        push_center(&mut line, "Name", 30);
        push_center(&mut line, "State", 12);
        for h in ["Calls", "Vectors", "Suspends", "Clocks", "Vectors/Call"] {
            push_center(&mut line, h, 16);
        }
        flush_line(&mut out, &mut line);

        // Rows `%-30s%=12s%16d%16d%16d%16.2e%16.2f`.
        for n in nodes {
            push_left(&mut line, &n.name, 30);
            push_center(&mut line, n.state.name(), 12);
            for v in [n.calls, n.vectors, n.suspends] {
                num.clear();
                let _ = write!(num, "{v}");
                push_right(&mut line, &num, 16);
            }
            num.clear();
            push_e(&mut num, n.clocks_per_vector, 2);
            push_right(&mut line, &num, 16);
            num.clear();
            let _ = write!(num, "{:.2}", n.vectors_per_call);
            push_right(&mut line, &num, 16);
            flush_line(&mut out, &mut line);
        }
    }
    out
}

/// `show trace`, as VPP's `show trace max N`: per thread a header, then
/// `No packets in trace buffer` or each packet as `Packet N`, a blank line,
/// its records, and a blank line. A record starts with
/// `HH:MM:SS:UUUUUU: node` when its node differs from the previous record's;
/// its text lines follow indented by two spaces. Past `max_packets` a
/// thread's list ends with VPP's `Limiting display ...` line (VPP prints it
/// before the whole output; here it stays in its thread's section).
///
/// A thread whose buffer filled up (`TRACE_CAP`) ends with
/// `N traces dropped (cap M per thread)`.
pub fn show_trace(threads: &[ThreadTrace], max_packets: usize) -> String {
    let mut out = String::with_capacity(4096);
    for t in threads {
        let _ = writeln!(out, "------------------- Start of thread {} {} -------------------", t.thread, t.name);
        let held = (t.held as usize).max(t.packets.len());
        if held == 0 {
            out.push_str("No packets in trace buffer\n");
        }
        for (i, p) in t.packets.iter().take(max_packets).enumerate() {
            let _ = writeln!(out, "Packet {}", i + 1);
            let mut prev: Option<&str> = None;
            for r in &p.records {
                if prev != Some(r.node.as_str()) {
                    out.push('\n');
                    push_time(&mut out, r.time);
                    out.push_str(": ");
                    out.push_str(&r.node);
                }
                prev = Some(r.node.as_str());
                for l in r.text.split('\n') {
                    out.push('\n');
                    if !l.is_empty() {
                        out.push_str("  ");
                        out.push_str(l);
                    }
                }
            }
            out.push_str("\n\n");
        }
        if held > max_packets {
            let _ = writeln!(out, "Limiting display to {max_packets} packets. To display more specify max.");
        }
        if t.dropped > 0 {
            let cap = crate::pipeline::live::TRACE_CAP;
            let _ = writeln!(out, "{} traces dropped (cap {cap} per thread)", t.dropped);
        }
    }
    out
}

/// A VPP-like `show interface`: `%=32s%=5s%=16s%=16s` header (Name, Idx,
/// Counter, Count); per port `%-32s%=5d` and its counters as `%-16s%16d`, the
/// first on the name's line, the rest below it in the counter column.
/// rx/tx packets and bytes are always listed, error counters when nonzero.
/// With `xstats`, the Counter column is as wide as the longest PMD counter
/// name (and a space) needs, so no name is cut.
pub fn show_interfaces(rows: &[InterfaceRow], xstats: bool) -> String {
    let mut out = String::with_capacity(160 * (rows.len() + 1));
    let mut line = String::with_capacity(80);
    let mut num = String::with_capacity(20);
    let longest = rows.iter().flat_map(|r| &r.xstats).filter(|_| xstats).map(|(k, _)| k.chars().count() + 1).max();
    let counter_width = longest.unwrap_or(0).max(16);
    push_center(&mut line, "Name", 32);
    push_center(&mut line, "Idx", 5);
    push_center(&mut line, "Counter", counter_width);
    push_center(&mut line, "Count", 16);
    flush_line(&mut out, &mut line);
    for r in rows {
        push_left(&mut line, &r.name, 32);
        num.clear();
        let _ = write!(num, "{}", r.port);
        push_center(&mut line, &num, 5);
        let extended = r.xstats.iter().filter(|_| xstats).map(|(k, v)| (k.as_str(), *v, false));
        let counters = [
            ("rx packets", r.rx_packets, true),
            ("rx bytes", r.rx_bytes, true),
            ("tx packets", r.tx_packets, true),
            ("tx bytes", r.tx_bytes, true),
            ("rx-miss", r.rx_missed, false),
            ("rx-no-buf", r.rx_nombuf, false),
            ("rx-error", r.rx_errors, false),
            ("tx-error", r.tx_errors, false),
        ];
        let mut first = true;
        for (name, value, always) in counters.into_iter().chain(extended) {
            if !always && value == 0 {
                continue;
            }
            if !first {
                flush_line(&mut out, &mut line);
                push_spaces(&mut line, IFACE_COUNTER_COL);
            }
            first = false;
            push_left(&mut line, name, counter_width);
            num.clear();
            let _ = write!(num, "{value}");
            push_right(&mut line, &num, 16);
        }
        flush_line(&mut out, &mut line);
        // Beyond VPP: what the port's driver cannot report.
        for c in &r.caveats {
            push_spaces(&mut line, IFACE_COUNTER_COL);
            line.push_str("note: ");
            line.push_str(c);
            flush_line(&mut out, &mut line);
        }
    }
    out
}

/// `show handoff` (beyond VPP): per ring, its traffic, congestion, the
/// occupancy high-water mark and the wait between handoffdemo-1 and
/// handoffdemo-2 (per frame handed off, nanoseconds).
pub fn show_handoff(rows: &[RingRow]) -> String {
    let mut out = String::with_capacity(200 * (rows.len() + 1));
    let mut line = String::with_capacity(200);
    push_left(&mut line, "Ring", 16);
    for h in ["From", "To"] {
        push_right(&mut line, h, 6);
    }
    for h in ["Enqueued", "Dequeued", "Cong-drops", "BP-stalls", "High-water"] {
        push_right(&mut line, h, 14);
    }
    for h in ["Wait-p50", "p99", "p99.9", "max(ns)"] {
        push_right(&mut line, h, 12);
    }
    flush_line(&mut out, &mut line);
    for r in rows {
        push_left(&mut line, &r.ring, 16);
        for v in [u64::from(r.from_thread), u64::from(r.to_thread)] {
            push_right(&mut line, &v.to_string(), 6);
        }
        for v in [r.enqueued, r.dequeued, r.congestion_drops, r.backpressure_stalls, r.high_water] {
            push_right(&mut line, &v.to_string(), 14);
        }
        for v in [r.wait_ns.p50, r.wait_ns.p99, r.wait_ns.p99_9, r.wait_ns.max] {
            push_right(&mut line, &v.to_string(), 12);
        }
        flush_line(&mut out, &mut line);
    }
    out
}

/// `--output A:B,...`: per pair, what left by the partner port.
pub fn show_pairs(rows: &[PairRow]) -> String {
    let mut out = String::new();
    let mut line = String::with_capacity(120);
    for (h, w) in [("Rx interface", 32), ("Tx interface", 32)] {
        push_left(&mut line, h, w);
    }
    push_right(&mut line, "Packets", 16);
    push_right(&mut line, "Refused", 16);
    flush_line(&mut out, &mut line);
    for r in rows {
        push_left(&mut line, &r.rx_interface, 32);
        push_left(&mut line, &r.tx_interface, 32);
        push_right(&mut line, &r.packets.to_string(), 16);
        push_right(&mut line, &r.refused.to_string(), 16);
        flush_line(&mut out, &mut line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::dpdk_input::{buffer_line, Snapshot as InputSnapshot, TRACE_DATA_BYTES};
    use crate::report::model::{TracePacketText, TraceRecordText};
    use crate::trace::text::hexdump;

    /// Removes the markdown's two-space indent from the seed's lines.
    fn dedent(s: &str) -> String {
        let mut out = String::new();
        for l in s.lines() {
            out.push_str(l.strip_prefix("  ").unwrap_or(l));
            out.push('\n');
        }
        out
    }

    // `sh err` from seed/handoffdemo.md. Unlike the other sections the
    // markdown does not indent it: `%=10s` puts `Count` at column 3 and
    // `%10d` puts the count at column 9, exactly where the seed has them.
    const SEED_ERRORS: &str = "   Count                    Node                  Reason
         5              handoffdemo-1             packets handed off processed
         5              handoffdemo-2             completed packets
";

    // `show run` from the seed, still with the markdown's indent.
    const SEED_RUNTIME: &str = "  Thread 1 vpp_wk_0 (lcore 0)
  Time 133.9, average vectors/node 5.00, last 128 main loops 0.00 per node 0.00
    vector rates in 3.7331e-2, out 0.0000e0, drop 0.0000e0, punt 0.0000e0
               Name                 State         Calls          Vectors        Suspends         Clocks       Vectors/Call
  handoffdemo-1                    active                  1               5               0          4.76e3            5.00
  pg-input                        disabled                 2               5               0          5.58e4            2.50
  unix-epoll-input                 polling             22760               0               0          2.14e7            0.00
  ---------------
  Thread 2 vpp_wk_1 (lcore 2)
  Time 133.9, average vectors/node 5.00, last 128 main loops 0.00 per node 0.00
    vector rates in 0.0000e0, out 0.0000e0, drop 3.7331e-2, punt 0.0000e0
               Name                 State         Calls          Vectors        Suspends         Clocks       Vectors/Call
  drop                             active                  1               5               0          1.35e4            5.00
  error-drop                       active                  1               5               0          2.52e4            5.00
  handoffdemo-2                    active                  1               5               0          2.56e4            5.00
  unix-epoll-input                 polling             22406               0               0          2.18e7            0.00
";

    const SEED_TRACE_HEAD: &str = "  ------------------- Start of thread 0 vpp_main -------------------
  No packets in trace buffer
  ------------------- Start of thread 1 vpp_wk_0 -------------------
";

    const SEED_TRACE_PACKET_1: &str = "  Packet N

  00:06:50:520688: pg-input
    stream x, 128 bytes, 0 sw_if_index
    current data 0, length 128, buffer-pool 0, ref-count 1, trace handle 0x100000I
    00000000: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d0000
    00000020: 0000000000000000000000000000000000000000000000000000000000000000
    00000040: 0000000000000000000000000000000000000000000000000000000000000000
    00000060: 0000000000000000000000000000000000000000000000000000000000000000
  00:06:50:520762: handoffdemo-1
    HANDOFFDEMO: current thread 1

";

    const SEED_TRACE_THREAD_2: &str = "  ------------------- Start of thread 2 vpp_wk_1 -------------------
";

    const SEED_TRACE_PACKET_2: &str = "  Packet N

  00:06:50:520796: handoff_trace
    HANDED-OFF: from thread 1 trace index I
  00:06:50:520796: handoffdemo-2
    HANDOFFDEMO: current thread 2
  00:06:50:520867: error-drop
    rx:local0
  00:06:50:520914: drop
    handoffdemo-2: completed packets

";

    fn node(name: &str, state: &str, calls: u64, vectors: u64, clocks: u64) -> NodeRuntime {
        let state = match state {
            "polling" => NodeState::Polling,
            "disabled" => NodeState::Disabled,
            _ => NodeState::Active,
        };
        NodeRuntime::new(name, state, calls, vectors, clocks)
    }

    fn seed_runtime() -> Vec<ThreadRuntime> {
        // Clocks chosen so clocks per vector (per call without vectors) are
        // the seed's; nodes given out of order to exercise the sort.
        vec![
            ThreadRuntime {
                thread: 1,
                name: "vpp_wk_0".into(),
                lcore: 0,
                time: 133.9,
                last_128_vectors_per_loop: 0.0,
                last_128_vectors_per_node: 0.0,
                rate_in: 5.0 / 133.937,
                rate_out: 0.0,
                rate_drop: 0.0,
                rate_punt: 0.0,
                nodes: vec![
                    node("unix-epoll-input", "polling", 22760, 0, 22760 * 21_400_000),
                    node("handoffdemo-1", "active", 1, 5, 5 * 4760),
                    node("never-ran", "active", 0, 0, 0),
                    node("pg-input", "disabled", 2, 5, 5 * 55_800),
                ],
            },
            ThreadRuntime {
                thread: 2,
                name: "vpp_wk_1".into(),
                lcore: 2,
                time: 133.9,
                last_128_vectors_per_loop: 0.0,
                last_128_vectors_per_node: 0.0,
                rate_in: 0.0,
                rate_out: 0.0,
                rate_drop: 5.0 / 133.937,
                rate_punt: 0.0,
                nodes: vec![
                    node("handoffdemo-2", "active", 1, 5, 5 * 25_600),
                    node("error-drop", "active", 1, 5, 5 * 25_200),
                    node("unix-epoll-input", "polling", 22406, 0, 22406 * 21_800_000),
                    node("drop", "active", 1, 5, 5 * 13_500),
                ],
            },
        ]
    }

    fn rec(time: f64, node: &str, text: String) -> TraceRecordText {
        TraceRecordText { time, node: node.into(), text }
    }

    fn seed_trace() -> Vec<ThreadTrace> {
        let mut data = [0u8; TRACE_DATA_BYTES];
        for (i, b) in data.iter_mut().take(30).enumerate() {
            *b = i as u8;
        }
        let mut snap = InputSnapshot {
            buffer_index: 0,
            trace_handle: 0,
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
            buf_iova: 0,
            packet_type: 0,
            l2_len: 0,
            l3_len: 0,
            outer_l2_len: 0,
            outer_l3_len: 0,
            rss: 0,
            fdir_hi: 0,
            captured: 128,
            data,
        };
        let mut wk0 = Vec::new();
        let mut wk1 = Vec::new();
        for i in 0..5u32 {
            snap.trace_handle = 0x100_0000 | i;
            let text = format!("stream x, 128 bytes, 0 sw_if_index\n{}\n{}", buffer_line(&snap), hexdump(&data));
            wk0.push(TracePacketText {
                packet: Default::default(),
                records: vec![
                    rec(410.520688, "pg-input", text),
                    rec(410.520762, "handoffdemo-1", "HANDOFFDEMO: current thread 1".into()),
                ],
            });
            wk1.push(TracePacketText {
                packet: Default::default(),
                records: vec![
                    rec(410.520796, "handoff_trace", format!("HANDED-OFF: from thread 1 trace index {i}")),
                    rec(410.520796, "handoffdemo-2", "HANDOFFDEMO: current thread 2".into()),
                    rec(410.520867, "error-drop", "rx:local0".into()),
                    rec(410.520914, "drop", "handoffdemo-2: completed packets".into()),
                ],
            });
        }
        vec![
            ThreadTrace { thread: 0, name: "vpp_main".into(), packets: vec![], held: 0, dropped: 0 },
            ThreadTrace { thread: 1, name: "vpp_wk_0".into(), held: wk0.len() as u64, packets: wk0, dropped: 0 },
            ThreadTrace { thread: 2, name: "vpp_wk_1".into(), held: wk1.len() as u64, packets: wk1, dropped: 0 },
        ]
    }

    #[test]
    fn errors_match_seed() {
        let rows = vec![
            ErrorRow {
                thread: 1,
                node: "handoffdemo-1".into(),
                reason: "packets handed off processed".into(),
                count: 5,
            },
            ErrorRow {
                thread: 1,
                node: "handoffdemo-1".into(),
                reason: "handoff queue congestion drops".into(),
                count: 0,
            },
            ErrorRow { thread: 2, node: "handoffdemo-2".into(), reason: "completed packets".into(), count: 5 },
        ];
        assert_eq!(show_errors(&rows), SEED_ERRORS);
    }

    #[test]
    fn errors_rows_stay_per_thread() {
        let row = |thread| ErrorRow {
            thread,
            node: "handoffdemo-1".into(),
            reason: "packets handed off processed".into(),
            count: 3,
        };
        let text = show_errors(&[row(1), row(3)]);
        assert_eq!(text.lines().count(), 3);
        assert_eq!(show_errors(&[]).lines().count(), 1);
    }

    #[test]
    fn runtime_matches_seed() {
        assert_eq!(show_runtime(&seed_runtime()), dedent(SEED_RUNTIME));
    }

    #[test]
    fn runtime_per_node_and_empty() {
        let mut t = seed_runtime().remove(1);
        t.last_128_vectors_per_loop = 6.0;
        t.last_128_vectors_per_node = 2.0;
        let text = show_runtime(&[t]);
        assert!(text.contains("last 128 main loops 6.00 per node 2.00"), "{text}");
        assert!(!text.contains("---------------"));
        let idle = ThreadRuntime {
            thread: 0,
            name: "main".into(),
            lcore: 1,
            time: 0.0,
            last_128_vectors_per_loop: 0.0,
            last_128_vectors_per_node: 0.0,
            rate_in: 0.0,
            rate_out: 0.0,
            rate_drop: 0.0,
            rate_punt: 0.0,
            nodes: vec![],
        };
        let text = show_runtime(&[idle]);
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("average vectors/node 0.00, last 128 main loops 0.00 per node 0.00"));
    }

    #[test]
    fn trace_matches_seed() {
        let mut expected = dedent(SEED_TRACE_HEAD);
        for i in 0..5 {
            expected.push_str(
                &dedent(SEED_TRACE_PACKET_1)
                    .replace("Packet N", &format!("Packet {}", i + 1))
                    .replace("0x100000I", &format!("0x100000{i}")),
            );
        }
        expected.push_str(&dedent(SEED_TRACE_THREAD_2));
        for i in 0..5 {
            expected.push_str(
                &dedent(SEED_TRACE_PACKET_2)
                    .replace("Packet N", &format!("Packet {}", i + 1))
                    .replace("index I", &format!("index {i}")),
            );
        }
        // The seed's copy ends at the last record; VPP's "\n\n" after each
        // packet gives the final blank line the markdown dropped.
        assert_eq!(show_trace(&seed_trace(), 50), expected);
    }

    #[test]
    fn trace_limit() {
        let text = show_trace(&seed_trace(), 2);
        assert_eq!(text.matches("Limiting display to 2 packets. To display more specify max.").count(), 2);
        assert!(text.contains("Packet 2\n"));
        assert!(!text.contains("Packet 3\n"));
        // Thread 0 has nothing to limit.
        assert!(text.contains("vpp_main -------------------\nNo packets in trace buffer\n"));
    }

    #[test]
    fn trace_held_beyond_shown_and_dropped() {
        let mut t = seed_trace();
        t[1].packets.truncate(1);
        t[1].held = 100_000;
        t[1].dropped = 7;
        let text = show_trace(&t, 1);
        assert!(text.contains("Packet 1\n") && !text.contains("Packet 2\n"), "{text}");
        let tail = "Limiting display to 1 packets. To display more specify max.\n\
                    7 traces dropped (cap 100000 per thread)\n";
        assert!(text.contains(tail), "{text}");
        assert_eq!(text.matches("traces dropped").count(), 1);
    }

    #[test]
    fn interfaces_table() {
        let rows = vec![
            InterfaceRow {
                port: 0,
                name: "net_pcap0".into(),
                rx_packets: 5,
                tx_packets: 0,
                rx_bytes: 640,
                tx_bytes: 0,
                rx_missed: 0,
                rx_nombuf: 2,
                rx_errors: 0,
                tx_errors: 0,
                xstats: Default::default(),
                caveats: Vec::new(),
            },
            InterfaceRow {
                port: 1,
                name: "a-very-long-interface-name-longer-than-32".into(),
                rx_packets: 0,
                tx_packets: 0,
                rx_bytes: 0,
                tx_bytes: 0,
                rx_missed: 0,
                rx_nombuf: 0,
                rx_errors: 0,
                tx_errors: 0,
                xstats: Default::default(),
                caveats: Vec::new(),
            },
        ];
        let expected = "              Name               Idx      Counter          Count
net_pcap0                         0  rx packets                     5
                                     rx bytes                     640
                                     tx packets                     0
                                     tx bytes                       0
                                     rx-no-buf                      2
a-very-long-interface-name-longe  1  rx packets                     0
                                     rx bytes                       0
                                     tx packets                     0
                                     tx bytes                       0
";
        assert_eq!(show_interfaces(&rows, false), expected);
    }

    #[test]
    fn xstats_names_are_never_cut() {
        let mut row = InterfaceRow {
            port: 0,
            name: "net_null0".into(),
            rx_packets: 7,
            tx_packets: 0,
            rx_bytes: 448,
            tx_bytes: 0,
            rx_missed: 0,
            rx_nombuf: 0,
            rx_errors: 0,
            tx_errors: 0,
            xstats: Default::default(),
            caveats: Vec::new(),
        };
        row.xstats.insert("rx_good_packets".into(), 7);
        row.xstats.insert("rx_size_1024_to_max_packets".into(), 3);
        let text = show_interfaces(&[row], true);
        // 27 characters and a space: every counter name gets that column.
        let expected = "              Name               Idx            Counter                Count
net_null0                         0  rx packets                                 7
                                     rx bytes                                 448
                                     tx packets                                 0
                                     tx bytes                                   0
                                     rx_good_packets                            7
                                     rx_size_1024_to_max_packets                3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn caveats_follow_their_port() {
        let row = InterfaceRow {
            port: 0,
            name: "net_af_packet0".into(),
            rx_packets: 1,
            tx_packets: 0,
            rx_bytes: 60,
            tx_bytes: 0,
            rx_missed: 0,
            rx_nombuf: 0,
            rx_errors: 0,
            tx_errors: 0,
            xstats: Default::default(),
            caveats: vec!["kernel drops are not counted".into()],
        };
        let text = show_interfaces(&[row], false);
        assert!(text.ends_with("tx bytes                       0\n                                     note: kernel drops are not counted\n"), "{text}");
    }
}
