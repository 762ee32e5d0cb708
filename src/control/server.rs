//! The control socket's server: started once the lcores run, stopped
//! (socket removed) before they are joined.
//!
//! It reads the lcores' counters directly (single writer, readable any
//! time) into a `RunSnapshot`, as the end-of-run report does. `clear
//! runtime|errors|interfaces` move part of a baseline snapshot here up to
//! now and `show` prints the snapshot minus it, so the lcores do nothing
//! and the end-of-run conservation check still sees whole-run totals.
//! Traces and ring waits are owned by the lcores: the server asks through
//! their mailboxes (see `pipeline::live`), with buffers it allocated.
//!
//! A thread per client, up to `MAX_CLIENTS` (one more gets a one-line JSON
//! error and is closed), rather than a poll loop: a request may block
//! (lcores answering, a filter compiling, a long trace rendering), and a
//! thread each keeps clients from waiting on each other without cutting
//! every request into steps. Each client thread waits on its socket in
//! `TICK` slices and looks at the stop flag between them. Shutdown waits
//! only for the accept thread (at most 3 TICKs; it never waits on a
//! client) and leaves client threads detached: they hold an `Arc` of what
//! they use, and once the run closes the view (`LiveView::close`) they
//! touch no lcore and no port.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::dpdk::{self, rdtsc};
use crate::nodes::ring_stats::wait_histogram;
use crate::nodes::PacketTrace;
use crate::pipeline::facts::{self, Collected, RunFacts};
use crate::pipeline::live::{
    Arm, LiveHook, LiveView, Reply, Request as LcoreRequest, ThreadState, MAX_LIVE_TRACE, TRACE_CAP,
};
use crate::pipeline::snapshot::{Baseline, Cleared, RunSnapshot};
use crate::report::{Sections, Shown};
use crate::trace::filter;

use super::protocol::{ClearWhat, Info, Request, Response, ShowWhat};

/// How long the server waits for an lcore to answer (it answers within a
/// loop, but a busy machine may keep it off its CPU a while); waits end
/// early when the run stops.
const LCORE_ANSWER: Duration = Duration::from_secs(2);
/// A client that says nothing (or reads nothing of a reply) for this long is dropped.
const CLIENT_IDLE: Duration = Duration::from_secs(10);
/// Longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;
/// Clients served at once.
pub const MAX_CLIENTS: usize = 16;
/// Packets one `show trace` reply shows, all threads together (under 1 KB
/// each, text or JSON).
pub const MAX_SHOWN: usize = 100_000;
/// How often a client's thread looks at the stop flag while its socket is quiet.
const TICK: Duration = Duration::from_millis(100);

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

/// The running server; dropping it stops it and removes the socket.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

/// What the client threads share.
struct Shared {
    view: Arc<LiveView>,
    stop: Arc<AtomicBool>,
    baseline: Mutex<Baseline>,
    clients: AtomicUsize,
    /// One `show trace` at a time: the memory a reply takes is one reply's.
    render: Mutex<()>,
}

impl Shared {
    fn baseline(&self) -> MutexGuard<'_, Baseline> {
        self.baseline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.view.stopping.load(Ordering::Acquire)
    }
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
        let shared = Arc::new(Shared {
            baseline: Mutex::new(Baseline::default()),
            view,
            stop: stop.clone(),
            clients: AtomicUsize::new(0),
            render: Mutex::new(()),
        });
        let accept = std::thread::Builder::new()
            .name("handoff-control".into())
            .spawn(move || accept_loop(listener, shared))
            .context("cannot start the control thread")?;
        log::info!("control socket {}", path.display());
        Ok(Server { path, stop, accept: Some(accept) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the blocking accept (from a thread of its own: a connect
        // waits while the backlog is full). Once woken, the accept thread
        // ends within a TICK; if it does not (never woken), it is left
        // detached, harmless: its clients find the view closed.
        let path = self.path.clone();
        let _ = std::thread::Builder::new().name("handoff-wake".into()).spawn(move || UnixStream::connect(path));
        if let Some(t) = self.accept.take() {
            let until = Instant::now() + 3 * TICK;
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A place among the `MAX_CLIENTS`, given back when its thread ends.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Option<Slot> {
        if shared.clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
            shared.clients.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                log::debug!("control socket: accept: {e}");
                std::thread::sleep(TICK);
                continue;
            }
        };
        let Some(slot) = Slot::take(&shared) else {
            refuse(conn);
            continue;
        };
        let spawned = std::thread::Builder::new().name("handoff-client".into()).spawn(move || {
            if let Err(e) = client(conn, &slot.0) {
                log::debug!("control client: {e:#}");
            }
        });
        if let Err(e) = spawned {
            log::warn!("control socket: cannot start a client thread: {e}");
        }
    }
}

/// One client too many: a line saying so (it fits the socket's buffer; a
/// TICK at most), then the connection closes.
fn refuse(mut conn: UnixStream) {
    let response = Response::error(format!(
        "{MAX_CLIENTS} clients are connected already, the most this forwarder serves at once; try again later"
    ));
    if let Ok(mut out) = serde_json::to_vec(&response) {
        out.push(b'\n');
        let _ = conn.set_write_timeout(Some(TICK));
        let _ = conn.write_all(&out);
    }
}

/// One client: requests and replies, a line each, until it hangs up, stays
/// quiet for CLIENT_IDLE, or the server stops.
fn client(conn: UnixStream, s: &Shared) -> Result<()> {
    conn.set_read_timeout(Some(TICK))?;
    conn.set_write_timeout(Some(TICK))?;
    let mut writer = conn.try_clone()?;
    let mut reader = BufReader::new(conn.take_limit());
    let mut line = Vec::new();
    loop {
        line.clear();
        if !read_request(&mut reader, &mut line, &s.stop)? {
            return Ok(());
        }
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(r) => answer(&r, s),
            Err(e) => Response::error(format!("bad request: {e}")),
        };
        let mut out = serde_json::to_vec(&response)?;
        drop(response);
        out.push(b'\n');
        write_reply(&mut writer, &out, &s.stop)?;
        reader.get_mut().reset();
    }
}

fn quiet(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), WouldBlock | TimedOut | Interrupted)
}

/// Reads one request line into `line`; false when there is none to answer
/// (hang-up, stop, or CLIENT_IDLE of silence).
fn read_request(reader: &mut BufReader<Limited>, line: &mut Vec<u8>, stop: &AtomicBool) -> Result<bool> {
    let since = Instant::now();
    loop {
        // A timed-out read keeps what it read in `line`: the next one goes on.
        match reader.read_until(b'\n', line) {
            Ok(0) => return Ok(!line.is_empty()),
            Ok(_) if line.ends_with(b"\n") => return Ok(true),
            Ok(_) => {}
            Err(e) if quiet(&e) => {}
            Err(e) => return Err(e.into()),
        }
        if stop.load(Ordering::Acquire) || since.elapsed() > CLIENT_IDLE {
            return Ok(false);
        }
    }
}

/// Writes a reply in TICK slices: a client that reads nothing for
/// CLIENT_IDLE, or the server stopping, ends it.
fn write_reply(w: &mut UnixStream, mut buf: &[u8], stop: &AtomicBool) -> Result<()> {
    let mut progress = Instant::now();
    while !buf.is_empty() {
        match w.write(buf) {
            Ok(0) => bail!("the client went away"),
            Ok(n) => {
                buf = &buf[n..];
                progress = Instant::now();
            }
            Err(e) if quiet(&e) => {
                if stop.load(Ordering::Acquire) {
                    bail!("the run is stopping");
                }
                if progress.elapsed() > CLIENT_IDLE {
                    bail!("the client reads nothing");
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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

fn answer(request: &Request, s: &Shared) -> Response {
    let result = match request {
        Request::Info => Ok(Response::json(serde_json::to_value(info(&s.view)).unwrap_or_default())),
        Request::Show { what, json, max } => show(*what, *json, *max, s),
        Request::TraceAdd { count, filter } => trace_add(*count, filter.as_deref(), s),
        Request::Clear { what } => clear(*what, s),
    };
    result.unwrap_or_else(|e| Response::error(format!("{e:#}")))
}

/// The right to ask the lcores and read the ports, or why not.
fn open(view: &LiveView) -> Result<MutexGuard<'_, bool>> {
    view.while_open().ok_or_else(|| anyhow::anyhow!("the run is stopping"))
}

fn info(view: &LiveView) -> Info {
    Info {
        prefix: view.prefix.clone(),
        pid: std::process::id(),
        ports: view.port_names.clone(),
        uptime_seconds: view.started.elapsed().as_secs_f64(),
        tracing: view.armed.load(Ordering::Acquire),
    }
}

fn clear(what: ClearWhat, s: &Shared) -> Result<Response> {
    let view = &s.view;
    let (part, name) = match what {
        ClearWhat::Trace => {
            let _open = open(view)?;
            clear_trace(s);
            return Ok(Response::text("trace cleared\n".into()));
        }
        ClearWhat::Runtime => (Cleared::Runtime, "runtime"),
        ClearWhat::Errors => (Cleared::Errors, "errors"),
        ClearWhat::Interfaces => (Cleared::Interfaces, "interfaces"),
    };
    let now = if part == Cleared::Interfaces {
        let _open = open(view)?;
        capture(view, true)
    } else {
        // Lcore counters only: readable until the process ends.
        RunSnapshot::of_threads(&view.threads)
    };
    s.baseline().clear(part, &now, rdtsc());
    Ok(Response::text(format!("{name} cleared\n")))
}

/// Every counter now, raw (the caller holds `open`: ports are read).
fn capture(view: &LiveView, with_xstats: bool) -> RunSnapshot {
    RunSnapshot::capture(&view.threads, &view.ports, &view.rings, with_xstats)
}

/// The run as it is now, in the shape the end-of-run report reads, its
/// counters minus the `clear` baseline (the caller holds `open`: ports are
/// read); with `Trace`, at most `max` traces per thread are copied, and
/// each thread's count held comes back.
fn facts_now(s: &Shared, with: ShowWhat, max: usize) -> (RunFacts, Vec<u64>) {
    let view = &s.view;
    let mut counts = Vec::new();
    let traces = if with == ShowWhat::Trace {
        let held: Vec<_> = view.threads.iter().map(|t| t.held()).collect();
        counts = held.iter().map(|h| h.traces.len() as u64).collect();
        held.iter().map(|h| (h.traces.iter().take(max).copied().collect(), h.dropped)).collect()
    } else {
        Vec::new()
    };
    let waits = if with == ShowWhat::Handoff { ring_waits(s) } else { Vec::new() };
    let counters = s.baseline().shown(&capture(view, with == ShowWhat::Xstats));
    let collected =
        Collected { counters, traces, waits, seconds: view.started.elapsed().as_secs_f64(), now_tsc: rdtsc() };
    (facts::assemble(view, collected), counts)
}

fn show(what: ShowWhat, json: bool, max: Option<u32>, s: &Shared) -> Result<Response> {
    let view = &s.view;
    // At most MAX_SHOWN packets in all: a reply stays under about 100 MB.
    let per_thread = MAX_SHOWN / view.threads.len().max(1);
    let max = (max.unwrap_or(view.trace_display) as usize).min(per_thread);
    // Rendering a long trace takes memory: one at a time.
    let _render = (what == ShowWhat::Trace).then(|| s.render.lock().unwrap_or_else(|e| e.into_inner()));
    let (f, held) = {
        let _open = open(view)?;
        if what == ShowWhat::Trace {
            collect_traces(s);
        }
        facts_now(s, what, max)
    };
    let rows = Sections::build(&f, &[what], &Shown { trace_max: max, held: &held });
    Ok(if json { Response::json(what.json(&rows).context("JSON")?) } else { Response::text(what.text(&rows, max)) })
}

/// Copies every worker's ring-wait histograms (the worker adds its own into
/// the empty ones brought here: no allocation on the lcore). Under `open`.
fn ring_waits(s: &Shared) -> Vec<(crate::pipeline::topology::RingId, hdrhistogram::Histogram<u64>)> {
    let mut out = Vec::new();
    for t in s.view.threads.iter().filter(|t| !t.is_rx() && t.running()) {
        let rings = &t.thread.rings;
        let empty = rings.iter().map(|_| wait_histogram()).collect();
        let asked = t.mailbox.ask(LcoreRequest::Waits(empty), LCORE_ANSWER, &|| s.stopping());
        if let Some(Reply::Waits(hs)) = asked {
            out.extend(rings.iter().copied().zip(hs));
        }
    }
    out
}

/// Takes every lcore's trace buffer (giving it a fresh one of the same
/// size) into its held traces, so `show trace` sees what was caught so far. Under `open`.
fn collect_traces(s: &Shared) {
    let view = &s.view;
    let armed = view.armed.load(Ordering::Acquire) as usize;
    if armed == 0 {
        return;
    }
    let n_rx = view.topology.rx().len();
    for t in &view.threads {
        let cap = if t.is_rx() { armed } else { armed * n_rx };
        let got = swap_traces(s, t, Vec::with_capacity(cap), None);
        t.held().keep(got.unwrap_or_default());
    }
}

/// Thread `t`'s trace buffer, swapped for `buffer`; an lcore that ended
/// has none, one that does not answer gives `Err`.
fn swap_traces(
    s: &Shared,
    t: &ThreadState,
    buffer: Vec<PacketTrace>,
    arm: Option<Arm>,
) -> Result<Vec<PacketTrace>, ()> {
    if !t.running() {
        return Ok(Vec::new());
    }
    match t.mailbox.ask(LcoreRequest::Trace { buffer, arm }, LCORE_ANSWER, &|| s.stopping()) {
        Some(Reply::Trace { traces, .. }) => Ok(traces),
        _ => Err(()),
    }
}

/// `trace add N`: every rx lcore traces N more packets from now (those the
/// filter accepts). The filter is compiled here, bounded in length and time
/// on a helper thread (see `trace::filter`), so a bad or slow one never
/// reaches an lcore. Workers are armed first, so they have room when
/// packets come.
fn trace_add(count: u32, filter: Option<&str>, s: &Shared) -> Result<Response> {
    let view = &s.view;
    if count == 0 || count > MAX_LIVE_TRACE {
        bail!("trace add {count}: the count must be 1-{MAX_LIVE_TRACE}");
    }
    if s.stopping() {
        bail!("the run is stopping");
    }
    let n_rx = view.topology.rx().len();
    let filters: Vec<Option<pcap::BpfProgram>> = match filter {
        Some(expr) => filter::compile_bounded(expr, n_rx, filter::COMPILE_DEADLINE, &|| s.stopping())?
            .into_iter()
            .map(Some)
            .collect(),
        None => (0..n_rx).map(|_| None).collect(),
    };
    let _open = open(view)?;
    // Threads that did not answer in time (a busy machine): armed late, if at all.
    let mut silent = Vec::new();
    for t in view.threads.iter().filter(|t| !t.is_rx()) {
        let limit = count * n_rx as u32;
        let got = swap_traces(s, t, Vec::with_capacity(limit as usize), Some(Arm { limit, filter: None }));
        silent.extend(got.is_err().then_some(t.thread.id));
        t.held().keep(got.unwrap_or_default());
    }
    for (t, filter) in view.threads.iter().filter(|t| t.is_rx()).zip(filters) {
        let got = swap_traces(s, t, Vec::with_capacity(count as usize), Some(Arm { limit: count, filter }));
        silent.extend(got.is_err().then_some(t.thread.id));
        t.held().keep(got.unwrap_or_default());
    }
    view.armed.store(count, Ordering::Release);
    let mut text = format!("tracing {count} packets on each of {n_rx} rx threads\n");
    let number = |id: crate::ids::ThreadId| id.0.to_string();
    // "thread 1" or "threads 1, 2"
    let threads = |v: Vec<String>| format!("thread{} {}", if v.len() > 1 { "s" } else { "" }, v.join(", "));
    if !silent.is_empty() {
        let silent: Vec<String> = silent.into_iter().map(number).collect();
        text.push_str(&format!(
            "{} did not answer within {} s: tracing starts once it does\n",
            threads(silent),
            LCORE_ANSWER.as_secs_f64()
        ));
    }
    let full: Vec<String> =
        view.threads.iter().filter(|t| t.held().traces.len() >= TRACE_CAP).map(|t| number(t.thread.id)).collect();
    if !full.is_empty() {
        text.push_str(&format!(
            "trace buffer full on {} ({TRACE_CAP} packets each): newer traces are dropped until clear trace\n",
            threads(full)
        ));
    }
    Ok(Response::text(text))
}

/// `clear trace`: empties the buffers (the lcores' and those held) and stops tracing. Under `open`.
fn clear_trace(s: &Shared) {
    let view = &s.view;
    for t in &view.threads {
        let _ = swap_traces(s, t, Vec::new(), Some(Arm { limit: 0, filter: None }));
        t.held().clear();
    }
    view.armed.store(0, Ordering::Release);
}
