//! The node contract: a `Frame` is what one node call is given (VPP's
//! `vlib_frame_t`), and `Frame::run` is the only place a node is timed and
//! counted. The clock moves from node to node: each node is booked the
//! cycles from the end of the previous one to its own end, so every cycle of
//! a burst lands on exactly one node.

use crate::dpdk::{rdtsc, Buffers, Burst, RingProducer};

use super::counters::{LcoreCounters, NodeTally};
use super::{Node, PacketTrace, Record, TracedInBurst};

/// One node call's inputs: the burst, its traced packets, the thread's
/// trace buffer, counters and pools, and the clock.
pub struct Frame<'a> {
    pub burst: &'a mut Burst,
    /// Where the burst holds traced packets and each one's slot in `traces`.
    pub traced: &'a mut TracedInBurst,
    pub traces: &'a mut Vec<PacketTrace>,
    /// Traced packets this thread may still add to `traces`.
    pub trace_limit: usize,
    pub counters: &'a LcoreCounters,
    pub buffers: &'a Buffers,
    /// Where freed plain mbufs go back to the rx lcore that received them
    /// (its return ring), on a worker.
    pub give_back: Option<&'a mut RingProducer>,
    /// When the previous node ended, i.e. when the next one starts.
    clock: u64,
    /// Internal-node calls and vectors this frame ran (`show runtime`'s
    /// per-loop window).
    calls: u64,
    vectors: u64,
}

/// What a frame's thread owns for the whole loop, lent to each frame.
pub struct FrameParts<'a> {
    pub traced: &'a mut TracedInBurst,
    pub traces: &'a mut Vec<PacketTrace>,
    pub trace_limit: usize,
    pub counters: &'a LcoreCounters,
    pub buffers: &'a Buffers,
    pub give_back: Option<&'a mut RingProducer>,
}

impl<'a> Frame<'a> {
    /// A frame over `burst`, its clock started now.
    #[inline(always)]
    pub fn new(burst: &'a mut Burst, parts: FrameParts<'a>) -> Frame<'a> {
        let FrameParts { traced, traces, trace_limit, counters, buffers, give_back } = parts;
        Frame { burst, traced, traces, trace_limit, counters, buffers, give_back, clock: rdtsc(), calls: 0, vectors: 0 }
    }

    /// Runs one node: books a call, the burst's vectors (an input node's
    /// after it ran, the others' before) and the clocks since the previous
    /// node ended; moves the clock on. The only place a node is timed.
    #[inline(always)]
    pub fn run(&mut self, node: Node, body: impl FnOnce(&mut Self)) {
        let before = self.burst.len() as u64;
        body(self);
        let n = if node.is_input() { self.burst.len() as u64 } else { before };
        self.book(node, n, !node.is_input());
    }

    /// Runs `node` again on packets it already counted (a tx retry of a
    /// held tail): a call of no new vectors, timed like any other.
    #[inline]
    pub fn rerun(&mut self, node: Node, body: impl FnOnce(&mut Self)) {
        body(self);
        // Not in the loop window: the seed counted a held retry there never.
        self.book(node, 0, false);
    }

    /// Calls of the running node made inside its one timed call (bounded
    /// tx retries), booked with no vectors; their clocks are the call's.
    #[inline]
    pub fn more_calls(&mut self, node: Node, calls: u64) {
        self.counters.node(node, NodeTally { calls, vectors: 0, clocks: 0 });
    }

    #[inline(always)]
    fn book(&mut self, node: Node, vectors: u64, in_window: bool) {
        let now = rdtsc();
        self.counters.node(node, NodeTally { calls: 1, vectors, clocks: now.wrapping_sub(self.clock) });
        self.clock = now;
        if in_window {
            self.calls += 1;
            self.vectors += vectors;
        }
    }

    /// Runs `body` (which runs nodes) on another burst, e.g. one port
    /// pair's part of this one, with its traced-packet list, on this
    /// frame's clock, trace buffer and counters.
    #[inline(always)]
    pub fn on_part(&mut self, part: (&mut Burst, &mut TracedInBurst), body: impl FnOnce(&mut Frame<'_>)) {
        let (burst, traced) = part;
        let mut sub = Frame {
            burst,
            traced,
            traces: &mut *self.traces,
            trace_limit: self.trace_limit,
            counters: self.counters,
            buffers: self.buffers,
            give_back: self.give_back.as_deref_mut(),
            clock: self.clock,
            calls: 0,
            vectors: 0,
        };
        body(&mut sub);
        let (clock, calls, vectors) = (sub.clock, sub.calls, sub.vectors);
        self.clock = clock;
        self.calls += calls;
        self.vectors += vectors;
    }

    /// `node`'s record on every traced packet of the burst, stamped with
    /// the node's start (as VPP stamps a frame's records).
    #[inline]
    pub fn trace_each(&mut self, node: Node, record: impl Fn(&crate::dpdk::Mbuf) -> Record) {
        let slice = self.burst.as_slice();
        for (pos, slot) in self.traced.iter() {
            if let (Some(m), Some(t)) = (slice.get(pos), self.traces.get_mut(slot)) {
                t.push(self.clock, node, record(m));
            }
        }
    }

    /// Frees every packet of the burst; returns how many. Plain ones go
    /// back to the rx lcore's return ring when there is one and it has
    /// room (so the next rx burst gets mbufs still in that CPU's cache),
    /// the rest to their pool (see `Buffers::free_burst`).
    #[inline]
    pub fn free_burst(&mut self) -> usize {
        let n = self.burst.len();
        if let Some(r) = self.give_back.as_deref_mut() {
            r.enqueue_plain(self.burst);
        }
        self.buffers.free_burst(self.burst);
        n
    }

    /// When the running node started (the previous one's end).
    #[inline(always)]
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Internal-node (calls, vectors) this frame ran.
    #[inline(always)]
    pub fn ran(&self) -> (u64, u64) {
        (self.calls, self.vectors)
    }
}
