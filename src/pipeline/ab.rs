//! The flipping side of an in-process A/B (feature `ab`, `scripts/ab.sh`):
//! a thread that switches `ab::b()` every `HANDOFF_AB_MS` milliseconds
//! (default 10), reads the lcores' counters at each switch, and at the end
//! prints to stderr how each variant did. Windows are compared in adjacent
//! pairs (B against the mean of the A windows on either side), so the VM's
//! slow spells, which last seconds, hit both variants of a pair alike.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::dpdk::rdtsc;
use crate::nodes::counters::LcoreCounters;
use crate::nodes::Node;

use super::live::ThreadState;

/// Windows skipped at the start: ports and caches warming up.
const WARMUP_WINDOWS: usize = 20;

/// What one window counted: packets out of the workers, and per node the
/// (vectors, clocks) it ran.
#[derive(Clone, Copy)]
struct Window {
    b: bool,
    tsc: u64,
    out: u64,
    nodes: [(u64, u64); Node::COUNT],
}

struct Reading {
    tsc: u64,
    out: u64,
    nodes: [(u64, u64); Node::COUNT],
}

fn read(threads: &[Arc<LcoreCounters>], workers: &[Arc<LcoreCounters>]) -> Reading {
    let mut nodes = [(0, 0); Node::COUNT];
    for c in threads {
        for (n, slot) in nodes.iter_mut().enumerate() {
            let (_, v, k) = c.node_snapshot(Node::ALL[n]);
            *slot = (slot.0 + v, slot.1 + k);
        }
    }
    Reading { tsc: rdtsc(), out: workers.iter().map(|c| c.left()).sum(), nodes }
}

pub struct AbThread {
    handle: JoinHandle<()>,
}

/// Starts flipping; the thread ends (and reports) once `stop` is set.
pub fn start(threads: &[ThreadState], stop: Arc<AtomicBool>, tsc_hz: u64) -> AbThread {
    let period = std::env::var("HANDOFF_AB_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10u64).max(1);
    let all: Vec<_> = threads.iter().map(|t| t.counters.clone()).collect();
    let workers: Vec<_> = threads.iter().filter(|t| !t.is_rx()).map(|t| t.counters.clone()).collect();
    let handle = std::thread::spawn(move || {
        let mut windows = Vec::with_capacity(1 << 16);
        let mut b = false;
        crate::ab::set_b(b);
        let mut last = read(&all, &workers);
        while !stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(period));
            b = !b;
            crate::ab::set_b(b);
            let now = read(&all, &workers);
            let nodes = std::array::from_fn(|n| (now.nodes[n].0 - last.nodes[n].0, now.nodes[n].1 - last.nodes[n].1));
            windows.push(Window { b: !b, tsc: now.tsc - last.tsc, out: now.out - last.out, nodes });
            last = now;
        }
        crate::ab::set_b(false);
        if let Ok(path) = std::env::var("HANDOFF_AB_SAVE") {
            save(&path, &windows, tsc_hz);
        }
        for line in summary(&windows[WARMUP_WINDOWS.min(windows.len())..], tsc_hz, period) {
            crate::console::errln(&line);
        }
    });
    AbThread { handle }
}

impl AbThread {
    pub fn join(self) {
        let _ = self.handle.join();
    }
}

/// Every window as a line: variant, Mpps out, then each node's clocks per packet.
fn save(path: &str, windows: &[Window], tsc_hz: u64) {
    let mut text = String::new();
    for w in windows {
        text.push_str(&format!("{} {:.3}", if w.b { "B" } else { "A" }, mpps(w, tsc_hz)));
        for (v, k) in w.nodes {
            text.push_str(&format!(" {:.1}", if v > 0 { k as f64 / v as f64 } else { 0.0 }));
        }
        text.push('\n');
    }
    if let Err(e) = std::fs::write(path, text) {
        crate::console::errln(&format!("ab: cannot write {path}: {e}"));
    }
}

fn mpps(w: &Window, tsc_hz: u64) -> f64 {
    w.out as f64 * tsc_hz as f64 / w.tsc.max(1) as f64 / 1e6
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The report: per B window, its rate over the mean of the A windows on
/// either side; the quartiles of those ratios; each variant's median rate
/// and each node's clocks per packet.
fn summary(windows: &[Window], tsc_hz: u64, period: u64) -> Vec<String> {
    let mut ratios = Vec::new();
    for i in 1..windows.len().saturating_sub(1) {
        let (before, w, after) = (&windows[i - 1], &windows[i], &windows[i + 1]);
        if !w.b || before.b || after.b {
            continue;
        }
        let a = (mpps(before, tsc_hz) + mpps(after, tsc_hz)) / 2.0;
        if a > 0.0 {
            ratios.push(mpps(w, tsc_hz) / a);
        }
    }
    ratios.sort_by(f64::total_cmp);
    let ahead = ratios.iter().filter(|&&r| r > 1.0).count();
    let rates = |b: bool| {
        let mut v: Vec<f64> = windows.iter().filter(|w| w.b == b).map(|w| mpps(w, tsc_hz)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (ra, rb) = (rates(false), rates(true));
    let mut lines = vec![
        format!("ab: {} windows of {period} ms, {} pairs", windows.len(), ratios.len()),
        format!(
            "ab: Mpps out: A median {:.2} (q1 {:.2}, q3 {:.2}), B median {:.2} (q1 {:.2}, q3 {:.2})",
            quantile(&ra, 0.5),
            quantile(&ra, 0.25),
            quantile(&ra, 0.75),
            quantile(&rb, 0.5),
            quantile(&rb, 0.25),
            quantile(&rb, 0.75)
        ),
        format!(
            "ab: B/A per pair: median {:.3} (q1 {:.3}, q3 {:.3}), B ahead in {ahead} of {}",
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
            ratios.len()
        ),
    ];
    let mut nodes = String::from("ab: clocks/packet A | B:");
    for (n, node) in Node::ALL.iter().enumerate() {
        let per = |b: bool| {
            let (v, k) =
                windows.iter().filter(|w| w.b == b).fold((0u64, 0u64), |s, w| (s.0 + w.nodes[n].0, s.1 + w.nodes[n].1));
            (v > 0).then(|| k as f64 / v as f64)
        };
        if let (Some(a), Some(b)) = (per(false), per(true)) {
            nodes.push_str(&format!(" {} {a:.1} | {b:.1},", node.name()));
        }
    }
    lines.push(nodes.trim_end_matches(',').to_string());
    lines
}
