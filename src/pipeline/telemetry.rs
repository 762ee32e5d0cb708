//! `/handoff/errors`, `/handoff/runtime` and `/handoff/interfaces` for
//! dpdk-telemetry.py while a run goes on, read from the live counters.

use std::sync::Arc;

use crate::dpdk::telemetry::{key, register as register_command};
use crate::dpdk::{self, Eal, Port};
use crate::nodes::counters::LcoreCounters;
use crate::nodes::{Node, Reason};

use super::live::ThreadState;

/// `/handoff/errors`, `/handoff/runtime` and `/handoff/interfaces` for
/// dpdk-telemetry.py while the run goes on. Failing to register only warns.
pub fn register(eal: &Eal, threads: &[ThreadState], ports: &[Port]) {
    let threads: Vec<(String, Arc<LcoreCounters>, Vec<Node>)> =
        threads.iter().map(|t| (t.thread.id.to_string(), t.counters.clone(), t.thread.nodes().to_vec())).collect();
    let errors = threads.clone();
    let runtime = threads;
    let port_ids: Vec<(u16, String)> = ports.iter().map(|p| (p.info().id, p.info().name.clone())).collect();
    let results = [
        register_command(
            eal,
            "/handoff/errors",
            "Error counters per thread, node and reason (nonzero only)",
            Box::new(move || {
                let mut out = Vec::new();
                for (t, c, _) in &errors {
                    let c = c.snapshot();
                    for r in Reason::ALL {
                        let n = c.error_count(r);
                        if n > 0 {
                            out.push((key(&[t, r.node().name(), r.text()]), n));
                        }
                    }
                }
                out
            }),
        ),
        register_command(
            eal,
            "/handoff/runtime",
            "Calls, vectors and clocks per thread and node",
            Box::new(move || {
                let mut out = Vec::new();
                for (t, c, nodes) in &runtime {
                    let c = c.snapshot();
                    for &n in nodes {
                        let (calls, vectors, clocks) = c.node(n);
                        if calls > 0 {
                            out.push((key(&[t, n.name(), "calls"]), calls));
                            out.push((key(&[t, n.name(), "vectors"]), vectors));
                            out.push((key(&[t, n.name(), "clocks"]), clocks));
                        }
                    }
                }
                out
            }),
        ),
        register_command(
            eal,
            "/handoff/interfaces",
            "Packet counters per port",
            Box::new(move || {
                let mut out = Vec::new();
                for (id, name) in &port_ids {
                    let s = dpdk::port::stats(*id);
                    for (field, v) in [
                        ("rx_packets", s.rx_packets),
                        ("tx_packets", s.tx_packets),
                        ("rx_missed", s.rx_missed),
                        ("rx_nombuf", s.rx_nombuf),
                        ("rx_errors", s.rx_errors),
                        ("tx_errors", s.tx_errors),
                    ] {
                        out.push((key(&[name, field]), v));
                    }
                }
                out
            }),
        ),
    ];
    for r in results {
        if let Err(e) = r {
            log::warn!("telemetry: {e}");
        }
    }
}
