//! The data path: sets up buffers, ports and rings from a validated `Plan`,
//! launches rx and worker lcores, lets thread 0 supervise the run, then
//! drains, closes and accounts for every packet and mbuf.

pub mod counters;
pub mod flow_hash;
pub mod nodes;
pub mod rx;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::cleanup;
use crate::control::{self, Limits, StopReason};
use crate::devices::FiniteInput;
use crate::dpdk::runtime_files::{self, RuntimeFiles};
use crate::dpdk::{self, Buffers, Eal, Port, PortConfig, MAX_BURST};
use crate::report::{FileCheck, RunFacts};
use crate::trace::record::RawPacketTrace;
use counters::LcoreCounters;
use rx::{InputQueue, RxLcore};
use worker::{Output, WorkerLcore};

/// Where handoffdemo-2's packets go.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputChoice {
    Drop,
    /// A port, by name (`net_pcap1`) or id.
    Port(String),
}

/// Everything a run needs, checked before EAL starts where it can be.
#[derive(Clone, Debug)]
pub struct Plan {
    pub eal_args: Vec<String>,
    /// EAL's runtime files under this run's prefix, noted before EAL starts.
    pub runtime_files: RuntimeFiles,
    /// The Ethernet devices the arguments name: each must come up as a port.
    pub devices: Vec<String>,
    pub rx_lcores: Vec<u32>,
    pub worker_lcores: Vec<u32>,
    pub ring_size: u32,
    pub burst: usize,
    pub backpressure: bool,
    pub symmetric: bool,
    pub output: OutputChoice,
    pub trace: u32,
    /// pcap-filter expression choosing which packets to trace (already checked).
    pub trace_filter: Option<String>,
    pub count: Option<u64>,
    pub duration: Option<f64>,
    pub stats_interval: Option<f64>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Mbufs per pool; None sizes the pool from queues, rings and bursts.
    pub mbufs: Option<u32>,
    /// Finite inputs by vdev name: each rx queue's pcap file and its packets.
    pub finite_inputs: BTreeMap<String, Vec<FiniteInput>>,
}

/// The outcome of a whole run.
pub struct RunOutcome {
    pub facts: RunFacts,
    pub stop: StopReason,
}

pub fn run(plan: &Plan) -> Result<RunOutcome> {
    for prefix in runtime_files::reclaim_stale() {
        log::info!("removed the runtime files of {prefix}, a handoff process that is gone");
    }
    cleanup::note_runtime(plan.runtime_files.clone());
    let eal = match Eal::init(&plan.eal_args) {
        Ok(eal) => eal,
        Err(e) => {
            // Only a directory this start created is ours to clear.
            plan.runtime_files.remove_after_failed_init();
            return Err(e.into());
        }
    };
    cleanup::eal_started();
    let outcome = run_with_eal(&eal, plan);
    // Everything that borrowed the EAL is gone by now.
    eal.cleanup();
    plan.runtime_files.remove_after_run();
    outcome
}

struct Launched {
    rx: Vec<dpdk::LcoreJob<rx::RxResult>>,
    workers: Vec<dpdk::LcoreJob<worker::WorkerResult>>,
}

fn run_with_eal(eal: &Eal, plan: &Plan) -> Result<RunOutcome> {
    check_lcores(eal, plan)?;
    // dpdk-dumpcap attaches as a secondary process; without shared files
    // there is nothing to attach to.
    let single_process = plan.eal_args.iter().any(|a| a == "--no-shconf" || a == "--in-memory");
    if !single_process {
        if let Err(e) = eal.enable_pdump() {
            log::warn!("dpdk-dumpcap will not be able to capture: {e}");
        }
    }
    let all_ports = dpdk::port::ports(eal)?;
    check_devices_came_up(eal, plan, &all_ports)?;
    if all_ports.is_empty() {
        bail!("no ports: name an input with --vdev, -a/--allow or --pg");
    }
    let port_names: Vec<String> = all_ports.iter().map(|p| p.name.clone()).collect();
    let output_port = match &plan.output {
        OutputChoice::Drop => None,
        OutputChoice::Port(name) => Some(find_port(&all_ports, name)?),
    };
    let n_rx = plan.rx_lcores.len();
    let n_workers = plan.worker_lcores.len();

    // Rx queues per port: one per rx_pcap file of a finite pcap vdev, else one per rx lcore.
    // Ports without rx queues (tx-only pcap) still need one for rte_eth_dev_configure.
    let mut port_rxqs = Vec::new();
    for p in &all_ports {
        let rxq = match plan.finite_inputs.get(&p.name) {
            Some(files) => files.len() as u16,
            None => n_rx as u16,
        };
        port_rxqs.push(rxq);
    }
    let total_rxq: usize = port_rxqs.iter().map(|&q| q as usize).sum();

    let (per_socket, cache) = pool_size(plan, total_rxq, all_ports.len());
    let mut sockets: Vec<u32> = plan.rx_lcores.iter().map(|&l| eal.lcore_socket(l)).collect();
    sockets.sort_unstable();
    sockets.dedup();
    let buffers = Arc::new(
        Buffers::create(eal, &sockets, per_socket, cache, 2048)
            .context("cannot create the packet buffer pool (raise -m, or reserve more hugepages)")?,
    );

    // Ports, configured and started; dropped (stopped, closed) before `buffers`.
    let mut ports = Vec::new();
    for (i, info) in all_ports.iter().enumerate() {
        let tx_queues = if Some(info.id) == output_port { n_workers as u16 } else { 1 };
        let conf =
            PortConfig { rx_queues: port_rxqs[i].max(1), tx_queues, rx_desc: plan.rx_desc, tx_desc: plan.tx_desc };
        let port = Port::configure(eal, info.clone(), conf, &buffers)
            .with_context(|| format!("cannot set up port {} ({})", info.id, info.name))?;
        ports.push(port);
    }
    for p in &mut ports {
        let name = p.info().name.clone();
        p.start().with_context(|| format!("cannot start port {name}"))?;
    }

    let queues_of = assign_queues(&ports, &port_rxqs, plan, n_rx);

    // One SP/SC ring per (rx lcore, worker).
    let mut producers: Vec<Vec<dpdk::RingProducer>> = (0..n_rx).map(|_| Vec::new()).collect();
    let mut consumers: Vec<Vec<dpdk::RingConsumer>> = (0..n_workers).map(|_| Vec::new()).collect();
    for (r, &rl) in plan.rx_lcores.iter().enumerate() {
        for (w, _) in plan.worker_lcores.iter().enumerate() {
            let (p, c) = dpdk::handoff_ring(
                eal,
                &format!("handoff_{r}_{w}"),
                plan.ring_size,
                eal.lcore_socket(rl) as i32,
                buffers.clone(),
            )?;
            producers[r].push(p);
            consumers[w].push(c);
        }
    }

    let rx_counters: Vec<Arc<LcoreCounters>> = (0..n_rx).map(|_| Arc::new(LcoreCounters::default())).collect();
    let wk_counters: Vec<Arc<LcoreCounters>> = (0..n_workers).map(|_| Arc::new(LcoreCounters::default())).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    let budget = plan.count.map(|c| Arc::new(AtomicU64::new(c)));
    let (done_tx, done_rx) = crossbeam_channel::unbounded();

    let tsc_hz = eal.tsc_hz();
    let start_tsc = dpdk::rdtsc();
    let start_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let started = std::time::Instant::now();
    let mut launched = Launched { rx: Vec::new(), workers: Vec::new() };
    // Workers first, so rings are drained from the first packet.
    let mut launch_error = None;
    for (w, (&lcore, rings)) in plan.worker_lcores.iter().zip(consumers).enumerate() {
        let job = WorkerLcore {
            thread: (n_rx + w + 1) as u32,
            rings,
            producers: rx_counters.clone(),
            output: match output_port {
                None => Output::Drop,
                Some(id) => {
                    Output::Port(ports.iter().find(|p| p.info().id == id).expect("output port").tx_queue(w as u16))
                }
            },
            burst_size: plan.burst,
            trace_capacity: plan.trace as usize * n_rx,
            counters: wk_counters[w].clone(),
            abort: abort.clone(),
            fault: worker::Fault::from_env(),
        };
        match dpdk::launch(eal, lcore, done_tx.clone(), move || job.run()) {
            Ok(j) => launched.workers.push(j),
            Err(e) => {
                launch_error = Some(e);
                break;
            }
        }
    }
    if launch_error.is_none() {
        for (r, ((&lcore, queues), rings)) in plan.rx_lcores.iter().zip(queues_of).zip(producers).enumerate() {
            let job = RxLcore {
                thread: (r + 1) as u32,
                queues,
                rings,
                burst_size: plan.burst,
                backpressure: plan.backpressure,
                symmetric: plan.symmetric,
                budget: budget.clone(),
                trace_limit: plan.trace,
                trace_filter: match &plan.trace_filter {
                    Some(expr) => Some(crate::trace::filter::compile(expr)?),
                    None => None,
                },
                counters: rx_counters[r].clone(),
                stop: stop.clone(),
                buffers: buffers.clone(),
                tsc_hz,
            };
            match dpdk::launch(eal, lcore, done_tx.clone(), move || job.run()) {
                Ok(j) => launched.rx.push(j),
                Err(e) => {
                    launch_error = Some(e);
                    break;
                }
            }
        }
    } else {
        // Rx lcores never started: let workers see their producers as done.
        rx_counters.iter().for_each(|c| c.done.store(true, Ordering::Release));
    }
    if launch_error.is_some() {
        stop.store(true, Ordering::Release);
        // Producers not launched will never say they are done.
        for c in rx_counters.iter().skip(launched.rx.len()) {
            c.done.store(true, Ordering::Release);
        }
    }

    let all_counters: Vec<Arc<LcoreCounters>> = rx_counters.iter().chain(wk_counters.iter()).cloned().collect();
    register_telemetry(eal, &rx_counters, &wk_counters, &ports);
    let expected_lcores = launched.rx.len() + launched.workers.len();
    let stop_reason = if let Some(e) = &launch_error {
        control::wait_all(&done_rx, expected_lcores);
        StopReason::Failed(format!("cannot launch an lcore: {e}"))
    } else {
        control::supervise(
            &done_rx,
            expected_lcores,
            &Limits { duration: plan.duration, stats_interval: plan.stats_interval },
            &stop,
            &abort,
            &rx_counters,
            &all_counters,
            &plan.worker_lcores,
        )
    };
    let seconds = started.elapsed().as_secs_f64();

    // Join: every lcore has reported, so these do not spin.
    let mut failures = Vec::new();
    let mut rx_traces: Vec<Vec<RawPacketTrace>> = Vec::new();
    let mut wk_traces: Vec<Vec<RawPacketTrace>> = Vec::new();
    let mut inputs_ended = Vec::new();
    for j in launched.rx {
        match j.join() {
            Ok(r) => {
                rx_traces.push(r.traces);
                inputs_ended.extend(r.inputs);
            }
            Err(e) => {
                failures.push(e.to_string());
                rx_traces.push(Vec::new());
            }
        }
    }
    for j in launched.workers {
        match j.join() {
            Ok(r) => wk_traces.push(r.traces),
            Err(e) => {
                failures.push(e.to_string());
                wk_traces.push(Vec::new());
            }
        }
    }

    let interfaces: Vec<(dpdk::PortInfo, dpdk::PortStats)> =
        ports.iter().map(|p| (p.info().clone(), p.stats())).collect();
    let file_checks = input_checks(plan, &interfaces, &inputs_ended);
    // Close ports (their queues give back any mbufs they hold), then count
    // what is back in the pools.
    for p in ports {
        p.close();
    }
    let mbufs_total = buffers.total();
    let mbufs_free = buffers.available();

    let stop_reason = match (stop_reason, failures.is_empty()) {
        (r, true) => r,
        (_, false) => StopReason::Failed(failures.join("; ")),
    };

    let facts = RunFacts {
        rx_lcores: plan.rx_lcores.clone(),
        worker_lcores: plan.worker_lcores.clone(),
        rx_counters,
        worker_counters: wk_counters,
        rx_traces,
        worker_traces: wk_traces,
        interfaces,
        port_names,
        dynflags: dpdk::mbuf::dynflag_names(),
        tsc_hz,
        start_tsc,
        start_unix,
        seconds,
        mbufs_total,
        mbufs_free,
        file_checks,
    };
    Ok(RunOutcome { facts, stop: stop_reason })
}

/// `/handoff/errors`, `/handoff/runtime` and `/handoff/interfaces` for
/// dpdk-telemetry.py while the run goes on. Failing to register only warns.
fn register_telemetry(eal: &Eal, rx: &[Arc<LcoreCounters>], workers: &[Arc<LcoreCounters>], ports: &[Port]) {
    use dpdk::telemetry::{key, register};
    use nodes::{Reason, RX_NODES, WORKER_NODES};
    let threads: Vec<(String, Arc<LcoreCounters>, &'static [nodes::Node])> = rx
        .iter()
        .map(|c| (c.clone(), RX_NODES))
        .chain(workers.iter().map(|c| (c.clone(), WORKER_NODES)))
        .enumerate()
        .map(|(i, (c, n))| ((i + 1).to_string(), c, n))
        .collect();
    let errors = threads.clone();
    let runtime = threads;
    let port_ids: Vec<(u16, String)> = ports.iter().map(|p| (p.info().id, p.info().name.clone())).collect();
    let results = [
        register(
            eal,
            "/handoff/errors",
            "Error counters per thread, node and reason (nonzero only)",
            Box::new(move || {
                let mut out = Vec::new();
                for (t, c, _) in &errors {
                    for r in Reason::ALL {
                        let n = c.error_count(r);
                        if n > 0 {
                            out.push((key(&[t, r.node().name(), r.text()]), n));
                        }
                    }
                }
                out
            }),
        ),
        register(
            eal,
            "/handoff/runtime",
            "Calls, vectors and clocks per thread and node",
            Box::new(move || {
                let mut out = Vec::new();
                for (t, c, nodes) in &runtime {
                    for &n in *nodes {
                        let (calls, vectors, clocks) = c.node_snapshot(n);
                        if calls > 0 {
                            out.push((key(&[t, n.name(), "calls"]), calls));
                            out.push((key(&[t, n.name(), "vectors"]), vectors));
                            out.push((key(&[t, n.name(), "clocks"]), clocks));
                        }
                    }
                }
                out
            }),
        ),
        register(
            eal,
            "/handoff/interfaces",
            "Packet counters per port",
            Box::new(move || {
                let mut out = Vec::new();
                for (id, name) in &port_ids {
                    let s = dpdk::port::stats(*id);
                    for (field, v) in [
                        ("rx_packets", s.rx_packets),
                        ("tx_packets", s.tx_packets),
                        ("rx_missed", s.rx_missed),
                        ("rx_nombuf", s.rx_nombuf),
                        ("rx_errors", s.rx_errors),
                        ("tx_errors", s.tx_errors),
                    ] {
                        out.push((key(&[name, field]), v));
                    }
                }
                out
            }),
        ),
    ];
    for r in results {
        if let Err(e) = r {
            log::warn!("telemetry: {e}");
        }
    }
}

/// Mbufs per pool and per-lcore cache: every rx and tx descriptor, every
/// ring full, the bursts in flight and the caches, unless `--mbufs` says.
fn pool_size(plan: &Plan, total_rxq: usize, ports: usize) -> (u32, u32) {
    let (n_rx, n_workers) = (plan.rx_lcores.len() as u64, plan.worker_lcores.len() as u64);
    let lcores = n_rx + n_workers;
    let cache = 256u64;
    let need = plan.rx_desc as u64 * total_rxq as u64
        + plan.tx_desc as u64 * ports as u64 * n_workers.max(1)
        + plan.ring_size as u64 * n_rx * n_workers
        + MAX_BURST as u64 * (2 + n_workers) * lcores
        + cache * (lcores + 1) * 2
        + 1024;
    let per_socket = plan.mbufs.unwrap_or(need.min(u32::MAX as u64) as u32);
    // DPDK wants the per-lcore cache well below the pool size.
    (per_socket, (cache as u32).min(per_socket / 8))
}

/// Shares the (port, queue) pairs round-robin among the rx lcores; a queue
/// of a finite pcap input knows how many packets its file holds.
fn assign_queues(ports: &[Port], port_rxqs: &[u16], plan: &Plan, n_rx: usize) -> Vec<Vec<InputQueue>> {
    let mut queues_of: Vec<Vec<InputQueue>> = (0..n_rx).map(|_| Vec::new()).collect();
    let mut k = 0;
    for (p, &rxqs) in ports.iter().zip(port_rxqs) {
        let expected = plan.finite_inputs.get(&p.info().name);
        for q in 0..p.config().rx_queues.min(rxqs) {
            queues_of[k % n_rx].push(InputQueue {
                rxq: p.rx_queue(q),
                expected: expected.map(|files| files[q as usize].packets),
                received: 0,
                exhausted: false,
                stalled_since: None,
            });
            k += 1;
        }
    }
    queues_of
}

fn find_port(ports: &[dpdk::PortInfo], name: &str) -> Result<u16> {
    if let Some(p) = ports.iter().find(|p| p.name == name) {
        return Ok(p.id);
    }
    if let Ok(id) = name.parse::<u16>() {
        if ports.iter().any(|p| p.id == id) {
            return Ok(id);
        }
    }
    let known: Vec<String> = ports.iter().map(|p| format!("{} ({})", p.id, p.name)).collect();
    Err(anyhow!("unknown port '{name}' for --output; ports are: {}", known.join(", ")))
}

/// A finite input that ended short of its file's packet count lost packets
/// before dpdk-input: one check per input file read to its end.
fn input_checks(
    plan: &Plan,
    interfaces: &[(dpdk::PortInfo, dpdk::PortStats)],
    ended: &[rx::InputEnd],
) -> Vec<FileCheck> {
    let mut checks = Vec::new();
    for e in ended.iter().filter(|e| e.exhausted) {
        let Some((info, stats)) = interfaces.iter().find(|(i, _)| i.id == e.port) else { continue };
        let Some(input) = plan.finite_inputs.get(&info.name).and_then(|f| f.get(usize::from(e.queue))) else {
            continue;
        };
        let ok = e.received == input.packets;
        let cause = (!ok).then(|| {
            if stats.rx_nombuf > 0 {
                format!("net_pcap found no free mbuf {} times (raise --mbufs)", stats.rx_nombuf)
            } else if stats.rx_errors > 0 {
                format!("libpcap could not read {} records (rx_errors)", stats.rx_errors)
            } else if stats.rx_missed > 0 {
                format!("{} packets missed by the port (rx_missed)", stats.rx_missed)
            } else {
                "the file changed while it was read".to_string()
            }
        });
        checks.push(FileCheck {
            file: input.file.display().to_string(),
            device: info.name.clone(),
            direction: "rx".into(),
            expected_packets: input.packets,
            packets: e.received,
            expected_bytes: None,
            bytes: None,
            ok,
            cause,
        });
    }
    checks
}

/// Every device the arguments name must be a port now: a vdev whose probe
/// failed (EAL carries on without it) stops the run before a packet moves.
fn check_devices_came_up(eal: &Eal, plan: &Plan, ports: &[dpdk::PortInfo]) -> Result<()> {
    for name in &plan.devices {
        // EAL writes PCI names in full (0000:01:00.0); a PCI device may have several ports.
        let up = ports.iter().any(|p| {
            p.name == *name
                || (name.contains(':')
                    && (p.name.starts_with(name.as_str()) || p.name.contains(name.trim_start_matches("0000:"))))
        });
        if !up {
            let said = eal.log_about(name);
            let why = if said.is_empty() { "EAL gave no reason".to_string() } else { said.join(" / ") };
            bail!("device {name} did not come up: {why}");
        }
    }
    Ok(())
}

fn check_lcores(eal: &Eal, plan: &Plan) -> Result<()> {
    let map = eal.lcores();
    for (&l, role) in plan.rx_lcores.iter().map(|l| (l, "rx")).chain(plan.worker_lcores.iter().map(|l| (l, "worker"))) {
        if !eal.lcore_enabled(l) {
            bail!("{role} lcore {l} is not in the EAL lcore map {map:?} (set it with -l or --lcores)");
        }
        if l == eal.main_lcore() {
            bail!("{role} lcore {l} is EAL's main lcore, which runs the control thread; pick another lcore or --main-lcore");
        }
    }
    Ok(())
}
