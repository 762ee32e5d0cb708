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
