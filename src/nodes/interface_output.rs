//! interface-output: transmits a burst on the worker's tx queue; what the
//! queue refuses is freed and counted. Trace: `<interface> tx queue Q`.

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, Buffers, Burst, TxQueue};
use crate::trace::text::{port_name, FormatContext};

use super::counters::{bump, LcoreCounters, MAX_PAIR_PORTS};
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
    if !burst.is_empty() {
        end_traces_at_tx(traces, traced, sent as usize);
    }
    let refused = buffers.free_burst(burst) as u64;
    if refused > 0 {
        counters.error(Reason::TxRefused, refused);
    }
    counters.node(Node::InterfaceOutput, 1, n, rdtsc() - t1);
}

/// A traced packet the tx queue refused (at or past `sent` in the burst)
/// ends its trace with a drop record (`interface-output: tx queue full drops`).
#[cold]
fn end_traces_at_tx(traces: &mut [PacketTrace], traced: &TracedInBurst, sent: usize) {
    let t = rdtsc();
    for (_, slot) in traced.iter().filter(|(pos, _)| *pos >= sent) {
        traces[slot].push(t, Node::Drop, Record::Drop(super::error_drop::DropTrace { reason: Reason::TxRefused }));
    }
}

/// `--output A:B,...` (l2fwd-style): each packet leaves by the partner of
/// the port it came in on. Made before the loop: a burst and a traced-packet
/// list per rx port, so sorting a burst allocates nothing.
pub struct PairOutput {
    /// Per rx port id: the tx queue of its partner, if it has one.
    by_rx_port: Vec<Option<TxQueue>>,
    split: Vec<Burst>,
    traced: Vec<TracedInBurst>,
}

impl PairOutput {
    /// `by_rx_port[p]` is the tx queue of port p's partner (ids at most MAX_PAIR_PORTS).
    pub fn new(mut by_rx_port: Vec<Option<TxQueue>>) -> PairOutput {
        by_rx_port.truncate(MAX_PAIR_PORTS);
        let n = by_rx_port.len();
        PairOutput {
            by_rx_port,
            split: (0..n).map(|_| Burst::new()).collect(),
            traced: (0..n).map(|_| TracedInBurst::default()).collect(),
        }
    }
}

/// interface-output for port pairs: sorts the burst by rx port, then sends
/// each part on its partner's tx queue. A packet of a port without partner
/// goes to error-drop -> drop (`completed packets`).
pub fn interface_output_pairs(
    out: &mut PairOutput,
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    t1: u64,
    counters: &LcoreCounters,
) {
    for t in out.traced.iter_mut() {
        t.clear();
    }
    let mut marks = traced.iter().peekable();
    let mut pos = 0;
    let mut unpaired = Burst::new();
    let mut unpaired_traced = TracedInBurst::default();
    while let Some(m) = burst.pop_front() {
        let port = usize::from(m.port());
        let traced_slot = match marks.peek() {
            Some(&(p, slot)) if p == pos => {
                marks.next();
                Some(slot)
            }
            _ => None,
        };
        pos += 1;
        let (dest, list) = match out.by_rx_port.get(port).and_then(|q| q.as_ref()) {
            Some(_) => (&mut out.split[port], &mut out.traced[port]),
            None => (&mut unpaired, &mut unpaired_traced),
        };
        if let Some(slot) = traced_slot {
            list.add(dest.len(), slot);
        }
        if let Err(m) = dest.push(m) {
            drop(m); // cannot happen: each part has room for a whole burst
        }
    }
    for port in 0..out.split.len() {
        if out.split[port].is_empty() {
            continue;
        }
        let Some(txq) = out.by_rx_port[port].as_mut() else { continue };
        let n = out.split[port].len() as u64;
        let before = counters.transmitted.load(std::sync::atomic::Ordering::Relaxed);
        interface_output(txq, &mut out.split[port], buffers, traces, &out.traced[port], t1, counters);
        let sent = counters.transmitted.load(std::sync::atomic::Ordering::Relaxed).wrapping_sub(before);
        bump(&counters.pair_sent[port], sent);
        if n > sent {
            bump(&counters.pair_refused[port], n - sent);
        }
    }
    if !unpaired.is_empty() {
        super::error_drop::error_drop_and_drop(&mut unpaired, buffers, traces, &unpaired_traced, t1, counters);
    }
}
