//! What a run reports, as plain data: filled by the control thread from the
//! lcores' counters and trace buffers, printed as VPP text or as JSON.

use serde::Serialize;

pub use crate::nodes::NodeState;
pub use crate::pipeline::facts::FileCheck;
pub use crate::trace::text::{TracePacketText, TraceRecordText};

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ErrorRow {
    pub thread: u32,
    pub node: String,
    pub reason: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeRuntime {
    pub name: String,
    /// `polling`, `disabled` (finite input exhausted) or `active`.
    pub state: NodeState,
    pub calls: u64,
    pub vectors: u64,
    pub suspends: u64,
    /// Total TSC clocks spent in the node (not in JSON: clocks_per_vector is).
    #[serde(skip)]
    pub clocks: u64,
    /// Clocks per vector, or per call when the node saw no vectors.
    pub clocks_per_vector: f64,
    pub vectors_per_call: f64,
}

impl NodeRuntime {
    pub fn new(name: &str, state: NodeState, calls: u64, vectors: u64, clocks: u64) -> Self {
        let per = if vectors > 0 { vectors } else { calls };
        NodeRuntime {
            name: name.to_string(),
            state,
            calls,
            vectors,
            suspends: 0,
            clocks,
            clocks_per_vector: if per > 0 { clocks as f64 / per as f64 } else { 0.0 },
            vectors_per_call: if calls > 0 { vectors as f64 / calls as f64 } else { 0.0 },
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ThreadRuntime {
    pub thread: u32,
    /// "main", "handoff_wk_0", ...
    pub name: String,
    pub lcore: u32,
    /// Seconds the thread's loop ran.
    pub time: f64,
    /// Over the last 128 main loops: internal-node vectors per loop, and
    /// vectors per internal-node call (VPP's "last 128 main loops X per node Y").
    pub last_128_vectors_per_loop: f64,
    pub last_128_vectors_per_node: f64,
    /// Packets per second into input nodes, out of output nodes, into drop.
    pub rate_in: f64,
    pub rate_out: f64,
    pub rate_drop: f64,
    pub rate_punt: f64,
    /// Nodes that ran (calls > 0), any order; text output sorts by name.
    pub nodes: Vec<NodeRuntime>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct InterfaceRow {
    pub port: u16,
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_nombuf: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// The PMD's extended statistics that are not zero.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub xstats: std::collections::BTreeMap<String, u64>,
    /// What the port's driver cannot report, so the counters cannot vouch for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caveats: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ThreadTrace {
    pub thread: u32,
    /// Not in JSON: the text header uses it.
    #[serde(skip)]
    pub name: String,
    /// The first `held` packets, or fewer (`show trace` prints at most its max).
    pub packets: Vec<TracePacketText>,
    /// Traces held for this thread (at most `live::TRACE_CAP`).
    pub held: u64,
    /// Traces dropped because the thread's buffer was full.
    pub dropped: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Conservation {
    pub received: u64,
    pub transmitted: u64,
    pub dropped: u64,
    pub in_flight: u64,
    pub mbufs_leaked: u64,
    /// Capture files the run must account for beyond its counters.
    pub files: Vec<FileCheck>,
    pub ok: bool,
}

/// Ring wait percentiles, in nanoseconds, measured per frame (the wait of
/// each frame's last packet between handoffdemo-1 and handoffdemo-2).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct WaitNs {
    /// Bursts measured.
    pub samples: u64,
    pub p50: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

/// `show handoff`: one handoff ring.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RingRow {
    /// `handoff_<rx>_<worker>`.
    pub ring: String,
    pub from_thread: u32,
    pub to_thread: u32,
    pub enqueued: u64,
    pub dequeued: u64,
    /// Packets the full ring refused (drop-on-congestion).
    pub congestion_drops: u64,
    /// Retries on a full ring (backpressure): how often rx waited.
    pub backpressure_stalls: u64,
    /// Most packets the worker found in the ring.
    pub high_water: u64,
    pub wait_ns: WaitNs,
    /// Bursts not stamped because the stamp ring was full.
    pub stamps_skipped: u64,
}

/// `--output A:B`: packets of one pair.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PairRow {
    pub rx_port: u16,
    pub rx_interface: String,
    pub tx_port: u16,
    pub tx_interface: String,
    /// Received on rx_port and taken by tx_port's queues.
    pub packets: u64,
    /// Refused by tx_port's queues (counted as `tx queue full drops`).
    pub refused: u64,
}
