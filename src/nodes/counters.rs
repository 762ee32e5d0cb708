//! Per-lcore runtime and error counters. Each lcore is the only writer of
//! its own counters (plain load + store, no locked RMW on the fast path);
//! thread 0 reads them for stats, telemetry and the end-of-run report.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Node, Reason};

#[derive(Default)]
pub struct NodeCounter {
    pub calls: AtomicU64,
    pub vectors: AtomicU64,
    pub clocks: AtomicU64,
}

/// Counters of one data-path lcore, on cache lines of their own.
#[repr(align(64))]
#[derive(Default)]
pub struct LcoreCounters {
    pub nodes: [NodeCounter; Node::COUNT],
    pub errors: [AtomicU64; Reason::COUNT],
    /// Packets the tx queues accepted.
    pub transmitted: AtomicU64,
    /// Main-loop iterations.
    pub loops: AtomicU64,
    /// Internal-node vectors and calls in the last complete window of 128 loops.
    pub last_128_vectors: AtomicU64,
    pub last_128_calls: AtomicU64,
    /// TSC at loop start and end (0 while not yet started / still running).
    pub start_tsc: AtomicU64,
    pub end_tsc: AtomicU64,
    /// An rx lcore sets this after its last enqueue; workers drain until
    /// every producer they read from has set it.
    pub done: AtomicBool,
    /// Every input queue of this lcore is a finite input that ran dry.
    pub input_exhausted: AtomicBool,
    /// Port pairs (`--output A:B`): per rx port, packets its partner's tx
    /// queue took, and those it refused.
    pub pair_sent: [AtomicU64; MAX_PAIR_PORTS],
    pub pair_refused: [AtomicU64; MAX_PAIR_PORTS],
}

/// Ports a pair can name (RTE_MAX_ETHPORTS in DPDK's default build).
pub const MAX_PAIR_PORTS: usize = 32;

/// Adds `n` to a counter only this thread writes.
#[inline(always)]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Release);
}

/// What one node call (or several) adds to the node's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeTally {
    pub calls: u64,
    pub vectors: u64,
    pub clocks: u64,
}

impl LcoreCounters {
    #[inline(always)]
    pub fn node(&self, node: Node, t: NodeTally) {
        let c = &self.nodes[node as usize];
        bump(&c.calls, t.calls);
        bump(&c.vectors, t.vectors);
        bump(&c.clocks, t.clocks);
    }

    #[inline(always)]
    pub fn error(&self, reason: Reason, n: u64) {
        bump(&self.errors[reason as usize], n);
    }

    pub fn node_snapshot(&self, node: Node) -> (u64, u64, u64) {
        let c = &self.nodes[node as usize];
        (c.calls.load(Ordering::Acquire), c.vectors.load(Ordering::Acquire), c.clocks.load(Ordering::Acquire))
    }

    pub fn error_count(&self, reason: Reason) -> u64 {
        self.errors[reason as usize].load(Ordering::Acquire)
    }

    /// Packets that entered dpdk-input here.
    pub fn received(&self) -> u64 {
        self.nodes[Node::DpdkInput as usize].vectors.load(Ordering::Acquire)
    }

    /// Packets that left the pipeline here (sent or dropped with a reason).
    pub fn left(&self) -> u64 {
        let drops: u64 = Reason::ALL.iter().filter(|r| r.is_drop()).map(|&r| self.error_count(r)).sum();
        drops + self.transmitted.load(Ordering::Acquire)
    }
}

/// Tracks the per-128-loop vector window without per-packet cost.
#[derive(Default)]
pub struct LoopWindow {
    loops: u64,
    vectors: u64,
    calls: u64,
}

impl LoopWindow {
    #[inline(always)]
    pub fn end_loop(&mut self, vectors: u64, calls: u64, counters: &LcoreCounters) {
        self.loops += 1;
        self.vectors += vectors;
        self.calls += calls;
        if self.loops % 128 == 0 {
            counters.last_128_vectors.store(self.vectors, Ordering::Relaxed);
            counters.last_128_calls.store(self.calls, Ordering::Relaxed);
            counters.loops.store(self.loops, Ordering::Relaxed);
            self.vectors = 0;
            self.calls = 0;
        }
    }

    pub fn finish(&self, counters: &LcoreCounters) {
        counters.loops.store(self.loops, Ordering::Relaxed);
    }
}

/// One thread's counters read at one moment, as plain numbers: what every
/// reader (`show`, the report, metrics) works from. `a - b` is what
/// counted between the two reads: the counts subtract, the gauges (loop
/// window, end, flags) are `a`'s, and the runtime starts at the later start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Per node: (calls, vectors, clocks).
    pub nodes: [(u64, u64, u64); Node::COUNT],
    pub errors: [u64; Reason::COUNT],
    pub transmitted: u64,
    pub loops: u64,
    pub last_128_vectors: u64,
    pub last_128_calls: u64,
    pub start_tsc: u64,
    pub end_tsc: u64,
    pub done: bool,
    pub input_exhausted: bool,
    pub pair_sent: [u64; MAX_PAIR_PORTS],
    pub pair_refused: [u64; MAX_PAIR_PORTS],
}

impl LcoreCounters {
    /// Every counter, read once.
    pub fn snapshot(&self) -> CounterSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Acquire);
        CounterSnapshot {
            nodes: std::array::from_fn(|n| {
                let c = &self.nodes[n];
                (get(&c.calls), get(&c.vectors), get(&c.clocks))
            }),
            errors: std::array::from_fn(|r| get(&self.errors[r])),
            transmitted: get(&self.transmitted),
            loops: get(&self.loops),
            last_128_vectors: get(&self.last_128_vectors),
            last_128_calls: get(&self.last_128_calls),
            start_tsc: get(&self.start_tsc),
            end_tsc: get(&self.end_tsc),
            done: self.done.load(Ordering::Acquire),
            input_exhausted: self.input_exhausted.load(Ordering::Acquire),
            pair_sent: std::array::from_fn(|p| get(&self.pair_sent[p])),
            pair_refused: std::array::from_fn(|p| get(&self.pair_refused[p])),
        }
    }
}

impl CounterSnapshot {
    pub fn node(&self, node: Node) -> (u64, u64, u64) {
        self.nodes[node as usize]
    }

    pub fn error_count(&self, reason: Reason) -> u64 {
        self.errors[reason as usize]
    }

    /// Packets that entered dpdk-input here.
    pub fn received(&self) -> u64 {
        self.node(Node::DpdkInput).1
    }

    /// Packets that left the pipeline here (sent or dropped with a reason).
    pub fn left(&self) -> u64 {
        self.dropped() + self.transmitted
    }

    /// Packets dropped here, each with a reason.
    pub fn dropped(&self) -> u64 {
        Reason::ALL.iter().filter(|r| r.is_drop()).map(|&r| self.error_count(r)).sum()
    }
}

impl std::ops::Sub<&CounterSnapshot> for &CounterSnapshot {
    type Output = CounterSnapshot;

    fn sub(self, base: &CounterSnapshot) -> CounterSnapshot {
        let minus = |a: &[u64], b: &[u64], out: &mut [u64]| {
            for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
                *o = a.saturating_sub(*b);
            }
        };
        let mut out = self.clone();
        for (o, b) in out.nodes.iter_mut().zip(&base.nodes) {
            *o = (o.0.saturating_sub(b.0), o.1.saturating_sub(b.1), o.2.saturating_sub(b.2));
        }
        minus(&self.errors, &base.errors, &mut out.errors);
        minus(&self.pair_sent, &base.pair_sent, &mut out.pair_sent);
        minus(&self.pair_refused, &base.pair_refused, &mut out.pair_refused);
        out.transmitted = self.transmitted.saturating_sub(base.transmitted);
        out.start_tsc = self.start_tsc.max(base.start_tsc);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_minus_a_baseline_counts_what_came_since() {
        let c = LcoreCounters::default();
        c.node(Node::DpdkInput, NodeTally { calls: 2, vectors: 64, clocks: 1000 });
        c.error(Reason::ALL[0], 5);
        bump(&c.transmitted, 7);
        bump(&c.pair_sent[1], 3);
        c.start_tsc.store(100, Ordering::Relaxed);
        let base = c.snapshot();
        c.node(Node::DpdkInput, NodeTally { calls: 1, vectors: 32, clocks: 500 });
        c.error(Reason::ALL[0], 2);
        bump(&c.pair_sent[1], 4);
        c.last_128_vectors.store(9, Ordering::Relaxed);
        let now = c.snapshot();
        let since = &now - &base;
        assert_eq!(since.node(Node::DpdkInput), (1, 32, 500));
        assert_eq!((since.error_count(Reason::ALL[0]), since.transmitted, since.pair_sent[1]), (2, 0, 4));
        // Gauges are now's; the start is the later one.
        assert_eq!((since.last_128_vectors, since.start_tsc), (9, 100));
        let mut later_start = CounterSnapshot { start_tsc: 150, ..Default::default() };
        assert_eq!((&now - &later_start).start_tsc, 150);
        // Nothing below zero, and minus nothing is itself.
        later_start.transmitted = u64::MAX;
        assert_eq!((&now - &later_start).transmitted, 0);
        assert_eq!(&now - &CounterSnapshot::default(), now);
    }
}
