//! What thread 0 prints while a run goes on: `--stats-interval` lines
//! (totals, then per port rx/tx pps and bps, then per ring congestion drops
//! and occupancy, each apart from the others), redrawn in place on a
//! terminal, plain lines in a pipe; and the progress of a finite input
//! (indicatif, on a terminal only).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use crate::dpdk;
use crate::nodes::counters::LcoreCounters;
use crate::nodes::ring_stats::RingStats;

use super::topology::RingId;

/// One reading of everything a stats line shows.
struct Reading {
    at: Instant,
    received: u64,
    left: u64,
    ports: Vec<dpdk::PortStats>,
    rings: Vec<(u64, u64, u64)>,
}

pub struct StatsPrinter {
    ports: Vec<(u16, String)>,
    rings: Vec<(RingId, Arc<RingStats>)>,
    last: Option<Reading>,
    terminal: bool,
    /// Lines the last redraw wrote (a terminal redraws over them).
    drawn: usize,
    progress: Option<indicatif::ProgressBar>,
}

impl StatsPrinter {
    /// `expected`: packets the finite inputs hold (progress), None for live inputs.
    pub fn new(ports: Vec<(u16, String)>, rings: Vec<(RingId, Arc<RingStats>)>, expected: Option<u64>) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let progress = expected.filter(|&n| terminal && n > 0).map(|n| {
            let bar = indicatif::ProgressBar::new(n);
            let style = indicatif::ProgressStyle::with_template(
                "{percent:>3}% [{bar:40}] {human_pos}/{human_len} packets, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar
        });
        StatsPrinter { ports, rings, last: None, terminal, drawn: 0, progress }
    }

    /// Whether progress is drawn (thread 0 then ticks it).
    pub fn has_progress(&self) -> bool {
        self.progress.is_some()
    }

    pub fn tick_progress(&mut self, counters: &[Arc<LcoreCounters>]) {
        if !crate::console::stderr_ok() {
            self.stop_progress();
        }
        if let Some(p) = &self.progress {
            p.set_position(counters.iter().map(|c| c.snapshot().received()).sum());
        }
    }

    /// Stderr is gone: the bar is dropped without drawing again.
    fn stop_progress(&mut self) {
        if let Some(p) = self.progress.take() {
            p.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
    }

    pub fn finish(&self) {
        if let Some(p) = &self.progress {
            p.finish_and_clear();
        }
    }

    fn read(&self, counters: &[Arc<LcoreCounters>]) -> Reading {
        let (received, left) =
            counters.iter().map(|c| c.snapshot()).fold((0, 0), |(r, l), c| (r + c.received(), l + c.left()));
        Reading {
            at: Instant::now(),
            received,
            left,
            ports: self.ports.iter().map(|(id, _)| dpdk::port::stats(*id)).collect(),
            rings: self
                .rings
                .iter()
                .map(|(_, s)| {
                    let c = s.counts();
                    (c.dropped, c.enqueued.saturating_sub(c.dequeued), c.stalls)
                })
                .collect(),
        }
    }

    /// The first call only takes a reading; later ones print the rates since the last.
    pub fn interval(&mut self, counters: &[Arc<LcoreCounters>]) {
        if !crate::console::stderr_ok() {
            self.stop_progress();
            return;
        }
        let now = self.read(counters);
        let Some(then) = self.last.replace(now) else { return };
        let now = self.last.as_ref().expect("just set");
        let lines = self.lines(&then, now);
        self.print(&lines);
    }

    fn lines(&self, then: &Reading, now: &Reading) -> Vec<String> {
        let dt = now.at.duration_since(then.at).as_secs_f64().max(1e-9);
        let rate = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / dt;
        let mut lines = vec![format!(
            "handoff: rx {:.0} pps, out+drop {:.0} pps, total rx {} left {} in flight {}",
            rate(then.received, now.received),
            rate(then.left, now.left),
            now.received,
            now.left,
            now.received.saturating_sub(now.left)
        )];
        for (((_, name), a), b) in self.ports.iter().zip(&then.ports).zip(&now.ports) {
            lines.push(format!(
                "handoff:   port {name}: rx {:.0} pps {:.0} bps, tx {:.0} pps {:.0} bps, rx missed {} no-buf {}",
                rate(a.rx_packets, b.rx_packets),
                8.0 * rate(a.rx_bytes, b.rx_bytes),
                rate(a.tx_packets, b.tx_packets),
                8.0 * rate(a.tx_bytes, b.tx_bytes),
                b.rx_missed,
                b.rx_nombuf
            ));
        }
        for (((id, _), a), b) in self.rings.iter().zip(&then.rings).zip(&now.rings) {
            lines.push(format!(
                "handoff:   ring {}: congestion drops {:.0}/s (total {}), backpressure stalls {:.0}/s, occupancy {}",
                id.name(),
                rate(a.0, b.0),
                b.0,
                rate(a.2, b.2),
                b.1
            ));
        }
        lines
    }

    fn print(&mut self, lines: &[String]) {
        let mut out = String::new();
        if self.terminal && self.drawn > 0 {
            // Back to the first line of the last block, clearing as it goes.
            out.push_str(&format!("\x1b[{}F\x1b[J", self.drawn));
        }
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        self.drawn = lines.len();
        // A terminal is written at once (the bar redraws around it); a pipe
        // or file by the console's thread, so a stuck reader never blocks thread 0.
        match &self.progress {
            Some(p) => p.suspend(|| crate::console::err(&out)),
            None if self.terminal => crate::console::err(&out),
            None => {
                crate::console::inform(out);
                true
            }
        };
    }
}
