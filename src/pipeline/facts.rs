//! What a finished run leaves for the report: per thread (in topology
//! order) its counters and raw traces, the ports' counters, the pools'
//! state and the checks of the files it read and wrote.

use std::sync::Arc;

use serde::Serialize;

use crate::dpdk::{self, PortInfo, PortStats};
use crate::nodes::counters::LcoreCounters;
use crate::nodes::ring_stats::RingCounts;
use crate::nodes::PacketTrace;

use super::rx::InputEnd;
use super::topology::{RingId, Topology};
use super::Plan;

/// One data-path thread's share of the facts, same order as `Topology::threads`.
pub struct ThreadFacts {
    pub counters: Arc<LcoreCounters>,
    /// At most `live::TRACE_CAP`.
    pub traces: Vec<PacketTrace>,
    /// Traces past the cap, dropped.
    pub traces_dropped: u64,
}

pub struct RunFacts {
    pub topology: Topology,
    pub threads: Vec<ThreadFacts>,
    pub interfaces: Vec<(PortInfo, PortStats)>,
    pub port_names: Vec<String>,
    pub dynflags: Vec<(u64, String)>,
    pub tsc_hz: u64,
    pub start_tsc: u64,
    /// Wall-clock time at `start_tsc`, since the Unix epoch.
    pub start_unix: std::time::Duration,
    /// Wall-clock seconds the data path ran.
    pub seconds: f64,
    pub mbufs_total: u64,
    pub mbufs_free: u64,
    /// Input and output files checked against the counters.
    pub file_checks: Vec<FileCheck>,
    /// Every handoff ring: its counters and how long its packets waited.
    pub rings: Vec<RingFacts>,
    /// `--output A:B,...`: the (rx port, tx port) pairs.
    pub pairs: Vec<(u16, u16)>,
    /// The PMDs' extended statistics per port id.
    pub xstats: Vec<(u16, Vec<(String, u64)>)>,
    /// TSC now, while the run goes on (the control socket's view); 0 once
    /// it ended (each thread's own end TSC counts then).
    pub now_tsc: u64,
}

/// One handoff ring at the end of a run (or now, for the control socket).
pub struct RingFacts {
    pub id: RingId,
    pub counts: RingCounts,
    /// Waits between handoffdemo-1 and handoffdemo-2, TSC cycles, one per burst.
    pub waits: Option<hdrhistogram::Histogram<u64>>,
}

impl RunFacts {
    /// The threads with their facts, in thread-number order.
    pub fn threads(&self) -> impl Iterator<Item = (&super::topology::Thread, &ThreadFacts)> {
        self.topology.threads().iter().zip(&self.threads)
    }
}

/// A file whose packets must all be accounted for: a finite input read to
/// its end (`rx`: every packet it holds was received), or a `tx_pcap`
/// written (`tx`: it holds every packet and byte counted transmitted to it).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FileCheck {
    pub file: String,
    pub device: String,
    /// `rx` or `tx`.
    pub direction: String,
    pub expected_packets: u64,
    pub packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub ok: bool,
    /// The likely cause of a shortfall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// A finite input that ended short of its file's packet count lost packets
/// before dpdk-input: one check per input file read to its end.
pub fn input_checks(
    plan: &Plan,
    interfaces: &[(dpdk::PortInfo, dpdk::PortStats)],
    ended: &[InputEnd],
) -> Vec<FileCheck> {
    let mut checks = Vec::new();
    for e in ended.iter().filter(|e| e.exhausted) {
        let Some((info, stats)) = interfaces.iter().find(|(i, _)| i.id == e.port) else { continue };
        let Some(input) = plan.finite_inputs.get(&info.name).and_then(|f| f.get(usize::from(e.queue))) else {
            continue;
        };
        let ok = e.received == input.packets;
        let cause = (!ok).then(|| {
            if stats.rx_nombuf > 0 {
                format!("net_pcap found no free mbuf {} times (raise --mbufs)", stats.rx_nombuf)
            } else if stats.rx_errors > 0 {
                format!("libpcap could not read {} records (rx_errors)", stats.rx_errors)
            } else if stats.rx_missed > 0 {
                format!("{} packets missed by the port (rx_missed)", stats.rx_missed)
            } else {
                "the file changed while it was read".to_string()
            }
        });
        checks.push(FileCheck {
            file: input.file.display().to_string(),
            device: info.name.clone(),
            direction: "rx".into(),
            expected_packets: input.packets,
            packets: e.received,
            expected_bytes: None,
            bytes: None,
            ok,
            cause,
        });
    }
    checks
}
