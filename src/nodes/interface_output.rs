//! interface-output: transmits a burst on the worker's tx queue. What the
//! queue refuses is freed and counted (VPP), retried a bounded number of
//! times first (`--tx-retry`, testpmd's burst tx retry), or held for the
//! worker to retry until the queue takes it (backpressure). Trace:
//! `<interface> tx queue Q`.

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, Buffers, Burst, TxQueue};
use crate::trace::text::{port_name, FormatContext};

use super::counters::{bump, LcoreCounters, MAX_PAIR_PORTS};
use super::{Node, PacketTrace, Reason, Record, TracedInBurst};

/// The counter of packets the tx queue refused.
pub const TX_REFUSED: &str = "tx queue full drops";
/// Packets still held for a retry when the run was told to stop.
pub const TX_HELD_AT_STOP: &str = "tx held at stop drops";
/// Bursts the tx queue took only in part (each started a retry or a drop).
pub const TX_STALLS: &str = "tx stalls";
/// Tx calls that retried a refused tail.
pub const TX_RETRIES: &str = "tx retries";

/// What interface-output does with the tail of a burst the tx queue refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxRetry {
    /// Free and count it at once (VPP's behaviour).
    Drop,
    /// Retry up to `retries` times, `delay_cycles` TSC cycles apart (a busy
    /// wait), then free and count what is left: testpmd's burst tx retry.
    Bounded { retries: u32, delay_cycles: u64 },
    /// Keep it in the burst: the worker retries it, reading nothing from its
    /// rings meanwhile, until the queue takes it or the run stops.
    Hold,
}

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

/// Transmits `burst`; returns how many packets the queue took. With
/// `TxRetry::Hold` the refused tail stays in `burst` (positions from the
/// returned count on, for the traced ones); otherwise `burst` ends empty.
#[allow(clippy::too_many_arguments)]
pub fn interface_output(
    txq: &mut TxQueue,
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    t1: u64,
    counters: &LcoreCounters,
    retry: TxRetry,
) -> usize {
    let n = burst.len() as u64;
    for (_, slot) in traced.iter() {
        traces[slot].push(t1, Node::InterfaceOutput, Record::Output(Trace { port: txq.port(), queue: txq.queue() }));
    }
    let mut sent = txq.tx_burst(burst);
    if !burst.is_empty() {
        counters.error(Reason::TxStalls, 1);
        match retry {
            TxRetry::Drop => {}
            TxRetry::Bounded { retries, delay_cycles } => {
                sent += retry_bounded(txq, burst, retries, delay_cycles, counters);
            }
            TxRetry::Hold => {
                bump(&counters.transmitted, sent as u64);
                counters.node(Node::InterfaceOutput, 1, n, rdtsc() - t1);
                return sent;
            }
        }
    }
    bump(&counters.transmitted, sent as u64);
    if !burst.is_empty() {
        drop_tail(burst, buffers, traces, traced, sent, Reason::TxRefused, counters);
    }
    counters.node(Node::InterfaceOutput, 1, n, rdtsc() - t1);
    sent
}

/// testpmd's burst tx retry: up to `retries` more tx calls, each after a
/// busy wait of `delay_cycles`. Rare path: only after a partial send.
#[cold]
fn retry_bounded(txq: &mut TxQueue, burst: &mut Burst, retries: u32, delay_cycles: u64, c: &LcoreCounters) -> usize {
    let mut sent = 0;
    let mut tries = 0u64;
    while !burst.is_empty() && tries < u64::from(retries) {
        if delay_cycles > 0 {
            let until = rdtsc().wrapping_add(delay_cycles);
            while rdtsc() < until {
                std::hint::spin_loop();
            }
        }
        tries += 1;
        sent += txq.tx_burst(burst);
    }
    c.error(Reason::TxRetries, tries);
    // Each retry is a call of no new vectors (its clocks are in the first call's).
    c.node(Node::InterfaceOutput, tries, 0, 0);
    sent
}

/// Retries a held tail once (backpressure); returns how many the queue
/// took now. A retry counts as an interface-output call of no new vectors.
#[inline]
pub fn retry_held(txq: &mut TxQueue, burst: &mut Burst, counters: &LcoreCounters) -> usize {
    let t0 = rdtsc();
    let sent = txq.tx_burst(burst);
    bump(&counters.transmitted, sent as u64);
    counters.error(Reason::TxRetries, 1);
    counters.node(Node::InterfaceOutput, 1, 0, rdtsc() - t0);
    sent
}

/// Frees a held tail when the run stops, counted as `tx held at stop drops`;
/// `sent` is how many of the burst's first packets the queue took, so the
/// traced packets at or past it end their trace with the drop.
#[cold]
pub fn drop_held(
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    sent: usize,
    counters: &LcoreCounters,
) -> u64 {
    drop_tail(burst, buffers, traces, traced, sent, Reason::TxHeldAtStop, counters)
}

/// Frees what is left of a burst and counts it under `reason`; its traced
/// packets (at or past `sent`) end their trace with a drop record naming it.
#[inline]
fn drop_tail(
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    sent: usize,
    reason: Reason,
    counters: &LcoreCounters,
) -> u64 {
    if !traced.is_empty() {
        end_traces_at_tx(traces, traced, sent, reason);
    }
    let freed = buffers.free_burst(burst) as u64;
    if freed > 0 {
        counters.error(reason, freed);
    }
    freed
}

/// A traced packet the tx queue refused (at or past `sent` in the burst)
/// ends its trace with a drop record (`interface-output: <reason>`).
#[cold]
fn end_traces_at_tx(traces: &mut [PacketTrace], traced: &TracedInBurst, sent: usize, reason: Reason) {
    let t = rdtsc();
    for (_, slot) in traced.iter().filter(|(pos, _)| *pos >= sent) {
        traces[slot].push(t, Node::Drop, Record::Drop(super::error_drop::DropTrace { reason }));
    }
}

/// `--output A:B,...` (l2fwd-style): each packet leaves by the partner of
/// the port it came in on. Made before the loop: a burst and a traced-packet
/// list per rx port, so sorting a burst allocates nothing.
pub struct PairOutput {
    /// The tx queues of the partner ports, each once (pairs may share a tx port).
    queues: Vec<TxQueue>,
    /// Per rx port id: its partner's tx queue in `queues`, if it has one.
    by_rx_port: Vec<Option<usize>>,
    split: Vec<Burst>,
    traced: Vec<TracedInBurst>,
    /// Per rx port: how many of `split`'s first packets were sent before
    /// the rest was held (backpressure), for the traced ones' positions.
    sent: Vec<usize>,
    /// Some part is held for a retry.
    holding: bool,
}

impl PairOutput {
    /// `queues[by_rx_port[p]]` is the tx queue of port p's partner (ids at most MAX_PAIR_PORTS).
    pub fn new(queues: Vec<TxQueue>, mut by_rx_port: Vec<Option<usize>>) -> PairOutput {
        by_rx_port.truncate(MAX_PAIR_PORTS);
        let n = by_rx_port.len();
        PairOutput {
            queues,
            by_rx_port,
            split: (0..n).map(|_| Burst::new()).collect(),
            traced: (0..n).map(|_| TracedInBurst::default()).collect(),
            sent: vec![0; n],
            holding: false,
        }
    }

    /// Whether a refused part is held for a retry (then no new burst may come).
    #[inline(always)]
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// The traced-packet lists point into a trace buffer that was handed over.
    pub fn forget_traced(&mut self) {
        for t in self.traced.iter_mut() {
            t.clear();
        }
    }

    /// Retries every held part once; returns whether some part is still held.
    pub fn retry_held(&mut self, counters: &LcoreCounters) -> bool {
        let mut holding = false;
        for port in 0..self.split.len() {
            if self.split[port].is_empty() {
                continue;
            }
            let Some(q) = self.by_rx_port[port] else { continue };
            let sent = retry_held(&mut self.queues[q], &mut self.split[port], counters);
            self.sent[port] += sent;
            bump(&counters.pair_sent[port], sent as u64);
            holding |= !self.split[port].is_empty();
        }
        self.holding = holding;
        holding
    }

    /// Frees every held part when the run stops (`tx held at stop drops`).
    pub fn drop_held(&mut self, buffers: &Buffers, traces: &mut [PacketTrace], counters: &LcoreCounters) {
        for port in 0..self.split.len() {
            if !self.split[port].is_empty() {
                let freed =
                    drop_held(&mut self.split[port], buffers, traces, &self.traced[port], self.sent[port], counters);
                bump(&counters.pair_refused[port], freed);
            }
        }
        self.holding = false;
    }
}

/// interface-output for port pairs: sorts the burst by rx port, then sends
/// each part on its partner's tx queue. A packet of a port without partner
/// goes to error-drop -> drop (`completed packets`). With `TxRetry::Hold` a
/// refused part stays in `out` (see `PairOutput::holding`).
#[allow(clippy::too_many_arguments)]
pub fn interface_output_pairs(
    out: &mut PairOutput,
    burst: &mut Burst,
    buffers: &Buffers,
    traces: &mut [PacketTrace],
    traced: &TracedInBurst,
    t1: u64,
    counters: &LcoreCounters,
    retry: TxRetry,
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
        let (dest, list) = match out.by_rx_port.get(port).copied().flatten() {
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
    let mut holding = false;
    for port in 0..out.split.len() {
        if out.split[port].is_empty() {
            continue;
        }
        let Some(q) = out.by_rx_port[port] else { continue };
        let txq = &mut out.queues[q];
        let n = out.split[port].len() as u64;
        let sent = interface_output(txq, &mut out.split[port], buffers, traces, &out.traced[port], t1, counters, retry);
        out.sent[port] = sent;
        bump(&counters.pair_sent[port], sent as u64);
        let held = out.split[port].len() as u64;
        holding |= held > 0;
        if n > sent as u64 + held {
            bump(&counters.pair_refused[port], n - sent as u64 - held);
        }
    }
    out.holding = holding;
    if !unpaired.is_empty() {
        super::error_drop::error_drop_and_drop(&mut unpaired, buffers, traces, &unpaired_traced, t1, counters);
    }
}
