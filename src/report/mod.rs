//! Turns a finished run's raw facts into the report: VPP text sections or
//! one JSON document, plus the conservation check.

pub mod model;
pub mod pcapng;
pub mod text;
pub mod vpp_fmt;

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::nodes::counters::LcoreCounters;
use crate::nodes::{Node, NodeState, Reason};
use crate::pipeline::facts::RunFacts;
use crate::pipeline::supervise::{StopKind, StopReason};
use crate::pipeline::topology::Thread;
use crate::trace::text::FormatContext;
pub use model::FileCheck;
use model::*;

#[derive(Serialize)]
pub struct Report {
    pub errors: Vec<ErrorRow>,
    pub runtime: Vec<ThreadRuntime>,
    pub interfaces: Vec<InterfaceRow>,
    pub trace: Vec<ThreadTrace>,
    pub conservation: Conservation,
    pub seconds: f64,
    /// Why the run ended: input_done, count_reached, duration, signal, failed.
    pub stopped_by: StopKind,
    /// The signal's name when `stopped_by` is `signal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'static str>,
}

/// Text sections `--show` can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Errors,
    Runtime,
    Trace,
    Interfaces,
}

/// Threads with their counters, in thread-number order.
type Counted<'a> = Vec<(&'a Thread, &'a LcoreCounters)>;

pub fn build(f: &RunFacts, stop: &StopReason) -> Report {
    let threads: Counted = f.threads().map(|(t, facts)| (t, facts.counters.as_ref())).collect();
    Report {
        errors: errors(&threads),
        runtime: runtime(&threads, f.tsc_hz),
        interfaces: interfaces(f),
        trace: traces(f),
        conservation: conservation(f, &threads),
        seconds: f.seconds,
        stopped_by: stop.kind(),
        signal: stop.signal(),
    }
}

/// `show errors`: every nonzero counter, per thread.
fn errors(threads: &Counted) -> Vec<ErrorRow> {
    let mut errors = Vec::new();
    for (t, counters) in threads {
        for r in Reason::ALL {
            let count = counters.error_count(r);
            if count > 0 {
                errors.push(ErrorRow { thread: t.id.0, node: r.node().name().into(), reason: r.text().into(), count });
            }
        }
    }

    errors
}

/// `show runtime`: per thread, the nodes that ran.
fn runtime(threads: &Counted, tsc_hz: u64) -> Vec<ThreadRuntime> {
    let hz = tsc_hz.max(1) as f64;
    let mut runtime = Vec::new();
    for &(t, c) in threads {
        let start = c.start_tsc.load(Ordering::Acquire);
        let end = c.end_tsc.load(Ordering::Acquire);
        let time = if end > start { (end - start) as f64 / hz } else { 0.0 };
        let exhausted = c.input_exhausted.load(Ordering::Acquire);
        let mut nodes = Vec::new();
        for &n in t.nodes() {
            let (calls, vectors, clocks) = c.node_snapshot(n);
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
        let window_vectors = c.last_128_vectors.load(Ordering::Relaxed) as f64;
        let window_calls = c.last_128_calls.load(Ordering::Relaxed);
        let rate = |n: Node| if time > 0.0 { c.node_snapshot(n).1 as f64 / time } else { 0.0 };
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

fn interfaces(f: &RunFacts) -> Vec<InterfaceRow> {
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
        })
        .collect()
}

/// `show trace`: thread 0 (empty) and every data-path thread's packets.
fn traces(f: &RunFacts) -> Vec<ThreadTrace> {
    let ctx =
        FormatContext { tsc_hz: f.tsc_hz, start_tsc: f.start_tsc, port_names: &f.port_names, dynflags: &f.dynflags };
    let main = crate::ids::ThreadId(0);
    let mut trace =
        vec![ThreadTrace { thread: 0, name: crate::pipeline::topology::thread_name(main), packets: Vec::new() }];
    for (t, facts) in f.threads() {
        trace.push(ThreadTrace {
            thread: t.id.0,
            name: t.name(),
            packets: facts.traces.iter().map(|p| p.text(&ctx)).collect(),
        });
    }

    trace
}

/// The conservation check over the counters, the pools and the files.
fn conservation(f: &RunFacts, threads: &Counted) -> Conservation {
    let received: u64 = threads.iter().map(|(_, c)| c.received()).sum();
    let transmitted: u64 = threads.iter().map(|(_, c)| c.transmitted.load(Ordering::Acquire)).sum();
    let dropped: u64 =
        threads.iter().flat_map(|(_, c)| Reason::ALL.iter().filter(|r| r.is_drop()).map(|&r| c.error_count(r))).sum();
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
            match s {
                Section::Errors => out.push_str(&text::show_errors(&self.errors)),
                Section::Runtime => out.push_str(&text::show_runtime(&self.runtime)),
                Section::Trace => out.push_str(&text::show_trace(&self.trace, trace_max)),
                Section::Interfaces => out.push_str(&text::show_interfaces(&self.interfaces)),
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
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
            let held = match f.direction.as_str() {
                "rx" => "holds",
                _ => "should hold",
            };
            let mut line = format!(
                "{} ({} {}) {held} {} packets but {} {}",
                f.file,
                f.device,
                f.direction,
                f.expected_packets,
                f.packets,
                if f.direction == "rx" { "were received" } else { "are in it" }
            );
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
