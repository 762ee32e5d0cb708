//! The rx lcore: dpdk-input polls its (port, queue) pairs, handoffdemo-1
//! hands each packet's index to a worker's ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::dpdk::{rdtsc, Buffers, Burst, RingProducer, RxQueue};
use crate::trace::record::{InputSnapshot, RawPacketTrace, RawRecord, RecordKind, TRACE_DATA_BYTES};

use super::counters::{LcoreCounters, LoopWindow};
use super::flow_hash::worker_for;
use super::nodes::{Node, Reason};

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
    pub thread: u32,
    pub queues: Vec<InputQueue>,
    /// One ring per worker, indexed by worker number.
    pub rings: Vec<RingProducer>,
    pub burst_size: usize,
    pub backpressure: bool,
    pub symmetric: bool,
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
    let s = crate::dpdk::port::stats(q.rxq.port);
    q.received + s.rx_nombuf + s.rx_missed + s.rx_errors >= expected
}

/// What an rx lcore hands back when it ends.
pub struct RxResult {
    pub traces: Vec<RawPacketTrace>,
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
        // Trace buffer and per-worker bursts are allocated here, before the loop.
        let mut traces: Vec<RawPacketTrace> = Vec::with_capacity(self.trace_limit as usize);
        let mut burst = Burst::new();
        let mut per_worker: Vec<Burst> = (0..self.rings.len()).map(|_| Burst::new()).collect();
        let mut window = LoopWindow::default();
        let counters = self.counters.clone();
        counters.start_tsc.store(rdtsc(), Ordering::Release);

        while !self.stop.load(Ordering::Relaxed) {
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
                let t0 = rdtsc();
                let n = self.queues[qi].rxq.rx_burst(&mut burst, want);
                let t1 = rdtsc();
                counters.node(Node::DpdkInput, 1, n as u64, t1 - t0);
                self.return_budget(want - n);
                let q = &mut self.queues[qi];
                if n == 0 {
                    if let Some(expected) = q.expected {
                        q.exhausted = q.received >= expected || input_lost_the_rest(q, expected, t1, self.tsc_hz);
                    }
                    continue;
                }
                q.stalled_since = None;
                q.received += n as u64;
                let (port, queue) = (q.rxq.port, q.rxq.queue);
                let traced = if (traces.len() as u32) < self.trace_limit {
                    self.trace_input(&mut burst, &mut traces, port, queue, t1)
                } else {
                    0
                };
                self.handoffdemo_1(&mut burst, &mut per_worker, &mut traces, traced, t1);
                loop_vectors += n as u64;
                loop_calls += 1;
            }
            window.end_loop(loop_vectors, loop_calls, &counters);
            let budget_spent = self.budget.as_ref().is_some_and(|b| b.load(Ordering::Relaxed) == 0);
            if !live || budget_spent {
                break;
            }
        }
        counters.input_exhausted.store(self.queues.iter().all(|q| q.exhausted), Ordering::Release);
        window.finish(&counters);
        let inputs = self
            .queues
            .iter()
            .map(|q| InputEnd { port: q.rxq.port, queue: q.rxq.queue, received: q.received, exhausted: q.exhausted })
            .collect();
        RxResult { traces, inputs }
    }

    /// Takes up to a burst from the shared `--count` budget.
    #[inline(always)]
    fn claim_budget(&self) -> usize {
        let Some(budget) = &self.budget else {
            return self.burst_size;
        };
        let mut cur = budget.load(Ordering::Relaxed);
        loop {
            let take = cur.min(self.burst_size as u64);
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

    /// dpdk-input's trace: marks and records packets (those the filter
    /// accepts) until the limit; returns how many of this burst it traced.
    fn trace_input(
        &self,
        burst: &mut Burst,
        traces: &mut Vec<RawPacketTrace>,
        port: u16,
        queue: u16,
        tsc: u64,
    ) -> usize {
        let mut traced = 0;
        for m in burst.as_mut_slice().iter_mut() {
            if traces.len() >= self.trace_limit as usize {
                break;
            }
            if self.trace_filter.as_ref().is_some_and(|f| !f.filter(m.data())) {
                continue;
            }
            let index = traces.len() as u32;
            let handle = (self.thread << 24) | (index & 0x00ff_ffff);
            m.set_trace(handle);
            let (l2, l3, ol2, ol3) = m.header_lens();
            let data = m.data();
            let captured = data.len().min(TRACE_DATA_BYTES);
            let mut snap = InputSnapshot {
                buffer_index: m.buffer_index(),
                trace_handle: handle,
                port,
                queue,
                pool: self.buffers.pool_of_index(m.buffer_index()),
                refcnt: m.refcnt(),
                nb_segs: m.nb_segs(),
                pkt_len: m.pkt_len(),
                data_len: m.data_len(),
                buf_len: m.buf_len(),
                data_off: m.data_off(),
                ol_flags: m.ol_flags(),
                buf_iova: m.buf_iova(),
                packet_type: m.packet_type(),
                l2_len: l2,
                l3_len: l3,
                outer_l2_len: ol2,
                outer_l3_len: ol3,
                rss: m.rss_hash(),
                fdir_hi: m.fdir_hi(),
                captured: captured as u16,
                data: [0; TRACE_DATA_BYTES],
            };
            snap.data[..captured].copy_from_slice(&data[..captured]);
            let mut t = RawPacketTrace::default();
            t.push(RawRecord { tsc, node: Node::DpdkInput, kind: RecordKind::Input(snap) });
            traces.push(t);
            traced += 1;
        }
        traced
    }

    /// handoffdemo-1: hands every packet to its worker's ring. What a full
    /// ring refuses is freed and counted (VPP's drop-on-congestion), or
    /// retried with `--backpressure`.
    fn handoffdemo_1(
        &mut self,
        burst: &mut Burst,
        per_worker: &mut [Burst],
        traces: &mut [RawPacketTrace],
        traced: usize,
        t0: u64,
    ) {
        let n = burst.len() as u64;
        if traced > 0 {
            let first = traces.len() - traced;
            for t in &mut traces[first..] {
                t.push(RawRecord {
                    tsc: t0,
                    node: Node::HandoffDemo1,
                    kind: RecordKind::HandoffDemo { thread: self.thread },
                });
            }
        }
        let mut accepted = 0u64;
        let mut refused = 0u64;
        if self.rings.len() == 1 {
            let (a, r) = self.enqueue(0, burst);
            accepted += a;
            refused += r;
        } else {
            let workers = self.rings.len();
            while let Some(m) = burst.pop_front() {
                let w = worker_for(&m, workers, self.symmetric);
                if let Err(m) = per_worker[w].push(m) {
                    drop(m); // cannot happen: a worker burst holds a whole rx burst
                    refused += 1;
                }
            }
            for (w, b) in per_worker.iter_mut().enumerate() {
                if !b.is_empty() {
                    let (a, r) = self.enqueue(w, b);
                    accepted += a;
                    refused += r;
                }
            }
        }
        self.counters.error(Reason::HandedOff, accepted);
        if refused > 0 {
            self.counters.error(Reason::Congestion, refused);
        }
        self.counters.node(Node::HandoffDemo1, 1, n, rdtsc() - t0);
    }

    /// Enqueues `b` to worker `w`; returns (accepted, refused-and-freed).
    #[inline(always)]
    fn enqueue(&mut self, w: usize, b: &mut Burst) -> (u64, u64) {
        let mut accepted = self.rings[w].enqueue(b) as u64;
        if self.backpressure {
            // Hold rx until the worker makes room; give up only when stopping.
            while !b.is_empty() && !self.stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
                accepted += self.rings[w].enqueue(b) as u64;
            }
        }
        (accepted, b.free_all() as u64)
    }
}
