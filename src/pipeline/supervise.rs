//! Supervision, on thread 0: waits for signals, limits and lcores without
//! busy-polling, tells the data path when to stop, then joins the lcores.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::{after, never, select, tick, Receiver};

use serde::Serialize;

use crate::dpdk::LcoreEnd;
use crate::nodes::PacketTrace;

use super::launch::{Launched, Shared};
use super::rx::InputEnd;
use super::stats::StatsPrinter;
use super::Plan;

pub struct Limits {
    pub duration: Option<f64>,
    pub stats_interval: Option<f64>,
    /// The ports (id, name) the stats lines show.
    pub ports: Vec<(u16, String)>,
    /// Packets the finite inputs hold, when every input is one (progress).
    pub expected: Option<u64>,
}

/// Why a run stopped, as the JSON says it (`stopped_by`), in snake_case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    InputDone,
    CountReached,
    Duration,
    Signal,
    Failed,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// Every finite input was read and every packet left the pipeline.
    InputDone,
    /// `--count` packets were received and left the pipeline.
    CountReached,
    Duration,
    Signal(&'static str),
    /// An lcore panicked or could not start.
    Failed(String),
}

impl StopReason {
    pub fn kind(&self) -> StopKind {
        match self {
            StopReason::InputDone => StopKind::InputDone,
            StopReason::CountReached => StopKind::CountReached,
            StopReason::Duration => StopKind::Duration,
            StopReason::Signal(_) => StopKind::Signal,
            StopReason::Failed(_) => StopKind::Failed,
        }
    }

    /// The signal's name, when a signal stopped the run.
    pub fn signal(&self) -> Option<&'static str> {
        match self {
            StopReason::Signal(name) => Some(name),
            _ => None,
        }
    }
}

/// Signals, forwarded to a channel by signal-hook's thread. The first
/// SIGINT, SIGTERM or SIGHUP asks for a graceful stop; a second one aborts at
/// once, after removing this run's files (runtime dir, temporary files).
pub fn signals() -> std::io::Result<Receiver<&'static str>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let (tx, rx) = crossbeam_channel::bounded(4);
    std::thread::Builder::new().name("handoff-signals".into()).spawn(move || {
        let mut received = 0;
        for sig in signals.forever() {
            let name = match sig {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            received += 1;
            if received >= 2 {
                crate::cleanup::claim_exit();
                // Through the console's thread, waited for a second at most: a
                // stderr nobody reads cannot hold the abort.
                crate::console::inform(format!("handoff: second signal ({name}), aborting\n"));
                crate::console::settle();
                crate::cleanup::remove_all();
                std::process::exit(128 + sig);
            }
            let _ = tx.try_send(name);
        }
    })?;
    Ok(rx)
}

static SIGNALS: std::sync::OnceLock<Option<Receiver<&'static str>>> = std::sync::OnceLock::new();

/// The first signals (a second one aborts), as names.
pub fn signal_channel() -> Receiver<&'static str> {
    SIGNALS.get_or_init(|| signals().ok()).clone().unwrap_or_else(never)
}

/// Installs the signal handlers early (before EAL starts lcores).
pub fn install_signals() {
    let _ = signal_channel();
}

/// Blocks until `expected` lcores have reported they ended.
pub fn wait_all(done: &Receiver<LcoreEnd>, expected: usize) {
    for _ in 0..expected {
        if done.recv().is_err() {
            break;
        }
    }
}

/// Runs thread 0's loop until every launched lcore has ended; returns why
/// the run stopped.
pub fn supervise(plan: &Plan, shared: &Shared, launched: &Launched, limits: &Limits) -> StopReason {
    let expected = launched.rx.len() + launched.workers.len();
    if let Some(e) = &launched.error {
        wait_all(&shared.done_rx, expected);
        return StopReason::Failed(format!("cannot launch an lcore: {e}"));
    }
    let (done, stop, abort) = (&shared.done_rx, &shared.stop, &shared.abort);
    let rx_counters = shared.rx_counters();
    let all_counters = &shared.counters();
    let worker_lcores: Vec<u32> = plan.topology.workers().iter().map(|t| t.lcore.0).collect();
    let sigs = signal_channel();
    // The flags' ranges are checked, but the control thread must not panic on any number.
    let secs = |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX);
    let deadline = limits.duration.map(|d| after(secs(d.max(0.0)))).unwrap_or_else(never);
    let stats = limits.stats_interval.map(|s| tick(secs(s.max(0.01)))).unwrap_or_else(never);
    let mut printer = StatsPrinter::new(limits.ports.clone(), shared.rings.clone(), limits.expected);
    printer.interval(all_counters);
    // Test hook: thread 0 panics while the lcores run (they must still be stopped).
    #[cfg(feature = "fault-injection")]
    if std::env::var("HANDOFF_FAULT").as_deref() == Ok("panic-control") {
        panic!("injected fault (HANDOFF_FAULT=panic-control)");
    }
    let progress = if printer.has_progress() { tick(Duration::from_millis(200)) } else { never() };
    let mut reason: Option<StopReason> = None;
    let mut ended = 0;
    let request_stop = |reason: &mut Option<StopReason>, r: StopReason| {
        if reason.is_none() {
            *reason = Some(r);
        }
        stop.store(true, Ordering::Release);
    };
    while ended < expected {
        select! {
            recv(done) -> end => {
                ended += 1;
                let Ok(end) = end else { break };
                if end.panicked {
                    // The others stop at once; the report says which one failed.
                    abort.store(true, Ordering::Release);
                    request_stop(&mut reason, StopReason::Failed(format!("lcore {} panicked", end.lcore)));
                    continue;
                }
                let rx_all_done = rx_counters.iter().all(|c| c.done.load(Ordering::Acquire));
                // A worker never ends before its producers unless it failed.
                if worker_lcores.contains(&end.lcore) && !rx_all_done {
                    abort.store(true, Ordering::Release);
                    request_stop(&mut reason, StopReason::Failed("a worker lcore ended early".into()));
                }
                // An rx lcore that ends by itself ran its finite input or
                // budget dry; the others follow once they drain.
                if reason.is_none() && rx_counters.iter().all(|c| c.done.load(Ordering::Acquire)) {
                    let exhausted = rx_counters.iter().all(|c| c.input_exhausted.load(Ordering::Acquire));
                    reason = Some(if exhausted { StopReason::InputDone } else { StopReason::CountReached });
                }
            },
            recv(sigs) -> sig => {
                if let Ok(name) = sig {
                    request_stop(&mut reason, StopReason::Signal(name));
                }
            },
            recv(deadline) -> _ => request_stop(&mut reason, StopReason::Duration),
            recv(stats) -> _ => printer.interval(all_counters),
            recv(progress) -> _ => printer.tick_progress(all_counters),
        }
    }
    printer.finish();
    reason.unwrap_or(StopReason::InputDone)
}

/// What the lcores hand back once joined.
pub struct Ended {
    /// Per thread, in topology order (rx lcores first).
    pub traces: Vec<Vec<PacketTrace>>,
    pub inputs: Vec<InputEnd>,
    /// Per worker, in order: its rings' wait histograms (empty if it failed).
    pub waits: Vec<Vec<hdrhistogram::Histogram<u64>>>,
    /// The lcores that panicked or returned nothing.
    pub failures: Vec<String>,
}

/// Joins every lcore: each has reported on the done channel, so this does
/// not spin.
pub fn join(launched: Launched) -> Ended {
    let mut ended = Ended { traces: Vec::new(), inputs: Vec::new(), waits: Vec::new(), failures: Vec::new() };
    for j in launched.rx {
        match j.join() {
            Ok(r) => {
                ended.traces.push(r.traces);
                ended.inputs.extend(r.inputs);
            }
            Err(e) => {
                ended.failures.push(e.to_string());
                ended.traces.push(Vec::new());
            }
        }
    }
    for j in launched.workers {
        match j.join() {
            Ok(r) => {
                ended.traces.push(r.traces);
                ended.waits.push(r.waits);
            }
            Err(e) => {
                ended.failures.push(e.to_string());
                ended.traces.push(Vec::new());
                ended.waits.push(Vec::new());
            }
        }
    }
    ended
}
