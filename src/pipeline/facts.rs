//! What a finished run leaves for the report: per thread (in topology
//! order) its counters and raw traces, the ports' counters, the pools'
//! state and the checks of the files it read and wrote.

use serde::Serialize;

use crate::dpdk::{self, PortInfo, PortStats};
use crate::nodes::counters::CounterSnapshot;
use crate::nodes::ring_stats::RingCounts;
use crate::nodes::PacketTrace;

use super::live::LiveView;
use super::rx::InputEnd;
use super::snapshot::RunSnapshot;
use super::topology::{RingId, Thread, Topology};
use super::Plan;

/// One data-path thread's share of the facts, same order as `Topology::threads`.
pub struct ThreadFacts {
    pub thread: Thread,
    pub counters: CounterSnapshot,
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

/// What a run's facts are made of, read now (the control socket) or at
/// its end: everything else comes from the `LiveView`.
pub struct Collected {
    /// The counters as shown (a live `show` subtracts its `clear` baseline first).
    pub counters: RunSnapshot,
    /// Per thread, in topology order: its traces and those dropped at the cap.
    pub traces: Vec<(Vec<PacketTrace>, u64)>,
    /// Ring waits, from the workers that consume the rings.
    pub waits: Vec<(RingId, hdrhistogram::Histogram<u64>)>,
    pub seconds: f64,
    /// TSC now while the run goes on, 0 at its end.
    pub now_tsc: u64,
}

/// The run's facts, assembled here only: for `show` while it runs and for
/// the end-of-run report. Pools and file checks are the end's to fill in.
pub fn assemble(view: &LiveView, c: Collected) -> RunFacts {
    let Collected { counters, traces, mut waits, seconds, now_tsc } = c;
    let mut traces = traces.into_iter();
    let threads = view
        .threads
        .iter()
        .zip(counters.threads)
        .map(|(t, counters)| {
            let (traces, traces_dropped) = traces.next().unwrap_or_default();
            ThreadFacts { thread: t.thread.clone(), counters, traces, traces_dropped }
        })
        .collect();
    let rings = counters
        .rings
        .into_iter()
        .map(|(id, counts)| RingFacts {
            id,
            counts,
            waits: waits.iter().position(|(r, _)| *r == id).map(|i| waits.swap_remove(i).1),
        })
        .collect();
    let mut interfaces = Vec::new();
    let mut xstats = Vec::new();
    for (info, p) in view.ports.iter().zip(counters.ports) {
        interfaces.push((info.clone(), p.stats));
        if !p.xstats.is_empty() {
            xstats.push((p.id, p.xstats));
        }
    }
    RunFacts {
        topology: view.topology.clone(),
        threads,
        interfaces,
        port_names: view.port_names.clone(),
        dynflags: view.dynflags.clone(),
        tsc_hz: view.tsc_hz,
        start_tsc: view.start_tsc,
        start_unix: view.start_unix,
        seconds,
        mbufs_total: 0,
        mbufs_free: 0,
        file_checks: Vec::new(),
        rings,
        pairs: view.pairs.clone(),
        xstats,
        now_tsc,
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
