//! Launch: builds each lcore's job from the set-up and starts them, workers
//! first so the rings drain from the first packet. Whatever can fail before
//! a packet moves (the trace filter's compile) is done before the first
//! lcore starts; an lcore that cannot start stops the others.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use crossbeam_channel::{Receiver, Sender};

use crate::dpdk::{self, DpdkError, Eal, LcoreEnd, LcoreJob};
use crate::ids::{PortId, QueueId};
use crate::nodes::counters::LcoreCounters;
use crate::nodes::handoffdemo::Handoff;

use crate::nodes::chain::{ErrorDrop, Step, WorkerChain};
use crate::nodes::interface_output::{PairOutput, TxOutput, TxRetry};
use crate::nodes::mac_rewrite::{MacRewrite, TxPorts};
use crate::nodes::ring_stats::{self, RingStats};
use crate::nodes::Node;

use crate::ids::ThreadId;

use super::live::ThreadState;
use super::rx::{RxLcore, RxResult};
use super::setup::Setup;
use super::topology::RingId;
use super::worker::{WorkerLcore, WorkerResult};
use super::Plan;

/// What thread 0 and the lcores share.
pub struct Shared {
    /// Rx lcores stop receiving; workers drain and end.
    pub stop: Arc<AtomicBool>,
    /// Everyone ends at once (an lcore failed).
    pub abort: Arc<AtomicBool>,
    /// Per thread, in topology order (rx lcores first): who it is, its
    /// counters, its mailbox.
    pub threads: Vec<ThreadState>,
    /// Every ring's counters and burst stamps, rx-major.
    pub rings: Vec<(RingId, Arc<RingStats>)>,
    pub done_tx: Sender<LcoreEnd>,
    pub done_rx: Receiver<LcoreEnd>,
}

impl Shared {
    pub fn new(plan: &Plan) -> Shared {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Shared {
            stop: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(AtomicBool::new(false)),
            threads: plan.topology.threads().iter().cloned().map(ThreadState::new).collect(),
            rings: plan.topology.rings().map(|r| (r, Arc::new(RingStats::default()))).collect(),
            done_tx,
            done_rx,
        }
    }

    /// Takes the threads' node lists from `topology` (the workers' are known
    /// once their chains are built, at launch).
    pub fn set_nodes(&mut self, topology: &super::topology::Topology) {
        for state in &mut self.threads {
            if let Some(t) = topology.threads().iter().find(|t| t.id == state.thread.id) {
                state.thread = t.clone();
            }
        }
    }

    /// The state of thread `id`.
    pub fn thread(&self, id: ThreadId) -> &ThreadState {
        self.threads.iter().find(|t| t.thread.id == id).expect("every thread has its state")
    }

    /// The rx lcores' counters, in thread order.
    pub fn rx_counters(&self) -> Vec<Arc<LcoreCounters>> {
        self.threads.iter().filter(|t| t.is_rx()).map(|t| t.counters.clone()).collect()
    }

    /// Every thread's counters, in thread order.
    pub fn counters(&self) -> Vec<Arc<LcoreCounters>> {
        self.threads.iter().map(|t| t.counters.clone()).collect()
    }

    /// The counters of the rings a thread produces into or consumes from, in its order.
    pub fn ring_stats_of(&self, rings: &[RingId]) -> Vec<Arc<RingStats>> {
        rings.iter().filter_map(|id| self.rings.iter().find(|(r, _)| r == id).map(|(_, s)| s.clone())).collect()
    }
}

pub struct Launched {
    pub rx: Vec<LcoreJob<RxResult>>,
    pub workers: Vec<LcoreJob<WorkerResult>>,
    /// The lcore that could not start, if one could not.
    pub error: Option<DpdkError>,
    /// The nodes each worker's chain runs, in order.
    pub worker_nodes: Vec<Node>,
}

pub fn launch(eal: &Eal, plan: &Plan, setup: &mut Setup, shared: &Shared) -> Result<Launched> {
    let topo = &plan.topology;
    let polling: Vec<u32> = topo.threads().iter().map(|t| t.lcore.0).collect();
    if let Some(warning) = cpus_too_few(&polling, |l| eal.lcore_cpus(l)) {
        log::warn!("{warning}");
    }
    let n_rx = topo.rx().len();
    // Checked (and timed) before EAL started; still bounded here.
    let filters: Vec<Option<pcap::BpfProgram>> = match plan.trace_filter.as_deref() {
        Some(expr) => {
            let deadline = crate::trace::filter::COMPILE_DEADLINE * n_rx as u32;
            crate::trace::filter::compile_bounded(expr, n_rx, deadline, &|| false)?.into_iter().map(Some).collect()
        }
        None => (0..n_rx).map(|_| None).collect(),
    };
    let budget = plan.count.map(|c| Arc::new(AtomicU64::new(c)));
    let rx_counters = shared.rx_counters();
    let tsc_hz = eal.tsc_hz();
    let retry = plan.tx_retry_policy(tsc_hz);
    // Every worker's chain (and the tx queue handles it takes) before any lcore starts.
    let chains = topo
        .workers()
        .iter()
        .enumerate()
        .map(|(w, t)| Ok(WorkerChain::new(t.id, steps_of(plan, setup, w as u16, retry)?)))
        .collect::<Result<Vec<_>>>()?;
    let worker_nodes = chains.first().map(WorkerChain::nodes).unwrap_or_default();
    let mut launched = Launched { rx: Vec::new(), workers: Vec::new(), error: None, worker_nodes };

    let give_back = std::mem::take(&mut setup.give_back);
    for (((thread, rings), chain), give_back) in
        topo.workers().iter().zip(std::mem::take(&mut setup.consumers)).zip(chains).zip(give_back)
    {
        let state = shared.thread(thread.id);
        let job = WorkerLcore {
            thread: thread.id,
            rings,
            give_back,
            producers: rx_counters.clone(),
            chain,
            buffers: setup.buffers.clone(),
            burst_size: plan.burst,
            trace_capacity: plan.trace as usize * n_rx,
            mailbox: state.mailbox.clone(),
            ring_stats: shared.ring_stats_of(&thread.rings),
            waits: thread.rings.iter().map(|_| ring_stats::wait_histogram()).collect(),
            counters: state.counters.clone(),
            abort: shared.abort.clone(),
            stop: shared.stop.clone(),
            #[cfg(feature = "fault-injection")]
            fault: super::worker::Fault::from_env(),
        };
        // A worker told to stop ends at once (it otherwise drains until its producers end).
        match dpdk::launch(eal, thread.lcore.0, shared.done_tx.clone(), shared.abort.clone(), move || job.run()) {
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
        let take_back = std::mem::take(&mut setup.take_back);
        for (((thread, (queues, rings)), filter), take_back) in
            topo.rx().iter().zip(queues.into_iter().zip(producers)).zip(filters).zip(take_back)
        {
            let state = shared.thread(thread.id);
            let job = RxLcore {
                thread: thread.id,
                queues,
                handoff: Handoff::new(thread.id, rings, (plan.backpressure, plan.symmetric), shared.stop.clone())
                    .with_ring_stats(shared.ring_stats_of(&thread.rings)),
                burst_size: plan.burst,
                frame_size: plan.frame,
                budget: budget.clone(),
                trace_limit: plan.trace,
                trace_filter: filter,
                counters: state.counters.clone(),
                stop: shared.stop.clone(),
                buffers: setup.buffers.clone(),
                tsc_hz,
                mailbox: state.mailbox.clone(),
                trace_base: 0,
                take_back,
            };
            match dpdk::launch(eal, thread.lcore.0, shared.done_tx.clone(), shared.stop.clone(), move || job.run()) {
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

/// Worker `w`'s steps after handoffdemo-2: mac-rewrite if asked for, then
/// its output: drop, its tx queue on the output port, or its tx queue on
/// each pair's tx port, by rx port. Each queue handle is taken out of its
/// port once: pairs that share a tx port share its one handle.
fn steps_of(plan: &Plan, setup: &mut Setup, w: u16, retry: TxRetry) -> Result<Vec<Step>> {
    let mut take_txq = |id: PortId| {
        let port = setup.ports.iter_mut().find(|p| p.id() == id);
        port.and_then(|p| p.take_tx_queue(QueueId(w)))
            .ok_or_else(|| anyhow!("tx queue {w} of port {} is not there to take", id.0))
    };
    let output = if let Some(id) = setup.output.port {
        Step::Tx(TxOutput::new(take_txq(id)?, retry))
    } else if setup.output.pairs.is_empty() {
        Step::ErrorDrop(ErrorDrop)
    } else {
        let max_rx = setup.output.pairs.iter().map(|&(rx, _)| usize::from(rx.0)).max().unwrap_or(0);
        let mut by_rx: Vec<Option<usize>> = vec![None; max_rx + 1];
        let mut tx_ports: Vec<PortId> = Vec::new();
        let mut queues = Vec::new();
        for &(rx, tx) in &setup.output.pairs {
            let i = match tx_ports.iter().position(|&p| p == tx) {
                Some(i) => i,
                None => {
                    queues.push(take_txq(tx)?);
                    tx_ports.push(tx);
                    queues.len() - 1
                }
            };
            by_rx[usize::from(rx.0)] = Some(i);
        }
        Step::Pairs(Box::new(PairOutput::new(queues, by_rx, retry)))
    };
    let mut steps = Vec::new();
    if let Some(mode) = plan.mac_rewrite.as_ref().map(|m| m.mode(&setup.ports)) {
        let tx = match &output {
            Step::Tx(t) => TxPorts::One(t.port()),
            Step::Pairs(p) => TxPorts::ByRx(p.tx_ports()),
            _ => TxPorts::None,
        };
        steps.push(Step::MacRewrite(MacRewrite::new(mode, tx)));
    }
    steps.push(output);
    Ok(steps)
}

/// A warning when the polling lcores (rx and workers, which never sleep)
/// outnumber the CPUs EAL placed them on: they then take turns in
/// scheduler time slices, and a packet can wait in a ring for milliseconds.
fn cpus_too_few(polling: &[u32], cpus_of: impl Fn(u32) -> Vec<u32>) -> Option<String> {
    let mut cpus: Vec<u32> = polling.iter().flat_map(|&l| cpus_of(l)).collect();
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() || polling.len() <= cpus.len() {
        return None;
    }
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    Some(format!(
        "{} polling lcores ({}) run on {} CPU{} ({}): busy-polling lcores that share a CPU take turns in \
         scheduler time slices, so packets can wait milliseconds in the rings; give each rx and worker lcore \
         a CPU of its own (-l/--lcores, --rx-lcores, --worker-lcores)",
        polling.len(),
        list(polling),
        cpus.len(),
        if cpus.len() == 1 { "" } else { "s" },
        list(&cpus)
    ))
}

#[cfg(test)]
mod tests {
    use super::cpus_too_few;

    #[test]
    fn warns_only_when_polling_lcores_outnumber_their_cpus() {
        // The default map on two CPUs: lcores 0..3 on CPUs 0,1,0,1.
        let wrapped = |l: u32| vec![l % 2];
        let w = cpus_too_few(&[0, 1, 2, 3], wrapped).expect("four lcores on two CPUs");
        assert!(w.starts_with("4 polling lcores (0,1,2,3) run on 2 CPUs (0,1):"), "{w}");
        assert_eq!(cpus_too_few(&[0, 1], wrapped), None);
        // An lcore allowed on several CPUs counts them all.
        assert_eq!(cpus_too_few(&[1, 2], |_| vec![0, 1]), None);
        assert!(cpus_too_few(&[1, 2], |_| vec![3]).unwrap().contains("run on 1 CPU (3)"));
    }
}
