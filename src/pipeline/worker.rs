//! The worker lcore's loop: takes indices off its rings, then runs its
//! chain (handoffdemo-2, then error-drop -> drop, or interface-output).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::{rdtsc, Buffers, Burst, RingConsumer, RingProducer, MAX_BURST};
use crate::ids::ThreadId;
use crate::nodes::chain::WorkerChain;
use crate::nodes::counters::{LcoreCounters, LoopWindow};
use crate::nodes::frame::{Frame, FrameParts};
use crate::nodes::ring_stats::RingStats;
use crate::nodes::{PacketTrace, TracedInBurst};

use super::live::{Mailbox, Reply, Request};

/// Bursts a worker takes off a ring at once.
const WORKER_DEQUEUE_BURSTS: usize = 4;

pub struct WorkerLcore {
    pub thread: ThreadId,
    pub rings: Vec<RingConsumer>,
    /// Per ring (same order), the return ring to its rx lcore.
    pub give_back: Vec<RingProducer>,
    /// Counters of the rx lcores feeding `rings`, same order: their `done`
    /// flag says no more will come.
    pub producers: Vec<Arc<LcoreCounters>>,
    /// handoffdemo-2 and the nodes after it, built at launch from the plan.
    pub chain: WorkerChain,
    /// For returning dropped mbufs to their pools.
    pub buffers: Arc<Buffers>,
    pub burst_size: usize,
    /// Traced packets this worker can still record in its buffer (sum of
    /// the rx lcores' limits; the control socket re-arms it).
    pub trace_capacity: usize,
    /// Requests of the control socket (live trace, ring waits), read once per loop.
    pub mailbox: Arc<Mailbox>,
    /// Per ring (same order as `rings`): its counters and burst stamps, and
    /// the histogram of its waits this worker owns.
    pub ring_stats: Vec<Arc<RingStats>>,
    pub waits: Vec<hdrhistogram::Histogram<u64>>,
    pub counters: Arc<LcoreCounters>,
    /// Set when the run must end at once (an lcore failed); normally workers
    /// end by draining after their producers are done.
    pub abort: Arc<AtomicBool>,
    /// Set when the run is told to stop (duration, signal): a tail held for
    /// a tx retry is then freed and counted instead of retried.
    pub stop: Arc<AtomicBool>,
    /// Injected once, on the first burst (tests only).
    #[cfg(feature = "fault-injection")]
    pub fault: Option<Fault>,
}

/// Deliberate faults for testing the conservation check and panic
/// containment: `HANDOFF_FAULT`, read only in builds with the
/// `fault-injection` feature (the tests').
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forget one mbuf: it never returns to the pool.
    LeakMbuf,
    /// Free one packet without counting it anywhere.
    LosePacket,
    /// Panic in the worker's loop.
    PanicWorker,
}

#[cfg(feature = "fault-injection")]
impl Fault {
    pub fn from_env() -> Option<Fault> {
        match std::env::var("HANDOFF_FAULT").ok()?.as_str() {
            "leak-mbuf" => Some(Fault::LeakMbuf),
            "lose-packet" => Some(Fault::LosePacket),
            "panic-worker" => Some(Fault::PanicWorker),
            _ => None,
        }
    }

    fn inject(self, burst: &mut Burst, counters: &LcoreCounters) {
        if let Some(m) = burst.pop_front() {
            match self {
                Fault::LeakMbuf => {
                    // Counted as completed, but never freed.
                    counters.error(crate::nodes::Reason::Completed, 1);
                    std::mem::forget(m);
                }
                Fault::LosePacket => drop(m),
                Fault::PanicWorker => panic!("injected fault (HANDOFF_FAULT=panic-worker)"),
            }
        }
    }
}

pub struct WorkerResult {
    pub traces: Vec<PacketTrace>,
    /// Per ring, how long its packets waited (TSC cycles, per burst).
    pub waits: Vec<hdrhistogram::Histogram<u64>>,
}

impl WorkerLcore {
    pub fn run(mut self) -> WorkerResult {
        let counters = self.counters.clone();
        // The trace buffer and the burst are allocated here, before the loop.
        let mut traces: Vec<PacketTrace> = Vec::with_capacity(self.trace_capacity);
        let mut burst = Burst::new();
        let mut traced = TracedInBurst::default();
        let mut window = LoopWindow::default();
        counters.start_tsc.store(rdtsc(), Ordering::Release);
        loop {
            // Read `done` before polling: if every producer was done then, a
            // poll that finds all rings empty means nothing more can come.
            let producers_done = self.producers.iter().all(|p| p.done.load(Ordering::Acquire));
            let (mut got, mut ran) = (0u64, (0u64, 0u64));
            let mut holding = self.chain.holding(&burst);
            // The rings are polled only when nothing is held.
            let polled = !holding;
            if holding {
                // Nothing is read from the rings meanwhile: they back up and rx stalls.
                holding = self.retry_or_free_held(&mut burst, &mut traces, &mut traced);
            } else {
                for r in 0..self.rings.len() {
                    // Up to four bursts at once: fewer, fuller vectors when the ring backs up.
                    let n = self.rings[r].dequeue(&mut burst, (self.burst_size * WORKER_DEQUEUE_BURSTS).min(MAX_BURST));
                    if n == 0 {
                        continue;
                    }
                    if let Some(stats) = self.ring_stats.get(r) {
                        let left = u64::from(self.rings[r].left_after_dequeue());
                        stats.dequeued((n as u64, left), rdtsc(), &mut self.waits[r]);
                    }
                    got += n as u64;
                    let (calls, vectors) = self.process(r, &mut burst, (&mut traces, &mut traced));
                    ran = (ran.0 + calls, ran.1 + vectors);
                    holding = self.chain.holding(&burst);
                    if holding {
                        break;
                    }
                }
            }
            window.end_loop(ran.1, ran.0, &counters);
            if self.mailbox.has_request() {
                self.serve(&mut traces);
                // A held tail's traced slots pointed into the buffer just handed over.
                traced.clear();
                self.chain.forget_traced();
            }
            if polled && got == 0 && producers_done && !holding {
                break;
            }
            if self.abort.load(Ordering::Relaxed) {
                if holding {
                    let (traces, traced) = (&mut traces, &mut traced);
                    let parts = FrameParts {
                        traced,
                        traces,
                        trace_limit: self.trace_capacity,
                        counters: &self.counters,
                        buffers: &self.buffers,
                        give_back: None,
                    };
                    self.chain.drop_held(&mut Frame::new(&mut burst, parts));
                }
                break;
            }
        }
        window.finish(&counters);
        counters.end_tsc.store(rdtsc(), Ordering::Release);
        WorkerResult { traces, waits: std::mem::take(&mut self.waits) }
    }

    /// Retries the held tail once, or frees it when the run was told to
    /// stop; returns whether a tail is still held. Only runs while stalled.
    #[cold]
    fn retry_or_free_held(
        &mut self,
        burst: &mut Burst,
        traces: &mut Vec<PacketTrace>,
        traced: &mut TracedInBurst,
    ) -> bool {
        let stopping = self.stop.load(Ordering::Relaxed) || self.abort.load(Ordering::Relaxed);
        let parts = FrameParts {
            traced,
            traces,
            trace_limit: self.trace_capacity,
            counters: &self.counters,
            buffers: &self.buffers,
            give_back: None,
        };
        let mut f = Frame::new(burst, parts);
        if stopping {
            self.chain.drop_held(&mut f);
            return false;
        }
        self.chain.retry_held(&mut f)
    }

    /// A request of the control socket: swaps the trace buffer, or copies
    /// the ring waits into the histograms it brought (no allocation here).
    #[cold]
    fn serve(&mut self, traces: &mut Vec<PacketTrace>) {
        let Some(request) = self.mailbox.take() else { return };
        let reply = match request {
            Request::Trace { buffer, arm } => {
                let old = std::mem::replace(traces, buffer);
                self.trace_capacity = match arm {
                    Some(a) => a.limit as usize,
                    None => self.trace_capacity.saturating_sub(old.len()),
                };
                Reply::Trace { traces: old, old_filter: None }
            }
            Request::Waits(mut copies) => {
                for (copy, w) in copies.iter_mut().zip(&self.waits) {
                    copy.reset();
                    let _ = copy.add(w);
                }
                Reply::Waits(copies)
            }
        };
        self.mailbox.answer(reply);
    }

    /// Runs the worker's chain on a burst; returns the internal-node
    /// (calls, vectors) it ran, for the loop window.
    #[inline]
    fn process(
        &mut self,
        ring: usize,
        burst: &mut Burst,
        (traces, traced): (&mut Vec<PacketTrace>, &mut TracedInBurst),
    ) -> (u64, u64) {
        #[cfg(feature = "fault-injection")]
        if let Some(fault) = self.fault.take() {
            fault.inject(burst, &self.counters);
            if burst.is_empty() {
                return (0, 0);
            }
        }
        let parts = FrameParts {
            traced,
            traces,
            trace_limit: self.trace_capacity,
            counters: &self.counters,
            buffers: &self.buffers,
            give_back: self.give_back.get_mut(ring),
        };
        let mut f = Frame::new(burst, parts);
        self.chain.process(&mut f);
        f.ran()
    }
}
