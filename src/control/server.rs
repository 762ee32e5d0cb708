//! The control socket's server: a thread of its own, started once the
//! lcores run and stopped (socket removed) before they are joined.
//!
//! It reads the lcores' counters directly (single writer, readable any
//! time). `clear runtime|errors` keep a baseline here and show counters
//! minus it, so the lcores do nothing and the end-of-run conservation
//! check still sees whole-run totals. Traces and ring waits are owned by
//! the lcores: the server asks through their mailboxes (see
//! `pipeline::live`), with buffers it allocated.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::dpdk::{self, rdtsc};
use crate::nodes::counters::LcoreCounters;
use crate::nodes::ring_stats::wait_histogram;
use crate::nodes::{Node, PacketTrace, Reason};
use crate::pipeline::facts::{RingFacts, RunFacts, ThreadFacts};
use crate::pipeline::live::{Arm, LiveHook, LiveView, Reply, Request as LcoreRequest};
use crate::report::{self, text};

use super::protocol::{ClearWhat, Info, Request, Response, ShowWhat};

/// How long the server waits for an lcore to answer (it answers within a loop).
const LCORE_ANSWER: Duration = Duration::from_millis(500);
/// A client that says nothing for this long is dropped.
const CLIENT_IDLE: Duration = Duration::from_secs(10);
/// Longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;

/// Starts the control socket for `pipeline::run`.
pub struct ControlSocket;

impl LiveHook for ControlSocket {
    fn started(&self, view: Arc<LiveView>) -> Option<Box<dyn std::any::Any>> {
        match Server::start(view) {
            Ok(s) => Some(Box::new(s)),
            Err(e) => {
                log::warn!("no control socket (handoff show ... will not reach this run): {e:#}");
                None
            }
        }
    }
}

/// The running server; dropping it stops the thread and removes the socket.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(view: Arc<LiveView>) -> Result<Server> {
        let path = view.runtime_dir.join(dpdk::runtime_files::CONTROL_SOCKET);
        // This run's EAL holds the prefix's lock: a socket left here is stale.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).with_context(|| format!("cannot bind {}", path.display()))?;
        // Only the owner may ask (the directory is 0700 already).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("handoff-control".into())
            .spawn(move || serve(listener, view, stop2))
            .context("cannot start the control thread")?;
        log::info!("control socket {}", path.display());
        Ok(Server { path, stop, thread: Some(thread) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the blocking accept.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: UnixListener, view: Arc<LiveView>, stop: Arc<AtomicBool>) {
    let mut state = State::new(&view);
    for conn in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(conn) = conn else { continue };
        if let Err(e) = client(conn, &view, &mut state) {
            log::debug!("control client: {e:#}");
        }
    }
}

/// One client: requests and replies, a line each, until it hangs up.
fn client(conn: UnixStream, view: &LiveView, state: &mut State) -> Result<()> {
    conn.set_read_timeout(Some(CLIENT_IDLE))?;
    conn.set_write_timeout(Some(CLIENT_IDLE))?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn.take_limit());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let response = match serde_json::from_str::<Request>(line.trim()) {
            Ok(r) => answer(&r, view, state),
            Err(e) => Response::error(format!("bad request: {e}")),
        };
        let mut out = serde_json::to_string(&response)?;
        out.push('\n');
        writer.write_all(out.as_bytes())?;
        reader.get_mut().reset();
    }
}

/// A stream that reads at most MAX_REQUEST bytes per request line.
struct Limited {
    conn: UnixStream,
    left: u64,
}

trait TakeLimit {
    fn take_limit(self) -> Limited;
}

impl TakeLimit for UnixStream {
    fn take_limit(self) -> Limited {
        Limited { conn: self, left: MAX_REQUEST }
    }
}

impl Limited {
    fn reset(&mut self) {
        self.left = MAX_REQUEST;
    }
}

impl std::io::Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request line too long"));
        }
        let max = buf.len().min(self.left as usize);
        let n = self.conn.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn answer(request: &Request, view: &LiveView, state: &mut State) -> Response {
    let result = match request {
        Request::Info => Ok(Response::json(serde_json::to_value(info(view)).unwrap_or_default())),
        Request::Show { what, json } => show(*what, *json, view, state),
        Request::TraceAdd { count, filter } => trace_add(*count, filter.as_deref(), view),
        Request::Clear { what } => clear(*what, view, state),
    };
    result.unwrap_or_else(|e| Response::error(format!("{e:#}")))
}

fn info(view: &LiveView) -> Info {
    Info {
        prefix: view.prefix.clone(),
        pid: std::process::id(),
        ports: view.port_names.clone(),
        uptime_seconds: view.started.elapsed().as_secs_f64(),
        tracing: view.trace_store().armed,
    }
}

/// Counter values at the last `clear`, per thread: shown counters are the
/// live ones minus these.
struct Baseline {
    nodes: [(u64, u64, u64); Node::COUNT],
    errors: [u64; Reason::COUNT],
    transmitted: u64,
    /// TSC of the last `clear runtime` (the shown time starts there).
    runtime_tsc: u64,
}

struct State {
    baselines: Vec<Baseline>,
}

impl State {
    fn new(view: &LiveView) -> State {
        let zero =
            || Baseline { nodes: [(0, 0, 0); Node::COUNT], errors: [0; Reason::COUNT], transmitted: 0, runtime_tsc: 0 };
        State { baselines: view.counters.iter().map(|_| zero()).collect() }
    }
}

fn clear(what: ClearWhat, view: &LiveView, state: &mut State) -> Result<Response> {
    match what {
        ClearWhat::Trace => {
            clear_trace(view)?;
            return Ok(Response::text("trace cleared\n".into()));
        }
        ClearWhat::Runtime => {
            let now = rdtsc();
            for (b, c) in state.baselines.iter_mut().zip(&view.counters) {
                for n in Node::ALL {
                    b.nodes[n as usize] = c.node_snapshot(n);
                }
                b.runtime_tsc = now;
            }
        }
        ClearWhat::Errors => {
            for (b, c) in state.baselines.iter_mut().zip(&view.counters) {
                for r in Reason::ALL {
                    b.errors[r as usize] = c.error_count(r);
                }
                b.transmitted = c.transmitted.load(Ordering::Acquire);
            }
        }
    }
    Ok(Response::text(format!("{} cleared\n", if what == ClearWhat::Runtime { "runtime" } else { "errors" })))
}

/// A thread's counters as shown: live minus the baseline.
fn shown(c: &LcoreCounters, b: &Baseline) -> LcoreCounters {
    let out = LcoreCounters::default();
    let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
    for n in Node::ALL {
        let (calls, vectors, clocks) = c.node_snapshot(n);
        let (bc, bv, bk) = b.nodes[n as usize];
        out.node(n, calls.saturating_sub(bc), vectors.saturating_sub(bv), clocks.saturating_sub(bk));
    }
    for r in Reason::ALL {
        out.error(r, c.error_count(r).saturating_sub(b.errors[r as usize]));
    }
    set(&out.transmitted, c.transmitted.load(Ordering::Acquire).saturating_sub(b.transmitted));
    for (a, v) in [
        (&out.loops, &c.loops),
        (&out.last_128_vectors, &c.last_128_vectors),
        (&out.last_128_calls, &c.last_128_calls),
        (&out.end_tsc, &c.end_tsc),
    ] {
        set(a, v.load(Ordering::Acquire));
    }
    set(&out.start_tsc, c.start_tsc.load(Ordering::Acquire).max(b.runtime_tsc));
    out.input_exhausted.store(c.input_exhausted.load(Ordering::Acquire), Ordering::Relaxed);
    for (i, (sent, refused)) in c.pair_sent.iter().zip(&c.pair_refused).enumerate() {
        set(&out.pair_sent[i], sent.load(Ordering::Acquire));
        set(&out.pair_refused[i], refused.load(Ordering::Acquire));
    }
    out
}

/// The run as it is now, in the shape the end-of-run report reads.
fn facts_now(view: &LiveView, state: &State, with: &ShowWhat) -> RunFacts {
    let traces = if *with == ShowWhat::Trace { view.trace_store().threads.clone() } else { Vec::new() };
    let threads = view
        .counters
        .iter()
        .zip(&state.baselines)
        .enumerate()
        .map(|(i, (c, b))| ThreadFacts {
            counters: Arc::new(shown(c, b)),
            traces: traces.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    let waits = if *with == ShowWhat::Handoff { ring_waits(view) } else { Vec::new() };
    let rings = view
        .rings
        .iter()
        .map(|(id, stats)| RingFacts {
            id: *id,
            counts: stats.counts(),
            waits: waits.iter().find(|(r, _)| r == id).map(|(_, h)| h.clone()),
        })
        .collect();
    let xstats = if *with == ShowWhat::Xstats {
        view.ports.iter().map(|p| (p.id, dpdk::port::xstats(p.id))).collect()
    } else {
        Vec::new()
    };
    RunFacts {
        topology: view.topology.clone(),
        threads,
        interfaces: view.ports.iter().map(|p| (p.clone(), dpdk::port::stats(p.id))).collect(),
        port_names: view.port_names.clone(),
        dynflags: view.dynflags.clone(),
        tsc_hz: view.tsc_hz,
        start_tsc: view.start_tsc,
        start_unix: view.start_unix,
        seconds: view.started.elapsed().as_secs_f64(),
        mbufs_total: 0,
        mbufs_free: 0,
        file_checks: Vec::new(),
        rings,
        pairs: view.pairs.clone(),
        xstats,
        now_tsc: rdtsc(),
    }
}

fn show(what: ShowWhat, json: bool, view: &LiveView, state: &State) -> Result<Response> {
    if what == ShowWhat::Trace {
        collect_traces(view);
    }
    let f = facts_now(view, state, &what);
    let threads = report::counted(&f);
    let value = |v: Result<serde_json::Value, serde_json::Error>| v.context("JSON");
    Ok(match what {
        ShowWhat::Errors => {
            let rows = report::errors(&threads);
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_errors(&rows))
            }
        }
        ShowWhat::Runtime => {
            let rows = report::runtime(&threads, f.tsc_hz, f.now_tsc);
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_runtime(&rows))
            }
        }
        ShowWhat::Interfaces | ShowWhat::Xstats => {
            let rows = report::interfaces(&f);
            let x = what == ShowWhat::Xstats;
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_interfaces(&rows, x))
            }
        }
        ShowWhat::Trace => {
            let rows = report::traces(&f);
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_trace(&rows, usize::MAX))
            }
        }
        ShowWhat::Handoff => {
            let rows = report::handoff(&f);
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_handoff(&rows))
            }
        }
        ShowWhat::Pairs => {
            let rows = report::pairs(&f, &threads);
            if json {
                Response::json(value(serde_json::to_value(rows))?)
            } else {
                Response::text(text::show_pairs(&rows))
            }
        }
    })
}

/// Whether thread `i`'s loop still runs (and so answers its mailbox).
fn running(view: &LiveView, i: usize) -> bool {
    let c = &view.counters[i];
    c.end_tsc.load(Ordering::Acquire) == 0 && !(i < view.topology.rx().len() && c.done.load(Ordering::Acquire))
}

/// Copies every worker's ring-wait histograms (the worker adds its own into
/// the empty ones brought here: no allocation on the lcore).
fn ring_waits(view: &LiveView) -> Vec<(crate::pipeline::topology::RingId, hdrhistogram::Histogram<u64>)> {
    let n_rx = view.topology.rx().len();
    let mut out = Vec::new();
    for (w, thread) in view.topology.workers().iter().enumerate() {
        if !running(view, n_rx + w) {
            continue;
        }
        let empty = thread.rings.iter().map(|_| wait_histogram()).collect();
        if let Some(Reply::Waits(hs)) = view.mailboxes[n_rx + w].ask(LcoreRequest::Waits(empty), LCORE_ANSWER) {
            out.extend(thread.rings.iter().copied().zip(hs));
        }
    }
    out
}

/// Takes every lcore's trace buffer (giving it a fresh one of the same
/// size) into the store, so `show trace` sees what was caught so far.
fn collect_traces(view: &LiveView) {
    let armed = view.trace_store().armed as usize;
    if armed == 0 {
        return;
    }
    let n_rx = view.topology.rx().len();
    for i in 0..view.counters.len() {
        let cap = if i < n_rx { armed } else { armed * n_rx };
        let got = swap_traces(view, i, Vec::with_capacity(cap), None);
        store_traces(view, i, got);
    }
}

fn swap_traces(view: &LiveView, i: usize, buffer: Vec<PacketTrace>, arm: Option<Arm>) -> Vec<PacketTrace> {
    if !running(view, i) {
        return Vec::new();
    }
    match view.mailboxes[i].ask(LcoreRequest::Trace { buffer, arm }, LCORE_ANSWER) {
        Some(Reply::Trace { traces, .. }) => traces,
        _ => Vec::new(),
    }
}

fn store_traces(view: &LiveView, i: usize, traces: Vec<PacketTrace>) {
    if traces.is_empty() {
        return;
    }
    let mut store = view.trace_store();
    if store.threads.len() < view.counters.len() {
        store.threads.resize_with(view.counters.len(), Vec::new);
    }
    store.threads[i].extend(traces);
}

/// `trace add N`: every rx lcore traces N more packets from now (those the
/// filter accepts); the filter is compiled here, so a bad one never reaches
/// an lcore. Workers are armed first, so they have room when packets come.
fn trace_add(count: u32, filter: Option<&str>, view: &LiveView) -> Result<Response> {
    if count == 0 || count > crate::pipeline::live::MAX_LIVE_TRACE {
        anyhow::bail!("trace add {count}: the count must be 1-{}", crate::pipeline::live::MAX_LIVE_TRACE);
    }
    if view.stopping.load(Ordering::Acquire) {
        anyhow::bail!("the run is stopping");
    }
    let n_rx = view.topology.rx().len();
    let mut filters = Vec::with_capacity(n_rx);
    for _ in 0..n_rx {
        filters.push(filter.map(crate::trace::filter::compile).transpose()?);
    }
    for i in n_rx..view.counters.len() {
        let limit = count * n_rx as u32;
        let got = swap_traces(view, i, Vec::with_capacity(limit as usize), Some(Arm { limit, filter: None }));
        store_traces(view, i, got);
    }
    for (i, filter) in filters.into_iter().enumerate() {
        let got = swap_traces(view, i, Vec::with_capacity(count as usize), Some(Arm { limit: count, filter }));
        store_traces(view, i, got);
    }
    view.trace_store().armed = count;
    Ok(Response::text(format!("tracing {count} packets on each of {n_rx} rx threads\n")))
}

/// `clear trace`: empties the buffers (the lcores' and the store) and stops tracing.
fn clear_trace(view: &LiveView) -> Result<()> {
    for i in 0..view.counters.len() {
        drop(swap_traces(view, i, Vec::new(), Some(Arm { limit: 0, filter: None })));
    }
    let mut store = view.trace_store();
    store.threads.clear();
    store.armed = 0;
    Ok(())
}
