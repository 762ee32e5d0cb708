//! The data path, in steps: `setup` (ports, pools, rings), `launch` (the
//! lcores, once everything that can fail has been done), `supervise`
//! (thread 0, until the lcores end), then `facts` for the report.
//! `topology` numbers the threads; `telemetry` answers while it runs; `rx`
//! and `worker` are the lcores' loops, calling the nodes in order.

#[cfg(feature = "ab")]
mod ab;
pub mod facts;
pub mod launch;
pub mod live;
pub mod rx;
pub mod setup;
pub mod snapshot;
pub mod stats;
pub mod supervise;
pub mod telemetry;
pub mod topology;
pub mod worker;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::cleanup;
use crate::devices::FiniteInput;
use crate::dpdk::runtime_files::{self, RuntimeFiles};
use crate::dpdk::{self, Eal};
use crate::eal_args::EalArgs;
use crate::nodes::interface_output::TxRetry;
use crate::nodes::mac_rewrite::{MacMode, PeerRewrite};
use facts::{Collected, RunFacts};
use live::{LiveHook, LiveView};
use supervise::{Limits, StopReason};
use topology::Topology;

/// Where handoffdemo-2's packets go: `--output`, resolved once before EAL
/// starts. Ports are devices, by their index in `Plan::devices`; set-up
/// maps them to port ids once the ports are up.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputChoice {
    Drop,
    /// One port to transmit on.
    Port(usize),
    /// Port pairs, l2fwd-style (`0:1,1:0`): packets received on the first
    /// port of a pair leave by the second.
    Pairs(Vec<(usize, usize)>),
}

/// Everything a run needs, checked before EAL starts where it can be.
#[derive(Clone, Debug)]
pub struct Plan {
    pub eal_args: EalArgs,
    /// EAL's runtime files under this run's prefix, noted before EAL starts.
    pub runtime_files: RuntimeFiles,
    /// The Ethernet devices the arguments name: each must come up as a port.
    pub devices: Vec<String>,
    /// The threads, their lcores and rings, numbered once.
    pub topology: Topology,
    pub ring_size: u32,
    pub burst: usize,
    /// Packets dpdk-input gathers per frame (`--frame`), polling `burst` at a time.
    pub frame: usize,
    pub backpressure: bool,
    /// `--tx-retry N[,USECS]`; without it a refused tx tail is held with
    /// backpressure and dropped without.
    pub tx_retry: Option<TxRetryLimit>,
    pub symmetric: bool,
    pub output: OutputChoice,
    /// `--mac-swap` / `--eth-peer`: mac-rewrite in the workers' chain.
    pub mac_rewrite: Option<MacPlan>,
    /// The device (index in `devices`) `--output` names when it only
    /// transmits (not polled): a live port while other ports receive.
    pub tx_only: Option<usize>,
    pub trace: u32,
    /// pcap-filter expression choosing which packets to trace (already checked).
    pub trace_filter: Option<String>,
    /// Packets per thread `show trace` prints unless asked for more (`--trace-display`).
    pub trace_display: u32,
    pub count: Option<u64>,
    pub duration: Option<f64>,
    pub stats_interval: Option<f64>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Mbufs per pool; None sizes the pool from queues, rings and bursts.
    pub mbufs: Option<u32>,
    /// Mbuf data room with headroom (testpmd's --mbuf-size).
    pub mbuf_size: u16,
    /// `--max-pkt-len`: the largest frame every port must take.
    pub max_pkt_len: Option<u32>,
    /// Finite inputs by vdev name: each rx queue's pcap file and its packets.
    pub finite_inputs: BTreeMap<String, Vec<FiniteInput>>,
}

/// What mac-rewrite does: `--mac-swap`, or `--eth-peer PORT,MAC`s (ports
/// by id or name, checked before EAL starts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacPlan {
    Swap,
    Peers(Vec<(String, [u8; 6])>),
}

impl MacPlan {
    /// The node's mode once the ports are up (each peer's source is its port's own MAC).
    pub fn mode(&self, ports: &[dpdk::Port]) -> MacMode {
        let MacPlan::Peers(peers) = self else { return MacMode::Swap };
        let mut by_tx = vec![None; crate::nodes::counters::MAX_PAIR_PORTS];
        for (spec, mac) in peers {
            let id = spec.parse::<u16>().ok();
            let port = ports.iter().find(|p| Some(p.info().id) == id || p.info().name == *spec);
            if let Some((p, slot)) = port.and_then(|p| by_tx.get_mut(usize::from(p.info().id)).map(|s| (p, s))) {
                *slot = Some(PeerRewrite { src: p.mac(), dst: *mac });
            }
        }
        MacMode::Peers(by_tx)
    }
}

/// `--tx-retry N[,USECS]`: testpmd's burst tx retry (64 retries 1 us apart by default there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxRetryLimit {
    pub retries: u32,
    pub delay_us: u32,
}

impl Plan {
    /// What interface-output does with a refused tail: `--tx-retry` says,
    /// else hold it with backpressure (nothing forces a drop), else drop (VPP).
    pub fn tx_retry_policy(&self, tsc_hz: u64) -> TxRetry {
        match self.tx_retry {
            Some(TxRetryLimit { retries: 0, .. }) => TxRetry::Drop,
            Some(l) => TxRetry::Bounded {
                retries: l.retries,
                delay_cycles: (u128::from(tsc_hz) * u128::from(l.delay_us) / 1_000_000) as u64,
            },
            None if self.backpressure => TxRetry::Hold,
            None => TxRetry::Drop,
        }
    }
}

/// How long a DMA-capable port (a NIC, virtio-user) gets to send what its
/// tx queue took before it is stopped: virtio implements neither
/// tx_done_cleanup nor tx_descriptor_status, so there is nothing to poll.
pub const TX_DRAIN_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// The outcome of a whole run.
pub struct RunOutcome {
    pub facts: RunFacts,
    pub stop: StopReason,
}

/// Runs the plan; `live` starts the control socket once the lcores run.
pub fn run(plan: &Plan, live: &dyn LiveHook) -> Result<RunOutcome> {
    for prefix in runtime_files::reclaim_stale() {
        log::info!("removed the runtime files of {prefix}, a handoff process that is gone");
    }
    cleanup::note_runtime(plan.runtime_files.clone());
    let eal = match Eal::init(plan.eal_args.as_slice()) {
        Ok(eal) => eal,
        Err(e) => {
            // Only a directory this start created is ours to clear.
            plan.runtime_files.remove_after_failed_init();
            return Err(e.into());
        }
    };
    cleanup::eal_started();
    let outcome = run_with_eal(&eal, plan, live);
    // Everything that borrowed the EAL is gone by now.
    eal.cleanup();
    plan.runtime_files.remove_after_run();
    outcome
}

fn run_with_eal(eal: &Eal, plan: &Plan, live: &dyn LiveHook) -> Result<RunOutcome> {
    let mut setup = setup::setup(eal, plan)?;
    let mut shared = launch::Shared::new(plan);
    let start_tsc = dpdk::rdtsc();
    let start_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let started = std::time::Instant::now();
    let expected = expected_packets(&setup);
    let launched = launch::launch(eal, plan, &mut setup, &shared)?;
    // The workers' nodes are those of the chain they run.
    let plan = &Plan { topology: plan.topology.clone().with_worker_nodes(&launched.worker_nodes), ..plan.clone() };
    shared.set_nodes(&plan.topology);
    #[cfg(feature = "ab")]
    let ab = ab::start(&shared.threads, shared.stop.clone(), eal.tsc_hz());
    // Dropped before `launched`: a panic on thread 0 stops the lcores before their jobs wait for them.
    let _stop_on_unwind = StopOnUnwind(&shared);
    telemetry::register(eal, &shared.threads, &setup.ports);
    let view = std::sync::Arc::new(live_view(eal, plan, &setup, &shared, (start_tsc, start_unix, started)));
    let server = live.started(view.clone());

    let limits = Limits {
        duration: plan.duration,
        stats_interval: plan.stats_interval,
        ports: setup.ports.iter().map(|p| (p.info().id, p.info().name.clone())).collect(),
        expected,
    };
    let stop = supervise::supervise(plan, &shared, &launched, &limits);
    // The socket goes before the lcores are joined and the ports closed;
    // a client thread still running asks nothing of them from here on.
    drop(server);
    view.close();
    let seconds = started.elapsed().as_secs_f64();
    let ended = supervise::join(launched);
    #[cfg(feature = "ab")]
    ab.join();
    let dma_sent = setup
        .ports
        .iter()
        .any(|p| crate::drivers::Driver::of_port(p.info()).needs_tx_drain() && p.stats().tx_packets > 0);
    if dma_sent {
        // A port that takes packets by DMA may not have sent (or its peer
        // read) the last ones yet; stopping it now would lose them.
        std::thread::sleep(TX_DRAIN_GRACE);
    }

    // Read the way `show` reads them, before the ports close: whole-run numbers.
    let counters = snapshot::RunSnapshot::capture(&view.threads, &view.ports, &view.rings, true);
    // Close ports (their queues give back any mbufs they hold), then count
    // what is back in the pools.
    for p in std::mem::take(&mut setup.ports) {
        p.close();
    }
    let stop = if ended.failures.is_empty() { stop } else { StopReason::Failed(ended.failures.join("; ")) };
    // Traces the control socket collected come first, then an answer it
    // gave up waiting for, then what each lcore still held: up to TRACE_CAP each.
    for (traces, state) in ended.traces.into_iter().zip(&view.threads) {
        let mut held = state.held();
        if let Some(live::Reply::Trace { traces: late, .. }) = state.mailbox.late_reply() {
            held.keep(late);
        }
        held.keep(traces);
    }
    let traces = view.threads.iter().map(|t| std::mem::take(&mut *t.held())).map(|h| (h.traces, h.dropped)).collect();
    let waits = plan.topology.workers().iter().zip(ended.waits).flat_map(|(t, hs)| t.rings.iter().copied().zip(hs));
    let mut facts = facts::assemble(&view, Collected { counters, traces, waits: waits.collect(), seconds, now_tsc: 0 });
    facts.file_checks = facts::input_checks(plan, &facts.interfaces, &ended.inputs);
    facts.mbufs_total = setup.buffers.total();
    facts.mbufs_free = setup.buffers.available();
    Ok(RunOutcome { facts, stop })
}

/// Tells every lcore to end at once when thread 0 unwinds from a panic.
struct StopOnUnwind<'a>(&'a launch::Shared);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort.store(true, std::sync::atomic::Ordering::Release);
            self.0.stop.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Packets the inputs hold when every polled port reads a finite file
/// (pg streams marked infinite and live ports have no end: None).
fn expected_packets(setup: &setup::Setup) -> Option<u64> {
    let mut total = 0;
    for q in setup.queues.iter().flatten() {
        total += q.expected?;
    }
    Some(total).filter(|&n| n > 0)
}

/// What the control socket reads while the run goes on.
fn live_view(
    eal: &Eal,
    plan: &Plan,
    setup: &setup::Setup,
    shared: &launch::Shared,
    (start_tsc, start_unix, started): (u64, std::time::Duration, std::time::Instant),
) -> LiveView {
    LiveView {
        prefix: plan.runtime_files.prefix().to_string(),
        runtime_dir: plan.runtime_files.dir().to_path_buf(),
        topology: plan.topology.clone(),
        threads: shared.threads.clone(),
        rings: shared.rings.clone(),
        ports: setup.ports.iter().map(|p| p.info().clone()).collect(),
        port_names: setup.port_names.clone(),
        dynflags: dpdk::mbuf::dynflag_names(),
        pairs: setup.output.pairs_by_id(),
        tsc_hz: eal.tsc_hz(),
        start_tsc,
        start_unix,
        started,
        armed: plan.trace.into(),
        stopping: shared.stop.clone(),
        trace_display: plan.trace_display,
        open: std::sync::Mutex::new(true),
    }
}
