//! handoffdemo-1 and handoffdemo-2, as in VPP's examples/handoffdemo: the
//! first hands each packet's index to a worker's ring (rx lcore), the
//! second takes it over on the worker. Trace: `HANDOFFDEMO: current thread N`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::{rdtsc, Burst, RingProducer};
use crate::ids::ThreadId;

use super::flow_hash::worker_for;
use super::frame::Frame;
use super::ring_stats::{Enqueued, RingStats};
use super::{error_drop, handoff_trace, Node, PacketTrace, Reason, Record, TracedInBurst};

/// handoffdemo-1's counters and handoffdemo-2's, with VPP's texts.
pub const HANDED_OFF: &str = "packets handed off processed";
pub const CONGESTION: &str = "handoff queue congestion drops";
pub const COMPLETED: &str = "completed packets";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub thread: u32,
}

impl super::TraceText for Trace {
    fn push_text(&self, out: &mut String, _: &crate::trace::text::FormatContext) {
        let _ = write!(out, "HANDOFFDEMO: current thread {}", self.thread);
    }
}

/// handoffdemo-1's state on one rx lcore: a ring per worker and a burst
/// per worker to sort packets into.
pub struct Handoff {
    pub thread: ThreadId,
    /// One ring per worker, indexed by worker number.
    pub rings: Vec<RingProducer>,
    per_worker: Vec<Burst>,
    /// Hold and retry on a full ring instead of dropping.
    pub backpressure: bool,
    pub symmetric: bool,
    pub stop: Arc<AtomicBool>,
    /// Per ring (same order as `rings`): enqueues, drops, burst stamps.
    ring_stats: Vec<Arc<RingStats>>,
    /// When the burst being handed off arrived (the rings' burst stamp).
    stamp: u64,
    /// In `retry_held`, where the frame's traced list is gone.
    retrying: bool,
}

impl Handoff {
    /// `(backpressure, symmetric)`: hold on a full ring; hash both directions of a flow alike.
    pub fn new(
        thread: ThreadId,
        rings: Vec<RingProducer>,
        (backpressure, symmetric): (bool, bool),
        stop: Arc<AtomicBool>,
    ) -> Handoff {
        // Allocated here, before the loop.
        let per_worker = (0..rings.len()).map(|_| Burst::new()).collect();
        Handoff {
            thread,
            rings,
            per_worker,
            backpressure,
            symmetric,
            stop,
            ring_stats: Vec::new(),
            stamp: 0,
            retrying: false,
        }
    }

    /// Counts each ring's traffic and stamps its bursts (`show handoff`).
    pub fn with_ring_stats(mut self, stats: Vec<Arc<RingStats>>) -> Handoff {
        self.ring_stats = stats;
        self
    }

    /// handoffdemo-1: hands every packet of the frame's burst to its
    /// worker's ring. What a full ring refuses is freed and counted (VPP's
    /// drop-on-congestion), or, with backpressure, retried for a while and
    /// then held (`holding`) for the rx lcore to retry between its other
    /// duties (its mailbox, the stop). The traced packets get this node's
    /// record.
    #[inline]
    pub fn process(&mut self, f: &mut Frame) {
        let thread = self.thread.0;
        f.trace_each(Node::HandoffDemo1, |_| Record::HandoffDemo(Trace { thread }));
        self.stamp = f.clock();
        let mut refused = 0u64;
        let mut per_worker = std::mem::take(&mut self.per_worker);
        if self.rings.len() == 1 {
            let (a, r) = self.enqueue(0, f.burst, (&mut f.traces[..], &*f.traced));
            f.counters.error(Reason::HandedOff, a);
            refused += r;
            // Held: kept in the worker's burst (with their ring elements).
            while f.burst.move_front_to(&mut per_worker[0]) {}
        } else {
            let workers = self.rings.len();
            while let Some(m) = f.burst.front() {
                let w = worker_for(m, workers, self.symmetric);
                // Cannot fail: a worker burst holds a whole frame.
                if !f.burst.move_front_to(&mut per_worker[w]) {
                    drop(f.burst.pop_front());
                    refused += 1;
                }
            }
            let mut accepted = 0;
            for (w, b) in per_worker.iter_mut().enumerate() {
                if !b.is_empty() {
                    let (a, r) = self.enqueue(w, b, (&mut f.traces[..], &*f.traced));
                    accepted += a;
                    refused += r;
                }
            }
            f.counters.error(Reason::HandedOff, accepted);
        }
        self.per_worker = per_worker;
        if refused > 0 {
            f.counters.error(Reason::Congestion, refused);
        }
    }

    /// Whether packets wait for room in a full ring (backpressure).
    #[inline(always)]
    pub fn holding(&self) -> bool {
        self.per_worker.iter().any(|b| !b.is_empty())
    }

    /// Retries what is held, for a while (run it with `Frame::rerun`: these
    /// packets were counted when they came); once the run is told to stop,
    /// frees and counts it as congestion drops instead. Stalled path only.
    #[cold]
    pub fn retry_held(&mut self, f: &mut Frame) {
        self.stamp = f.clock();
        self.retrying = true;
        let (mut accepted, mut refused) = (0u64, 0u64);
        let mut per_worker = std::mem::take(&mut self.per_worker);
        for (w, b) in per_worker.iter_mut().enumerate() {
            if !b.is_empty() {
                // The frame's traced list is gone: a traced packet is found by its handle.
                let (a, r) = self.enqueue(w, b, (&mut f.traces[..], &TracedInBurst::default()));
                accepted += a;
                refused += r;
            }
        }
        self.per_worker = per_worker;
        self.retrying = false;
        f.counters.error(Reason::HandedOff, accepted);
        if refused > 0 {
            f.counters.error(Reason::Congestion, refused);
        }
    }

    /// Enqueues `b` to worker `w`; returns (accepted, refused-and-freed).
    /// With backpressure, what a full ring refuses is retried up to
    /// `HOLD_SPINS` times and then left in `b` (held), unless the run is
    /// stopping. A traced packet the ring refuses ends its trace with the drop.
    #[inline(always)]
    fn enqueue(&mut self, w: usize, b: &mut Burst, traced: (&mut [PacketTrace], &TracedInBurst)) -> (u64, u64) {
        let mut accepted = self.rings[w].enqueue(b) as u64;
        let mut stalls = 0u64;
        let stopping = || self.stop.load(Ordering::Relaxed);
        if self.backpressure && !b.is_empty() {
            // Hold rx until the worker makes room; give up only when stopping.
            while !b.is_empty() && stalls < HOLD_SPINS && !stopping() {
                std::hint::spin_loop();
                stalls += 1;
                accepted += self.rings[w].enqueue(b) as u64;
            }
            if !b.is_empty() && !stopping() {
                self.count_ring(w, Enqueued { accepted, dropped: 0, stalled: stalls });
                return (accepted, 0);
            }
        }
        // A held frame's traced list is gone: then any traced packet counts.
        let maybe_traced = !traced.1.is_empty() || self.retrying;
        if !b.is_empty() && maybe_traced && b.as_slice().iter().any(|m| m.is_traced()) {
            end_traces_at_congestion(b, traced);
        }
        let refused = b.free_all() as u64;
        self.count_ring(w, Enqueued { accepted, dropped: refused, stalled: stalls });
        (accepted, refused)
    }

    #[inline(always)]
    fn count_ring(&self, w: usize, e: Enqueued) {
        if let Some(s) = self.ring_stats.get(w) {
            s.enqueued(e, self.stamp);
        }
    }
}

/// Retries of a full ring before handoffdemo-1 returns and holds the rest
/// (well under a millisecond): the rx lcore then answers its mailbox and
/// sees a stop before it retries.
const HOLD_SPINS: u64 = 1024;

/// The traced packets of `refused` end their trace with a drop record
/// (`handoffdemo-1: handoff queue congestion drops`). Rare path.
#[cold]
fn end_traces_at_congestion(refused: &Burst, traced: (&mut [PacketTrace], &TracedInBurst)) {
    let (traces, list) = traced;
    let has_handle = |t: &PacketTrace, handle: u32| t.input().is_some_and(|(_, s)| s.trace_handle == handle);
    for m in refused.as_slice().iter().filter(|m| m.is_traced()) {
        let handle = m.trace_handle();
        let slot = if list.is_empty() {
            // A held frame's list is gone: the newest traces are searched.
            traces.iter().rposition(|t| has_handle(t, handle))
        } else {
            list.iter().map(|(_, slot)| slot).find(|&slot| traces.get(slot).is_some_and(|t| has_handle(t, handle)))
        };
        if let Some(t) = slot.and_then(|slot| traces.get_mut(slot)) {
            t.push(rdtsc(), Node::Drop, Record::Drop(error_drop::DropTrace { reason: Reason::Congestion }));
        }
    }
}

/// handoffdemo-2 on a worker: continues the trace of traced packets (with
/// handoff_trace's record first, as VPP does) and notes where they are in
/// the burst for the nodes after it.
#[inline]
pub fn second(f: &mut Frame, thread: ThreadId) {
    f.traced.clear();
    // One check per burst when tracing is off.
    if f.trace_limit == 0 {
        return;
    }
    let t0 = f.clock();
    for (i, m) in f.burst.as_mut_slice().iter_mut().enumerate() {
        if !m.is_traced() {
            continue;
        }
        let handle = m.trace_handle();
        m.clear_trace();
        if f.traces.len() >= f.trace_limit {
            continue;
        }
        let mut t = handoff_trace::continue_trace(handle, t0);
        t.push(t0, Node::HandoffDemo2, Record::HandoffDemo(Trace { thread: thread.0 }));
        f.traced.add(i, f.traces.len());
        f.traces.push(t);
    }
}
