//! error-drop and drop: where a packet the seed drops ends. error-drop
//! notes the interface it came in on (`rx:<interface>`); drop frees it and
//! counts the reason where the packet dies, as VPP's drop node does
//! (`<node>: <reason>`).

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, Buffers, Burst};
use crate::trace::text::{port_name, FormatContext};

use super::counters::LcoreCounters;
use super::{Node, PacketTrace, Reason, Record, TracedInBurst};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorDropTrace {
    pub rx_port: u16,
}

impl ErrorDropTrace {
    pub fn push_text(&self, out: &mut String, ctx: &FormatContext) {
        let _ = write!(out, "rx:{}", port_name(ctx, self.rx_port));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropTrace {
    pub reason: Reason,
}

impl DropTrace {
    pub fn push_text(&self, out: &mut String) {
        let _ = write!(out, "{}: {}", self.reason.node().name(), self.reason.text());
    }
}

/// error-drop then drop for a whole burst: every packet carries
/// `completed packets` and is freed. One timestamp ends error-drop and
/// starts drop.
pub fn error_drop_and_drop(
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    t1: u64,
    counters: &LcoreCounters,
) {
    let n = burst.len() as u64;
    for (pos, slot) in traced.iter() {
        let port = burst.as_slice()[pos].port();
        traces[slot].push(t1, Node::ErrorDrop, Record::ErrorDrop(ErrorDropTrace { rx_port: port }));
    }
    let t2 = rdtsc();
    counters.node(Node::ErrorDrop, 1, n, t2 - t1);
    for (_, slot) in traced.iter() {
        traces[slot].push(t2, Node::Drop, Record::Drop(DropTrace { reason: Reason::Completed }));
    }
    // Plain mbufs go back to their pool unread (see Buffers::free_burst).
    let freed = buffers.free_burst(burst) as u64;
    counters.error(Reason::Completed, freed);
    counters.node(Node::Drop, 1, n, rdtsc() - t2);
}
