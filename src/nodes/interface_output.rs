//! interface-output: transmits a burst on the worker's tx queue. What the
//! queue refuses is freed and counted (VPP), retried a bounded number of
//! times first (`--tx-retry`, testpmd's burst tx retry), or held for the
//! worker to retry until the queue takes it (backpressure). Trace:
//! `<interface> tx queue Q`.

use std::fmt::Write as _;

use crate::dpdk::{rdtsc, Burst, TxQueue};
use crate::trace::text::{port_name, FormatContext};

use super::counters::{bump, MAX_PAIR_PORTS};
use super::frame::Frame;
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

impl super::TraceText for Trace {
    fn push_text(&self, out: &mut String, ctx: &FormatContext) {
        let _ = write!(out, "{} tx queue {}", port_name(ctx, self.port), self.queue);
    }
}

/// interface-output on one tx queue. With `TxRetry::Hold` a refused tail
/// stays in the frame's burst, and `sent` says how many of the burst's first
/// packets went before it (the traced ones' positions count from there).
pub struct TxOutput {
    txq: TxQueue,
    retry: TxRetry,
    sent: usize,
}

impl TxOutput {
    pub fn new(txq: TxQueue, retry: TxRetry) -> TxOutput {
        TxOutput { txq, retry, sent: 0 }
    }

    /// The port it transmits on.
    pub fn port(&self) -> u16 {
        self.txq.port()
    }

    /// interface-output: transmits the frame's burst.
    #[inline]
    pub fn process(&mut self, f: &mut Frame) {
        f.run(Node::InterfaceOutput, |f| self.sent = send(&mut self.txq, self.retry, f));
    }

    /// Packets of the last burst the queue took (the held tail comes after them).
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Takes up a held part again whose first `sent` packets went (pairs
    /// that share this tx queue each hold their own part).
    pub fn resume(&mut self, sent: usize) {
        self.sent = sent;
    }

    /// Retries a held tail (the frame's burst) once; returns whether some
    /// is still held. A call of no new vectors.
    #[cold]
    pub fn retry_held(&mut self, f: &mut Frame) -> bool {
        f.rerun(Node::InterfaceOutput, |f| {
            let sent = self.txq.tx_burst(f.burst);
            bump(&f.counters.transmitted, sent as u64);
            f.counters.error(Reason::TxRetries, 1);
            self.sent += sent;
        });
        !f.burst.is_empty()
    }

    /// Frees a held tail when the run stops (`tx held at stop drops`); the
    /// traced packets in it end their trace with the drop. Returns how many.
    #[cold]
    pub fn drop_held(&mut self, f: &mut Frame) -> u64 {
        drop_tail(f, self.sent, Reason::TxHeldAtStop)
    }
}

/// Transmits the frame's burst; returns how many packets the queue took.
/// With `TxRetry::Hold` the refused tail stays in the burst; otherwise the
/// burst ends empty.
#[inline(always)]
fn send(txq: &mut TxQueue, retry: TxRetry, f: &mut Frame) -> usize {
    let (port, queue) = (txq.port(), txq.queue());
    f.trace_each(Node::InterfaceOutput, |_| Record::Output(Trace { port, queue }));
    let mut sent = txq.tx_burst(f.burst);
    if !f.burst.is_empty() {
        f.counters.error(Reason::TxStalls, 1);
        match retry {
            TxRetry::Drop => {}
            TxRetry::Bounded { retries, delay_cycles } => {
                sent += retry_bounded(txq, f, retries, delay_cycles);
            }
            TxRetry::Hold => {
                bump(&f.counters.transmitted, sent as u64);
                return sent;
            }
        }
    }
    bump(&f.counters.transmitted, sent as u64);
    if !f.burst.is_empty() {
        drop_tail(f, sent, Reason::TxRefused);
    }
    sent
}

/// testpmd's burst tx retry: up to `retries` more tx calls, each after a
/// busy wait of `delay_cycles`. Rare path: only after a partial send.
#[cold]
fn retry_bounded(txq: &mut TxQueue, f: &mut Frame, retries: u32, delay_cycles: u64) -> usize {
    let mut sent = 0;
    let mut tries = 0u64;
    while !f.burst.is_empty() && tries < u64::from(retries) {
        if delay_cycles > 0 {
            let until = rdtsc().wrapping_add(delay_cycles);
            while rdtsc() < until {
                std::hint::spin_loop();
            }
        }
        tries += 1;
        sent += txq.tx_burst(f.burst);
    }
    f.counters.error(Reason::TxRetries, tries);
    // Each retry is a call of no new vectors (its clocks are in the first call's).
    f.more_calls(Node::InterfaceOutput, tries);
    sent
}

/// Frees what is left of the frame's burst and counts it under `reason`;
/// its traced packets (at or past `sent`) end their trace with a drop
/// record naming it.
#[inline]
fn drop_tail(f: &mut Frame, sent: usize, reason: Reason) -> u64 {
    if !f.traced.is_empty() {
        end_traces_at_tx(f.traces, f.traced, sent, reason);
    }
    let freed = f.free_burst() as u64;
    if freed > 0 {
        f.counters.error(reason, freed);
    }
    freed
}

/// A traced packet the tx queue refused (at or past `sent` in the burst)
/// ends its trace with a drop record (`interface-output: <reason>`).
#[cold]
fn end_traces_at_tx(traces: &mut [PacketTrace], traced: &TracedInBurst, sent: usize, reason: Reason) {
    let t = rdtsc();
    for (_, slot) in traced.iter().filter(|(pos, _)| *pos >= sent) {
        if let Some(trace) = traces.get_mut(slot) {
            trace.push(t, Node::Drop, Record::Drop(super::error_drop::DropTrace { reason }));
        }
    }
}

/// `--output A:B,...` (l2fwd-style): each packet leaves by the partner of
/// the port it came in on. Made before the loop: a burst and a traced-packet
/// list per rx port, and one for unpaired ports, so sorting a burst
/// allocates and zero-fills nothing.
pub struct PairOutput {
    /// The partners' interface-outputs, each tx queue once (pairs may share a tx port).
    outputs: Vec<TxOutput>,
    /// Per rx port id: its partner's interface-output in `outputs`, if it has one.
    by_rx_port: Vec<Option<usize>>,
    /// Per rx port id: how many of its held part's first packets were sent
    /// (a shared output's own count belongs to the part it last sent).
    part_sent: Vec<usize>,
    split: Vec<Burst>,
    traced: Vec<TracedInBurst>,
    /// Packets of ports without a partner (error-drop -> drop).
    unpaired: Burst,
    unpaired_traced: TracedInBurst,
    /// Some part is held for a retry.
    holding: bool,
}

impl PairOutput {
    /// `outputs[by_rx_port[p]]` sends port p's packets (ids below MAX_PAIR_PORTS).
    pub fn new(queues: Vec<TxQueue>, mut by_rx_port: Vec<Option<usize>>, retry: TxRetry) -> PairOutput {
        by_rx_port.truncate(MAX_PAIR_PORTS);
        let n = by_rx_port.len();
        PairOutput {
            outputs: queues.into_iter().map(|q| TxOutput::new(q, retry)).collect(),
            by_rx_port,
            part_sent: vec![0; n],
            split: (0..n).map(|_| Burst::new()).collect(),
            traced: (0..n).map(|_| TracedInBurst::default()).collect(),
            unpaired: Burst::new(),
            unpaired_traced: TracedInBurst::default(),
            holding: false,
        }
    }

    /// Per rx port id, the port its packets leave by.
    pub fn tx_ports(&self) -> Vec<Option<u16>> {
        self.by_rx_port.iter().map(|o| o.map(|i| self.outputs[i].port())).collect()
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

    /// interface-output for port pairs: sorts the frame's burst by rx port,
    /// then runs interface-output on each part (a call each, on the frame's
    /// clock). A packet of a port without partner goes to error-drop ->
    /// drop (`completed packets`). With `TxRetry::Hold` a refused part
    /// stays here (see `holding`).
    #[inline]
    pub fn process(&mut self, f: &mut Frame) {
        self.split_by_rx_port(f);
        let mut holding = false;
        for port in 0..self.split.len() {
            if self.split[port].is_empty() {
                continue;
            }
            let Some(i) = self.by_rx_port[port] else { continue };
            let out = &mut self.outputs[i];
            let n = self.split[port].len() as u64;
            f.on_part((&mut self.split[port], &mut self.traced[port]), |f| out.process(f));
            self.part_sent[port] = out.sent();
            let sent = out.sent() as u64;
            bump(&f.counters.pair_sent[port], sent);
            let held = self.split[port].len() as u64;
            holding |= held > 0;
            if n > sent + held {
                bump(&f.counters.pair_refused[port], n - sent - held);
            }
        }
        self.holding = holding;
        if !self.unpaired.is_empty() {
            f.on_part((&mut self.unpaired, &mut self.unpaired_traced), super::error_drop::process);
        }
    }

    /// Moves each packet of the frame's burst to its rx port's part (or the
    /// unpaired one), with its traced mark.
    #[inline(always)]
    fn split_by_rx_port(&mut self, f: &mut Frame) {
        for t in self.traced.iter_mut() {
            t.clear();
        }
        self.unpaired_traced.clear();
        let mut marks = f.traced.iter().peekable();
        let mut pos = 0;
        while let Some(m) = f.burst.pop_front() {
            let port = usize::from(m.port());
            let traced_slot = match marks.peek() {
                Some(&(p, slot)) if p == pos => {
                    marks.next();
                    Some(slot)
                }
                _ => None,
            };
            pos += 1;
            let (dest, list) = match self.by_rx_port.get(port).copied().flatten() {
                Some(_) => (&mut self.split[port], &mut self.traced[port]),
                None => (&mut self.unpaired, &mut self.unpaired_traced),
            };
            if let Some(slot) = traced_slot {
                list.add(dest.len(), slot);
            }
            if let Err(m) = dest.push(m) {
                drop(m); // cannot happen: each part has room for a whole burst
            }
        }
    }

    /// Retries every held part once; returns whether some part is still held.
    #[cold]
    pub fn retry_held(&mut self, f: &mut Frame) -> bool {
        let mut holding = false;
        for port in 0..self.split.len() {
            if self.split[port].is_empty() {
                continue;
            }
            let Some(i) = self.by_rx_port[port] else { continue };
            let out = &mut self.outputs[i];
            out.resume(self.part_sent[port]);
            let before = out.sent();
            f.on_part((&mut self.split[port], &mut self.traced[port]), |f| {
                out.retry_held(f);
            });
            self.part_sent[port] = out.sent();
            bump(&f.counters.pair_sent[port], (out.sent() - before) as u64);
            holding |= !self.split[port].is_empty();
        }
        self.holding = holding;
        holding
    }

    /// Frees every held part when the run stops (`tx held at stop drops`).
    #[cold]
    pub fn drop_held(&mut self, f: &mut Frame) {
        for port in 0..self.split.len() {
            if self.split[port].is_empty() {
                continue;
            }
            let Some(i) = self.by_rx_port[port] else { continue };
            let out = &mut self.outputs[i];
            out.resume(self.part_sent[port]);
            let mut freed = 0;
            f.on_part((&mut self.split[port], &mut self.traced[port]), |f| freed = out.drop_held(f));
            bump(&f.counters.pair_refused[port], freed);
        }
        self.holding = false;
    }
}
