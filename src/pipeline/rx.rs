//! The rx lcore's loop: dpdk-input polls each of its (port, queue) pairs,
//! handoffdemo-1 hands each packet's index to a worker's ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::dpdk::{rdtsc, Buffers, Burst, RingConsumer, RxQueue};
use crate::ids::ThreadId;
use crate::nodes::counters::{LcoreCounters, LoopWindow};
use crate::nodes::dpdk_input::{self, Tracer};
use crate::nodes::frame::{Frame, FrameParts};
use crate::nodes::handoffdemo::Handoff;
use crate::nodes::{Node, PacketTrace, TracedInBurst};

/// The nodes an rx lcore runs, in order (its loop below).
pub const NODES: &[Node] = &[Node::DpdkInput, Node::HandoffDemo1];

use super::live::{Mailbox, Reply, Request};

/// One polled queue, with how many packets its finite input holds.
pub struct InputQueue {
    pub rxq: RxQueue,
    /// Packets a finite input (rx_pcap file) holds; None for live inputs.
    pub expected: Option<u64>,
    pub received: u64,
    pub exhausted: bool,
    /// TSC of the first empty poll while packets were still expected.
    pub stalled_since: Option<u64>,
}

pub struct RxLcore {
    pub thread: ThreadId,
    pub queues: Vec<InputQueue>,
    /// handoffdemo-1: the rings to the workers.
    pub handoff: Handoff,
    pub burst_size: usize,
    /// Packets gathered per frame (polling `burst_size` at a time).
    pub frame_size: usize,
    /// Shared budget of packets still to receive (`--count`).
    pub budget: Option<Arc<AtomicU64>>,
    /// Packets to trace from the start (`--trace N`).
    pub trace_limit: u32,
    /// Only packets this BPF program accepts are traced (`--trace-filter`).
    pub trace_filter: Option<pcap::BpfProgram>,
    pub counters: Arc<LcoreCounters>,
    pub stop: Arc<AtomicBool>,
    pub buffers: Arc<Buffers>,
    pub tsc_hz: u64,
    /// Requests of the control socket (live trace), read once per loop.
    pub mailbox: Arc<Mailbox>,
    /// Trace index of the first packet of the current trace buffer (the
    /// buffers before it went to the control socket).
    pub trace_base: u32,
    /// Return rings from the workers: mbufs they freed, put back into this
    /// lcore's pool cache before it polls, so the next rx burst reuses
    /// mbufs whose lines this CPU still holds (instead of the pool's
    /// oldest, through its common ring).
    pub take_back: Vec<RingConsumer>,
}

/// A finite input that stays empty for 100 ms while packets are missing has
/// lost them before dpdk-input (net_pcap drops a packet when no mbuf is
/// free): when the port's loss counters cover the gap, the input is done.
/// Rare path: only runs on empty polls at the end of a file.
fn input_lost_the_rest(q: &mut InputQueue, expected: u64, now: u64, tsc_hz: u64) -> bool {
    let since = *q.stalled_since.get_or_insert(now);
    if now.saturating_sub(since) < tsc_hz / 10 {
        return false;
    }
    q.stalled_since = Some(now);
    let s = crate::dpdk::port::stats(q.rxq.port());
    q.received + s.rx_nombuf + s.rx_missed + s.rx_errors >= expected
}

/// What an rx lcore hands back when it ends.
pub struct RxResult {
    pub traces: Vec<PacketTrace>,
    pub inputs: Vec<InputEnd>,
}

/// How far one polled queue got.
#[derive(Clone, Copy, Debug)]
pub struct InputEnd {
    pub port: u16,
    pub queue: u16,
    pub received: u64,
    /// A finite input that ended (read to its end, or found to have lost the rest).
    pub exhausted: bool,
}

/// Marks the lcore done even if its loop panics, so workers still drain.
struct DoneGuard(Arc<LcoreCounters>);
impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.end_tsc.store(rdtsc(), Ordering::Release);
        self.0.done.store(true, Ordering::Release);
    }
}

impl RxLcore {
    pub fn run(mut self) -> RxResult {
        let _done = DoneGuard(self.counters.clone());
        // The trace buffer and the bursts are allocated here, before the loop.
        let mut traces: Vec<PacketTrace> = Vec::with_capacity(self.trace_limit as usize);
        let mut burst = Burst::new();
        let mut window = LoopWindow::default();
        let counters = self.counters.clone();
        counters.start_tsc.store(rdtsc(), Ordering::Release);

        let mut traced = TracedInBurst::default();
        while !self.stop.load(Ordering::Relaxed) {
            if self.handoff.holding() {
                // A full ring (backpressure): nothing new is polled until
                // the held packets are in; meanwhile the mailbox is served.
                self.retry_held(&mut burst, (&mut traces, &mut traced));
                window.end_loop(0, 0, &counters);
                if self.mailbox.has_request() {
                    self.serve(&mut traces);
                }
                continue;
            }
            let (mut loop_vectors, mut loop_calls) = (0u64, 0u64);
            let mut live = false;
            for qi in 0..self.queues.len() {
                if self.queues[qi].exhausted {
                    continue;
                }
                live = true;
                let want = match self.claim_budget() {
                    0 => break,
                    n => n,
                };
                let (n, now) = self.poll_and_hand_off(qi, want, (&mut burst, &mut traces, &mut traced));
                self.return_budget(want - n);
                let q = &mut self.queues[qi];
                if n == 0 {
                    if let Some(expected) = q.expected {
                        q.exhausted = q.received >= expected || input_lost_the_rest(q, expected, now, self.tsc_hz);
                    }
                    continue;
                }
                q.stalled_since = None;
                q.received += n as u64;
                loop_vectors += n as u64;
                loop_calls += 1;
            }
            window.end_loop(loop_vectors, loop_calls, &counters);
            if self.mailbox.has_request() {
                self.serve(&mut traces);
            }
            let budget_spent = self.budget.as_ref().is_some_and(|b| b.load(Ordering::Relaxed) == 0);
            if (!live || budget_spent) && !self.handoff.holding() {
                break;
            }
        }
        // Told to stop while holding: the held packets are freed and counted.
        if self.handoff.holding() {
            self.retry_held(&mut burst, (&mut traces, &mut traced));
        }
        counters.input_exhausted.store(self.queues.iter().all(|q| q.exhausted), Ordering::Release);
        window.finish(&counters);
        let inputs = self
            .queues
            .iter()
            .map(|q| InputEnd {
                port: q.rxq.port(),
                queue: q.rxq.queue(),
                received: q.received,
                exhausted: q.exhausted,
            })
            .collect();
        RxResult { traces, inputs }
    }

    /// dpdk-input on queue `qi` (a frame of up to `want` packets, tracing those the
    /// tracer picks), then handoffdemo-1 on what came; returns how many
    /// came, and when dpdk-input ended.
    #[inline(always)]
    fn poll_and_hand_off(
        &mut self,
        qi: usize,
        want: usize,
        (burst, traces, traced): (&mut Burst, &mut Vec<PacketTrace>, &mut TracedInBurst),
    ) -> (usize, u64) {
        traced.clear();
        let parts = FrameParts {
            traced,
            traces,
            trace_limit: self.trace_limit as usize,
            counters: &self.counters,
            buffers: &self.buffers,
            give_back: None,
        };
        let mut f = Frame::new(burst, parts);
        let tracer = Tracer { thread: self.thread, filter: self.trace_filter.as_ref(), base: self.trace_base };
        let tracing = self.trace_limit > 0;
        let rxq = &mut self.queues[qi].rxq;
        let poll = dpdk_input::Poll { burst: self.burst_size, frame: want };
        let take_back = &mut self.take_back;
        f.run(Node::DpdkInput, |f| {
            // The workers' freed mbufs first, into this lcore's pool cache,
            // where the PMD's allocation takes them from: a frame's worth,
            // what the frame's polls will take, so the cache (256) neither
            // runs dry (refilling with the pool's oldest, cold mbufs) nor
            // passes its flush mark (where DPDK pushes the newest, warm
            // ones out to the common ring).
            debug_assert!(f.burst.is_empty());
            for r in take_back.iter_mut() {
                if r.dequeue(f.burst, poll.frame) > 0 {
                    f.buffers.free_burst(f.burst);
                }
            }
            dpdk_input::process(rxq, f, poll, tracing.then_some(&tracer))
        });
        let (n, now) = (f.burst.len(), f.clock());
        if n > 0 {
            f.run(Node::HandoffDemo1, |f| self.handoff.process(f));
        }
        (n, now)
    }

    /// handoffdemo-1 again on what it holds (see `Handoff::retry_held`).
    #[cold]
    fn retry_held(&mut self, burst: &mut Burst, (traces, traced): (&mut Vec<PacketTrace>, &mut TracedInBurst)) {
        traced.clear();
        let parts = FrameParts {
            traced,
            traces,
            trace_limit: self.trace_limit as usize,
            counters: &self.counters,
            buffers: &self.buffers,
            give_back: None,
        };
        let mut f = Frame::new(burst, parts);
        f.rerun(Node::HandoffDemo1, |f| self.handoff.retry_held(f));
    }

    /// A request of the control socket: swaps the trace buffer for the one
    /// it brought (re-arming the tracer or not) and hands the old one back.
    #[cold]
    fn serve(&mut self, traces: &mut Vec<PacketTrace>) {
        let Some(request) = self.mailbox.take() else { return };
        let reply = match request {
            Request::Trace { buffer, arm } => {
                let old = std::mem::replace(traces, buffer);
                self.trace_base = self.trace_base.wrapping_add(old.len() as u32);
                let old_filter = match arm {
                    Some(a) => {
                        self.trace_limit = a.limit;
                        std::mem::replace(&mut self.trace_filter, a.filter)
                    }
                    None => {
                        self.trace_limit = self.trace_limit.saturating_sub(old.len() as u32);
                        None
                    }
                };
                Reply::Trace { traces: old, old_filter }
            }
            Request::Waits(h) => Reply::Waits(h),
        };
        self.mailbox.answer(reply);
    }

    /// Takes up to a frame from the shared `--count` budget.
    #[inline(always)]
    fn claim_budget(&self) -> usize {
        let Some(budget) = &self.budget else {
            return self.frame_size;
        };
        let mut cur = budget.load(Ordering::Relaxed);
        loop {
            let take = cur.min(self.frame_size as u64);
            if take == 0 {
                return 0;
            }
            match budget.compare_exchange_weak(cur, cur - take, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return take as usize,
                Err(now) => cur = now,
            }
        }
    }

    #[inline(always)]
    fn return_budget(&self, unused: usize) {
        if let (Some(budget), true) = (&self.budget, unused > 0) {
            budget.fetch_add(unused as u64, Ordering::Relaxed);
        }
    }
}
