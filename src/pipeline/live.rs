//! What a running forwarder shows to the control socket, and how requests
//! reach the lcores without slowing them.
//!
//! Counters are single-writer atomics the control thread reads at any time.
//! What an lcore owns (its trace buffer, its ring-wait histograms) is
//! exchanged through its `Mailbox`: the control thread puts one request in
//! a lock-free queue and raises a flag; the lcore reads the flag once per
//! loop (one relaxed load), and when it is up swaps buffers the control
//! thread allocated (never allocating or freeing itself) and puts the old
//! ones in the reply queue. One request per lcore is in flight at a time.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;

use crate::dpdk::PortInfo;
use crate::nodes::counters::LcoreCounters;
use crate::nodes::ring_stats::RingStats;
use crate::nodes::PacketTrace;

use super::topology::{RingId, Role, Thread, Topology};

/// Most packets one rx lcore can trace, from the start (`--trace`) or
/// armed live (`trace add`); each costs a few hundred bytes, preallocated.
pub const MAX_LIVE_TRACE: u32 = 100_000;

/// Most traces held per thread, for `show trace` and the end-of-run
/// report: like VPP's trace buffer, a full one keeps its first packets and
/// drops newer ones (counted), until `clear trace` empties it.
pub const TRACE_CAP: usize = 100_000;

/// (Re)arms an rx lcore's tracer: trace `limit` more packets from now,
/// those `filter` accepts (0 disarms).
pub struct Arm {
    pub limit: u32,
    pub filter: Option<pcap::BpfProgram>,
}

/// What the control thread asks of an lcore.
pub enum Request {
    /// Take `buffer` (empty, allocated by the control thread) as the trace
    /// buffer, hand back the current one; `arm` also sets a new limit.
    Trace { buffer: Vec<PacketTrace>, arm: Option<Arm> },
    /// Copy the ring-wait histograms into these (same bounds: no allocation).
    Waits(Vec<Histogram<u64>>),
}

/// An lcore's answer, with whatever it let go of (freed by the control thread).
pub enum Reply {
    Trace { traces: Vec<PacketTrace>, old_filter: Option<pcap::BpfProgram> },
    Waits(Vec<Histogram<u64>>),
}

/// One lcore's request slot.
pub struct Mailbox {
    pending: AtomicBool,
    requests: ArrayQueue<Request>,
    replies: ArrayQueue<Reply>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox { pending: AtomicBool::new(false), requests: ArrayQueue::new(1), replies: ArrayQueue::new(1) }
    }
}

impl Mailbox {
    /// Lcore, once per loop: whether a request waits (one relaxed load).
    #[inline(always)]
    pub fn has_request(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Lcore: takes the request (rare path).
    pub fn take(&self) -> Option<Request> {
        self.pending.store(false, Ordering::Relaxed);
        self.requests.pop()
    }

    /// Lcore: answers (the queue has room: one request is in flight at a time).
    pub fn answer(&self, reply: Reply) {
        let _ = self.replies.push(reply);
    }

    /// Control thread: asks and waits for the answer, at most `limit`, and
    /// no longer once `give_up` says so (the run stops: an lcore told to
    /// stop may never answer).
    pub fn ask(&self, request: Request, limit: Duration, give_up: &dyn Fn() -> bool) -> Option<Reply> {
        // A late answer to an earlier request that timed out goes now.
        while self.replies.pop().is_some() {}
        if self.requests.push(request).is_err() {
            return None;
        }
        self.pending.store(true, Ordering::Release);
        let start = Instant::now();
        loop {
            if let Some(r) = self.replies.pop() {
                return Some(r);
            }
            if start.elapsed() > limit || give_up() {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// After the lcore ended: an answer nobody waited for (its traces
    /// still belong in the report).
    pub fn late_reply(&self) -> Option<Reply> {
        self.replies.pop()
    }
}

/// One data-path thread's shared state, built once at launch: who it is,
/// the counters it writes and the mailbox it answers. Every reader (the
/// lcore jobs, supervise, the control socket, metrics, the report) takes
/// a thread's state from here, never by index arithmetic.
#[derive(Clone)]
pub struct ThreadState {
    pub thread: Thread,
    pub counters: Arc<LcoreCounters>,
    pub mailbox: Arc<Mailbox>,
    /// The traces the control socket took from it (the control thread's alone).
    pub held: Arc<Mutex<HeldTraces>>,
}

impl ThreadState {
    pub fn new(thread: Thread) -> ThreadState {
        ThreadState { thread, counters: Arc::default(), mailbox: Arc::default(), held: Arc::default() }
    }

    pub fn held(&self) -> std::sync::MutexGuard<'_, HeldTraces> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_rx(&self) -> bool {
        matches!(self.thread.role, Role::Rx { .. })
    }

    /// Whether its loop still runs (and so answers its mailbox): an rx
    /// lcore is done after its last enqueue, a worker once it ended.
    pub fn running(&self) -> bool {
        self.counters.end_tsc.load(Ordering::Acquire) == 0
            && !(self.is_rx() && self.counters.done.load(Ordering::Acquire))
    }
}

/// Traces the control thread collected from one lcore; `clear trace`
/// empties them. Never touched by an lcore.
#[derive(Default)]
pub struct HeldTraces {
    /// At most `TRACE_CAP`.
    pub traces: Vec<PacketTrace>,
    /// Traces dropped because `traces` held `TRACE_CAP`.
    pub dropped: u64,
}

impl HeldTraces {
    /// Adds `traces` after those held, up to `TRACE_CAP`; the rest are
    /// counted dropped.
    pub fn keep(&mut self, mut traces: Vec<PacketTrace>) {
        let room = TRACE_CAP.saturating_sub(self.traces.len());
        if traces.len() > room {
            self.dropped += (traces.len() - room) as u64;
            traces.truncate(room);
        }
        if self.traces.is_empty() {
            // The lcore's buffer itself, without a copy; its spare room goes.
            traces.shrink_to_fit();
            self.traces = traces;
        } else {
            self.traces.extend(traces);
        }
    }

    /// Empties it (`clear trace`): the drop count starts again too.
    pub fn clear(&mut self) {
        *self = HeldTraces::default();
    }
}

/// Everything the control socket reads while a run goes on.
pub struct LiveView {
    pub prefix: String,
    /// The runtime directory (EAL's, 0700): the socket lives in it.
    pub runtime_dir: std::path::PathBuf,
    pub topology: Topology,
    /// Per thread, in topology order.
    pub threads: Vec<ThreadState>,
    pub rings: Vec<(RingId, Arc<RingStats>)>,
    pub ports: Vec<PortInfo>,
    pub port_names: Vec<String>,
    pub dynflags: Vec<(u64, String)>,
    /// Port pairs (rx port, tx port) of `--output A:B,...`.
    pub pairs: Vec<(u16, u16)>,
    pub tsc_hz: u64,
    pub start_tsc: u64,
    pub start_unix: Duration,
    pub started: Instant,
    /// Packets each rx lcore was last armed to trace (buffers are sized by it).
    pub armed: AtomicU32,
    /// Set once the lcores are told to stop: requests are refused from then.
    pub stopping: Arc<AtomicBool>,
    /// Packets per thread `show trace` prints unless asked for more.
    pub trace_display: u32,
    /// Held while a client asks the lcores (one request per lcore in
    /// flight) or reads the ports through DPDK; false once the run closes
    /// them (`close`): from then clients only get "the run is stopping".
    pub open: Mutex<bool>,
}

impl LiveView {
    /// The right to ask the lcores and read the ports, while the run has them.
    pub fn while_open(&self) -> Option<std::sync::MutexGuard<'_, bool>> {
        let g = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let open = *g;
        open.then_some(g)
    }

    /// Before the ports close and the traces are taken: waits for a request
    /// in flight (bounded: lcore asks give up once the server stops), then
    /// refuses any other.
    pub fn close(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = false;
    }
}

/// Starts and stops the control socket: given by the layer above the
/// pipeline (the pipeline cannot import the report it serves).
pub trait LiveHook {
    /// Called once the lcores run; the returned guard stops the server when dropped.
    fn started(&self, view: Arc<LiveView>) -> Option<Box<dyn std::any::Any>>;
}

/// No control socket (tests of the pipeline alone).
pub struct NoLive;

impl LiveHook for NoLive {
    fn started(&self, _view: Arc<LiveView>) -> Option<Box<dyn std::any::Any>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_traces_keep_the_first_and_count_the_rest() {
        let mut held = HeldTraces::default();
        held.keep(vec![PacketTrace::default(); TRACE_CAP - 10]);
        assert_eq!((held.traces.len(), held.dropped), (TRACE_CAP - 10, 0));
        held.keep(vec![PacketTrace::default(); 25]);
        assert_eq!((held.traces.len(), held.dropped), (TRACE_CAP, 15));
        held.keep(vec![PacketTrace::default(); 5]);
        assert_eq!((held.traces.len(), held.dropped), (TRACE_CAP, 20));
        held.clear();
        assert_eq!((held.traces.len(), held.dropped), (0, 0));
    }
}
