//! interface-output: transmits a burst on the worker's tx queue; what the
//! queue refuses is freed and counted. Trace: `<interface> tx queue Q`.

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, Buffers, Burst, TxQueue};
use crate::trace::text::{port_name, FormatContext};

use super::counters::{bump, LcoreCounters};
use super::{Node, PacketTrace, Reason, Record, TracedInBurst};

/// The counter of packets the tx queue refused.
pub const TX_REFUSED: &str = "tx queue full drops";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub port: u16,
    pub queue: u16,
}

impl Trace {
    pub fn push_text(&self, out: &mut String, ctx: &FormatContext) {
        let _ = write!(out, "{} tx queue {}", port_name(ctx, self.port), self.queue);
    }
}

pub fn interface_output(
    txq: &mut TxQueue,
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    t1: u64,
    counters: &LcoreCounters,
) {
    let n = burst.len() as u64;
    for (_, slot) in traced.iter() {
        traces[slot].push(t1, Node::InterfaceOutput, Record::Output(Trace { port: txq.port(), queue: txq.queue() }));
    }
    let sent = txq.tx_burst(burst) as u64;
    bump(&counters.transmitted, sent);
    let refused = buffers.free_burst(burst) as u64;
    if refused > 0 {
        counters.error(Reason::TxRefused, refused);
    }
    counters.node(Node::InterfaceOutput, 1, n, rdtsc() - t1);
}
