//! Launch: builds each lcore's job from the set-up and starts them, workers
//! first so the rings drain from the first packet. Whatever can fail before
//! a packet moves (the trace filter's compile) is done before the first
//! lcore starts; an lcore that cannot start stops the others.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use crossbeam_channel::{Receiver, Sender};

use crate::dpdk::{self, DpdkError, Eal, LcoreEnd, LcoreJob};
use crate::nodes::counters::LcoreCounters;
use crate::nodes::handoffdemo::Handoff;

use super::rx::{RxLcore, RxResult};
use super::setup::Setup;
use super::worker::{Output, WorkerLcore, WorkerResult};
use super::Plan;

/// What thread 0 and the lcores share.
pub struct Shared {
    /// Rx lcores stop receiving; workers drain and end.
    pub stop: Arc<AtomicBool>,
    /// Everyone ends at once (an lcore failed).
    pub abort: Arc<AtomicBool>,
    /// Per thread, in topology order (rx lcores first).
    pub counters: Vec<Arc<LcoreCounters>>,
    pub done_tx: Sender<LcoreEnd>,
    pub done_rx: Receiver<LcoreEnd>,
}

impl Shared {
    pub fn new(plan: &Plan) -> Shared {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Shared {
            stop: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(AtomicBool::new(false)),
            counters: plan.topology.threads().iter().map(|_| Arc::new(LcoreCounters::default())).collect(),
            done_tx,
            done_rx,
        }
    }

    pub fn rx_counters(&self, plan: &Plan) -> &[Arc<LcoreCounters>] {
        &self.counters[..plan.topology.rx().len()]
    }
}

pub struct Launched {
    pub rx: Vec<LcoreJob<RxResult>>,
    pub workers: Vec<LcoreJob<WorkerResult>>,
    /// The lcore that could not start, if one could not.
    pub error: Option<DpdkError>,
}

pub fn launch(eal: &Eal, plan: &Plan, setup: &mut Setup, shared: &Shared) -> Result<Launched> {
    let topo = &plan.topology;
    let n_rx = topo.rx().len();
    let mut filters = Vec::with_capacity(n_rx);
    for _ in 0..n_rx {
        filters.push(plan.trace_filter.as_deref().map(crate::trace::filter::compile).transpose()?);
    }
    let budget = plan.count.map(|c| Arc::new(AtomicU64::new(c)));
    let rx_counters = shared.rx_counters(plan).to_vec();
    let tsc_hz = eal.tsc_hz();
    let mut launched = Launched { rx: Vec::new(), workers: Vec::new(), error: None };

    for (thread, rings) in topo.workers().iter().zip(std::mem::take(&mut setup.consumers)) {
        let w = thread.id.0 as usize - n_rx - 1;
        let output = match setup.output_port {
            None => Output::Drop,
            Some(id) => Output::Port(
                setup.ports.iter().find(|p| p.info().id == id).expect("the output port is set up").tx_queue(w as u16),
            ),
        };
        let job = WorkerLcore {
            thread: thread.id,
            rings,
            producers: rx_counters.clone(),
            output,
            buffers: setup.buffers.clone(),
            burst_size: plan.burst,
            trace_capacity: plan.trace as usize * n_rx,
            counters: shared.counters[n_rx + w].clone(),
            abort: shared.abort.clone(),
            #[cfg(feature = "fault-injection")]
            fault: super::worker::Fault::from_env(),
        };
        match dpdk::launch(eal, thread.lcore.0, shared.done_tx.clone(), move || job.run()) {
            Ok(j) => launched.workers.push(j),
            Err(e) => {
                launched.error = Some(e);
                break;
            }
        }
    }
    if launched.error.is_none() {
        let queues = std::mem::take(&mut setup.queues);
        let producers = std::mem::take(&mut setup.producers);
        for ((thread, (queues, rings)), filter) in topo.rx().iter().zip(queues.into_iter().zip(producers)).zip(filters)
        {
            let r = thread.id.0 as usize - 1;
            let job = RxLcore {
                thread: thread.id,
                queues,
                handoff: Handoff::new(thread.id, rings, plan.backpressure, plan.symmetric, shared.stop.clone()),
                burst_size: plan.burst,
                budget: budget.clone(),
                trace_limit: plan.trace,
                trace_filter: filter,
                counters: shared.counters[r].clone(),
                stop: shared.stop.clone(),
                buffers: setup.buffers.clone(),
                tsc_hz,
            };
            match dpdk::launch(eal, thread.lcore.0, shared.done_tx.clone(), move || job.run()) {
                Ok(j) => launched.rx.push(j),
                Err(e) => {
                    launched.error = Some(e);
                    break;
                }
            }
        }
    }
    if launched.error.is_some() {
        shared.stop.store(true, Ordering::Release);
        // Producers not launched will never say they are done.
        for c in rx_counters.iter().skip(launched.rx.len()) {
            c.done.store(true, Ordering::Release);
        }
    }
    Ok(launched)
}
