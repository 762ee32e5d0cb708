//! Turns a finished run's raw facts into the report: VPP text sections or
//! one JSON document, plus the conservation check.

pub mod model;
pub mod pcapng;
pub mod section;
pub mod text;
pub mod vpp_fmt;

use serde::Serialize;

use crate::drivers::Driver;
use crate::nodes::counters::CounterSnapshot;
use crate::nodes::{Node, NodeState, Reason};
use crate::pipeline::facts::RunFacts;
use crate::pipeline::supervise::{StopKind, StopReason};
use crate::pipeline::topology::{Role, Thread};
use crate::trace::text::FormatContext;
pub use model::FileCheck;
use model::*;
pub use section::{Section, Sections, Shown};

#[derive(Serialize)]
pub struct Report {
    /// Every show section, in `Section::ALL`'s order.
    #[serde(flatten)]
    pub sections: Sections,
    pub conservation: Conservation,
    pub seconds: f64,
    /// Why the run ended: input_done, count_reached, duration, signal, failed.
    pub stopped_by: StopKind,
    /// The signal's name when `stopped_by` is `signal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'static str>,
}

/// `trace_max`: packets per thread rendered into `trace` (text prints
/// `--trace-display`; JSON has every one held).
pub fn build(f: &RunFacts, stop: &StopReason, trace_max: usize) -> Report {
    let shown = Shown { trace_max, held: &[] };
    Report {
        sections: Sections::build(f, Section::ALL, &shown),
        conservation: conservation(f),
        seconds: f.seconds,
        stopped_by: stop.kind(),
        signal: stop.signal(),
    }
}

/// `show errors`: every nonzero counter, per thread.
pub fn errors(f: &RunFacts) -> Vec<ErrorRow> {
    let mut errors = Vec::new();
    for t in &f.threads {
        for r in Reason::ALL {
            let count = t.counters.error_count(r);
            if count > 0 {
                errors.push(ErrorRow {
                    thread: t.thread.id.0,
                    node: r.node().name().into(),
                    reason: r.text().into(),
                    count,
                });
            }
        }
    }

    errors
}

/// `show runtime`: per thread, the nodes that ran; a thread still running
/// counts its time up to `now_tsc`.
pub fn runtime(f: &RunFacts) -> Vec<ThreadRuntime> {
    let hz = f.tsc_hz.max(1) as f64;
    let mut runtime = Vec::new();
    for facts in &f.threads {
        let (t, c) = (&facts.thread, &facts.counters);
        let start = c.start_tsc;
        let end = match c.end_tsc {
            0 => f.now_tsc,
            end => end,
        };
        let time = if end > start { (end - start) as f64 / hz } else { 0.0 };
        let exhausted = c.input_exhausted;
        let mut nodes = Vec::new();
        for &n in t.nodes() {
            let (calls, vectors, clocks) = c.node(n);
            if calls == 0 {
                continue;
            }
            let state = match (n.is_input(), exhausted) {
                (true, true) => NodeState::Disabled,
                (true, false) => NodeState::Polling,
                _ => NodeState::Active,
            };
            nodes.push(NodeRuntime::new(n.name(), state, calls, vectors, clocks));
        }
        let window_vectors = c.last_128_vectors as f64;
        let window_calls = c.last_128_calls;
        let rate = |n: Node| if time > 0.0 { c.node(n).1 as f64 / time } else { 0.0 };
        runtime.push(ThreadRuntime {
            thread: t.id.0,
            name: t.name(),
            lcore: t.lcore.0,
            time,
            last_128_vectors_per_loop: window_vectors / 128.0,
            last_128_vectors_per_node: if window_calls > 0 { window_vectors / window_calls as f64 } else { 0.0 },
            rate_in: rate(Node::DpdkInput),
            rate_out: rate(Node::InterfaceOutput),
            rate_drop: rate(Node::Drop),
            rate_punt: 0.0,
            nodes,
        });
    }

    runtime
}

pub fn interfaces(f: &RunFacts) -> Vec<InterfaceRow> {
    f.interfaces
        .iter()
        .map(|(info, s)| InterfaceRow {
            port: info.id,
            name: info.name.clone(),
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_missed: s.rx_missed,
            rx_nombuf: s.rx_nombuf,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            xstats: f
                .xstats
                .iter()
                .filter(|(id, _)| *id == info.id)
                .flat_map(|(_, x)| x.iter().filter(|(_, v)| *v != 0).cloned())
                .collect(),
            caveats: Driver::of_port(info)
                .caveats(info.max_rx_queues, &crate::dpdk::version::running())
                .into_iter()
                .map(String::from)
                .collect(),
        })
        .collect()
}

/// `show handoff`: per ring, its counters and wait percentiles in ns.
pub fn handoff(f: &RunFacts) -> Vec<RingRow> {
    let ns = |cycles: u64| (cycles as f64 * 1e9 / f.tsc_hz.max(1) as f64).round() as u64;
    // The threads a ring joins: the rx thread that fills it, the worker that drains it.
    let joined = |id, rx: bool| {
        let of_kind = |t: &&Thread| matches!(t.role, Role::Rx { .. }) == rx;
        f.topology.threads().iter().filter(of_kind).find(|t| t.rings.contains(&id)).map_or(0, |t| t.id.0)
    };
    f.rings
        .iter()
        .map(|r| {
            let c = r.counts;
            let wait_ns = r.waits.as_ref().filter(|h| !h.is_empty()).map_or_else(WaitNs::default, |h| WaitNs {
                samples: h.len(),
                p50: ns(h.value_at_quantile(0.5)),
                p99: ns(h.value_at_quantile(0.99)),
                p99_9: ns(h.value_at_quantile(0.999)),
                max: ns(h.max()),
            });
            RingRow {
                ring: r.id.name(),
                from_thread: joined(r.id, true),
                to_thread: joined(r.id, false),
                enqueued: c.enqueued,
                dequeued: c.dequeued,
                congestion_drops: c.dropped,
                backpressure_stalls: c.stalls,
                high_water: c.high_water,
                wait_ns,
                stamps_skipped: c.stamps_skipped,
            }
        })
        .collect()
}

/// Per port pair: what its rx port's packets did at its tx port.
pub fn pairs(f: &RunFacts) -> Vec<PairRow> {
    let name = |id: u16| f.port_names.get(usize::from(id)).cloned().unwrap_or_else(|| format!("port {id}"));
    let sum = |field: fn(&CounterSnapshot) -> &[u64], port: u16| -> u64 {
        f.threads.iter().filter_map(|t| field(&t.counters).get(usize::from(port))).sum()
    };
    f.pairs
        .iter()
        .map(|&(rx, tx)| PairRow {
            rx_port: rx,
            rx_interface: name(rx),
            tx_port: tx,
            tx_interface: name(tx),
            packets: sum(|c| &c.pair_sent, rx),
            refused: sum(|c| &c.pair_refused, rx),
        })
        .collect()
}

/// `show trace`: thread 0 (empty) and every data-path thread's packets,
/// at most `max` of them rendered; `held` says per thread how many are
/// held when the facts carry only the first (a running forwarder's).
pub fn traces_shown(f: &RunFacts, max: usize, held: &[u64]) -> Vec<ThreadTrace> {
    let ctx =
        FormatContext { tsc_hz: f.tsc_hz, start_tsc: f.start_tsc, port_names: &f.port_names, dynflags: &f.dynflags };
    let main = crate::ids::ThreadId(0);
    let name = crate::pipeline::topology::thread_name(main);
    let mut trace = vec![ThreadTrace { thread: 0, name, packets: Vec::new(), held: 0, dropped: 0 }];
    for (i, facts) in f.threads.iter().enumerate() {
        trace.push(ThreadTrace {
            thread: facts.thread.id.0,
            name: facts.thread.name(),
            packets: facts.traces.iter().take(max).map(|p| p.text(&ctx)).collect(),
            held: held.get(i).copied().unwrap_or(facts.traces.len() as u64),
            dropped: facts.traces_dropped,
        });
    }
    trace
}

/// The conservation check over the counters, the pools and the files.
fn conservation(f: &RunFacts) -> Conservation {
    let received: u64 = f.threads.iter().map(|t| t.counters.received()).sum();
    let transmitted: u64 = f.threads.iter().map(|t| t.counters.transmitted).sum();
    let dropped: u64 = f.threads.iter().map(|t| t.counters.dropped()).sum();
    let in_flight = received as i128 - transmitted as i128 - dropped as i128;
    let mbufs_leaked = f.mbufs_total.saturating_sub(f.mbufs_free);
    Conservation {
        received,
        transmitted,
        dropped,
        in_flight: in_flight.max(0) as u64,
        mbufs_leaked,
        files: f.file_checks.clone(),
        ok: in_flight == 0 && mbufs_leaked == 0 && f.file_checks.iter().all(|c| c.ok),
    }
}

impl Report {
    /// The requested sections as VPP text.
    pub fn text(&self, sections: &[Section], trace_max: usize) -> String {
        let mut out = String::new();
        for s in sections {
            out.push_str(&s.text(&self.sections, trace_max));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// The conservation check in one line, for stderr after a text report:
    /// `conservation ok: 3000 received = 2990 transmitted + 10 dropped, ...`.
    pub fn conservation_summary(&self, mbufs_total: u64) -> String {
        let c = &self.conservation;
        let mut line = format!(
            "conservation {}: {} received = {} transmitted + {} dropped, {} in flight, {}/{} mbufs back",
            if c.ok { "ok" } else { "FAILED" },
            c.received,
            c.transmitted,
            c.dropped,
            c.in_flight,
            mbufs_total.saturating_sub(c.mbufs_leaked),
            mbufs_total
        );
        if !c.files.is_empty() {
            let whole = c.files.iter().filter(|f| f.ok).count();
            line.push_str(&format!(", {whole}/{} capture files whole", c.files.len()));
        }
        line
    }

    /// One line saying what is unaccounted for, when conservation fails.
    pub fn conservation_problem(&self) -> Option<String> {
        let c = &self.conservation;
        if c.ok {
            return None;
        }
        let mut parts = Vec::new();
        if c.received != c.transmitted + c.dropped {
            parts.push(format!(
                "received {} but transmitted {} + dropped {} = {} ({} unaccounted)",
                c.received,
                c.transmitted,
                c.dropped,
                c.transmitted + c.dropped,
                c.received as i128 - (c.transmitted + c.dropped) as i128
            ));
        }
        if c.mbufs_leaked > 0 {
            parts.push(format!("{} mbufs not back in the pool", c.mbufs_leaked));
        }
        for f in c.files.iter().filter(|f| !f.ok) {
            let mut line = if f.packets == f.expected_packets {
                // Every packet is there, but not as it was sent or read (cut or changed).
                let verb = if f.direction == "rx" { "received" } else { "sent" };
                format!("{} ({} {}) has all {} packets {verb}, but not whole", f.file, f.device, f.direction, f.packets)
            } else if f.direction == "rx" {
                format!(
                    "{} ({} rx) holds {} packets but {} were received",
                    f.file, f.device, f.expected_packets, f.packets
                )
            } else {
                format!(
                    "{} ({} tx) should hold {} packets but {} are in it",
                    f.file, f.device, f.expected_packets, f.packets
                )
            };
            if let (Some(eb), Some(b)) = (f.expected_bytes, f.bytes) {
                if eb != b {
                    line.push_str(&format!(", {eb} bytes counted but {b} written"));
                }
            }
            if let Some(cause) = &f.cause {
                line.push_str(&format!(": {cause}"));
            }
            parts.push(line);
        }
        Some(parts.join("; "))
    }
}
