//! The worker lcore: takes indices off its rings, runs handoffdemo-2, then
//! drops (error-drop -> drop, the seed) or transmits (interface-output).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::{rdtsc, Burst, RingConsumer, TxQueue, MAX_BURST};
use crate::trace::record::{RawPacketTrace, RawRecord, RecordKind};

use super::counters::{LcoreCounters, LoopWindow};
use super::nodes::{Node, Reason};

pub enum Output {
    /// error-drop -> drop, counting `completed packets`.
    Drop,
    /// interface-output on this tx queue.
    Port(TxQueue),
}

pub struct WorkerLcore {
    pub thread: u32,
    pub rings: Vec<RingConsumer>,
    /// Counters of the rx lcores feeding `rings`, same order: their `done`
    /// flag says no more will come.
    pub producers: Vec<Arc<LcoreCounters>>,
    pub output: Output,
    pub burst_size: usize,
    /// Traced packets this worker can record (sum of the rx lcores' limits).
    pub trace_capacity: usize,
    pub counters: Arc<LcoreCounters>,
    /// Set when the run must end at once (an lcore failed); normally workers
    /// end by draining after their producers are done.
    pub abort: Arc<AtomicBool>,
    /// Injected once, on the first burst, then cleared.
    pub fault: Option<Fault>,
}

/// Deliberate faults for testing the conservation check (HANDOFF_FAULT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forget one mbuf: it never returns to the pool.
    LeakMbuf,
    /// Free one packet without counting it anywhere.
    LosePacket,
    /// Panic in the worker's loop.
    PanicWorker,
}

impl Fault {
    pub fn from_env() -> Option<Fault> {
        match std::env::var("HANDOFF_FAULT").ok()?.as_str() {
            "leak-mbuf" => Some(Fault::LeakMbuf),
            "lose-packet" => Some(Fault::LosePacket),
            "panic-worker" => Some(Fault::PanicWorker),
            _ => None,
        }
    }
}

pub struct WorkerResult {
    pub traces: Vec<RawPacketTrace>,
}

/// Positions in a burst of traced packets and their slot in our buffer.
struct TracedInBurst {
    pos: [u16; MAX_BURST],
    slot: [u32; MAX_BURST],
    len: usize,
}

impl WorkerLcore {
    pub fn run(mut self) -> WorkerResult {
        let counters = self.counters.clone();
        let mut traces: Vec<RawPacketTrace> = Vec::with_capacity(self.trace_capacity);
        let mut burst = Burst::new();
        let mut traced = TracedInBurst { pos: [0; MAX_BURST], slot: [0; MAX_BURST], len: 0 };
        let mut window = LoopWindow::default();
        // Each burst passes every internal node of this worker once.
        let nodes = match self.output {
            Output::Drop => 3,
            Output::Port(_) => 2,
        };
        counters.start_tsc.store(rdtsc(), Ordering::Release);
        loop {
            // Read `done` before polling: if every producer was done then, a
            // poll that finds all rings empty means nothing more can come.
            let producers_done = self.producers.iter().all(|p| p.done.load(Ordering::Acquire));
            let (mut got, mut bursts) = (0u64, 0u64);
            for r in 0..self.rings.len() {
                let n = self.rings[r].dequeue(&mut burst, self.burst_size);
                if n == 0 {
                    continue;
                }
                got += n as u64;
                bursts += 1;
                self.process(&mut burst, &mut traces, &mut traced);
            }
            window.end_loop(got * nodes, bursts * nodes, &counters);
            if got == 0 && producers_done {
                break;
            }
            if self.abort.load(Ordering::Relaxed) {
                break;
            }
        }
        window.finish(&counters);
        counters.end_tsc.store(rdtsc(), Ordering::Release);
        counters.done.store(true, Ordering::Release);
        WorkerResult { traces }
    }

    fn process(&mut self, burst: &mut Burst, traces: &mut Vec<RawPacketTrace>, traced: &mut TracedInBurst) {
        if let Some(fault) = self.fault.take() {
            if let Some(m) = burst.pop_front() {
                match fault {
                    Fault::LeakMbuf => {
                        // Counted as completed, but never freed.
                        self.counters.error(Reason::Completed, 1);
                        std::mem::forget(m);
                    }
                    Fault::LosePacket => drop(m),
                    Fault::PanicWorker => panic!("injected fault (HANDOFF_FAULT=panic-worker)"),
                }
            }
            if burst.is_empty() {
                return;
            }
        }
        let n = burst.len() as u64;
        let t0 = rdtsc();
        traced.len = 0;
        // One check per burst when tracing is off.
        if self.trace_capacity > 0 {
            for (i, m) in burst.as_mut_slice().iter_mut().enumerate() {
                if !m.is_traced() {
                    continue;
                }
                let handle = m.trace_handle();
                m.clear_trace();
                if traces.len() >= self.trace_capacity {
                    continue;
                }
                let mut t = RawPacketTrace::default();
                // handoff_trace shares the next node's timestamp, as in VPP.
                t.push(RawRecord {
                    tsc: t0,
                    node: Node::HandoffTrace,
                    kind: RecordKind::HandedOff { from_thread: handle >> 24, trace_index: handle & 0x00ff_ffff },
                });
                t.push(RawRecord {
                    tsc: t0,
                    node: Node::HandoffDemo2,
                    kind: RecordKind::HandoffDemo { thread: self.thread },
                });
                traced.pos[traced.len] = i as u16;
                traced.slot[traced.len] = traces.len() as u32;
                traced.len += 1;
                traces.push(t);
            }
        }
        let t1 = rdtsc();
        self.counters.node(Node::HandoffDemo2, 1, n, t1 - t0);

        match &mut self.output {
            Output::Drop => {
                // error-drop: every packet carries `completed packets`.
                for k in 0..traced.len {
                    let pos = traced.pos[k] as usize;
                    let port = burst.as_slice()[pos].port();
                    traces[traced.slot[k] as usize].push(RawRecord {
                        tsc: t1,
                        node: Node::ErrorDrop,
                        kind: RecordKind::ErrorDrop { rx_port: port },
                    });
                }
                let t2 = rdtsc();
                self.counters.node(Node::ErrorDrop, 1, n, t2 - t1);
                // drop: counts the error where the packet dies, as VPP's drop node does.
                for k in 0..traced.len {
                    traces[traced.slot[k] as usize].push(RawRecord {
                        tsc: t2,
                        node: Node::Drop,
                        kind: RecordKind::Drop { reason: Reason::Completed },
                    });
                }
                let freed = burst.free_all() as u64;
                self.counters.error(Reason::Completed, freed);
                self.counters.node(Node::Drop, 1, n, rdtsc() - t2);
            }
            Output::Port(txq) => {
                for k in 0..traced.len {
                    traces[traced.slot[k] as usize].push(RawRecord {
                        tsc: t1,
                        node: Node::InterfaceOutput,
                        kind: RecordKind::Output { port: txq.port, queue: txq.queue },
                    });
                }
                let sent = txq.tx_burst(burst) as u64;
                super::counters::bump(&self.counters.transmitted, sent);
                let refused = burst.free_all() as u64;
                if refused > 0 {
                    self.counters.error(Reason::TxRefused, refused);
                }
                self.counters.node(Node::InterfaceOutput, 1, n, rdtsc() - t1);
            }
        }
    }
}
