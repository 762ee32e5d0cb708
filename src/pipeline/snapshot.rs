//! Every counter of a run read at one moment: per thread, per port, per
//! ring. The live `show`, the metrics endpoint and the end-of-run report
//! all capture it the same way (`RunSnapshot::capture`). `clear` keeps a
//! baseline snapshot and shows `now - baseline`: one subtraction covers
//! every counter that can be shown, so each `clear` only says which part of
//! the baseline moves up to now (`Baseline::clear`).

use std::sync::Arc;

use crate::dpdk::{self, PortInfo, PortStats};
use crate::nodes::counters::CounterSnapshot;
use crate::nodes::ring_stats::{RingCounts, RingStats};

use super::live::ThreadState;
use super::topology::RingId;

/// One port's counters: the ethdev statistics and, when asked for, the
/// PMD's extended ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSnapshot {
    pub id: u16,
    pub stats: PortStats,
    pub xstats: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSnapshot {
    /// Per thread, in topology order.
    pub threads: Vec<CounterSnapshot>,
    pub ports: Vec<PortSnapshot>,
    /// Every ring, rx-major.
    pub rings: Vec<(RingId, RingCounts)>,
}

impl RunSnapshot {
    /// The threads' counters alone (no port is read: no DPDK call).
    pub fn of_threads(threads: &[ThreadState]) -> RunSnapshot {
        RunSnapshot { threads: threads.iter().map(|t| t.counters.snapshot()).collect(), ..Default::default() }
    }

    /// Reads every counter (the caller holds the ports open: they are read
    /// through DPDK); the PMDs' extended statistics only `with_xstats`.
    pub fn capture(
        threads: &[ThreadState],
        ports: &[PortInfo],
        rings: &[(RingId, Arc<RingStats>)],
        with_xstats: bool,
    ) -> RunSnapshot {
        RunSnapshot {
            ports: ports
                .iter()
                .map(|p| PortSnapshot {
                    id: p.id,
                    stats: dpdk::port::stats(p.id),
                    xstats: if with_xstats { dpdk::port::xstats(p.id) } else { Vec::new() },
                })
                .collect(),
            rings: rings.iter().map(|(id, s)| (*id, s.counts())).collect(),
            ..RunSnapshot::of_threads(threads)
        }
    }
}

impl std::ops::Sub<&RunSnapshot> for &RunSnapshot {
    type Output = RunSnapshot;

    /// What counted since `base` (a part missing from `base` counts from zero).
    fn sub(self, base: &RunSnapshot) -> RunSnapshot {
        let zero = CounterSnapshot::default();
        RunSnapshot {
            threads: self.threads.iter().enumerate().map(|(i, t)| t - base.threads.get(i).unwrap_or(&zero)).collect(),
            ports: self
                .ports
                .iter()
                .map(|p| match base.ports.iter().find(|b| b.id == p.id) {
                    Some(b) => port_minus(p, b),
                    None => p.clone(),
                })
                .collect(),
            rings: self
                .rings
                .iter()
                .map(|(id, c)| match base.rings.iter().find(|(b, _)| b == id) {
                    Some((_, b)) => (*id, ring_minus(c, b)),
                    None => (*id, *c),
                })
                .collect(),
        }
    }
}

fn port_minus(p: &PortSnapshot, b: &PortSnapshot) -> PortSnapshot {
    let (s, o) = (&p.stats, &b.stats);
    PortSnapshot {
        id: p.id,
        stats: PortStats {
            rx_packets: s.rx_packets.saturating_sub(o.rx_packets),
            tx_packets: s.tx_packets.saturating_sub(o.tx_packets),
            rx_bytes: s.rx_bytes.saturating_sub(o.rx_bytes),
            tx_bytes: s.tx_bytes.saturating_sub(o.tx_bytes),
            rx_missed: s.rx_missed.saturating_sub(o.rx_missed),
            rx_errors: s.rx_errors.saturating_sub(o.rx_errors),
            tx_errors: s.tx_errors.saturating_sub(o.tx_errors),
            rx_nombuf: s.rx_nombuf.saturating_sub(o.rx_nombuf),
        },
        xstats: p
            .xstats
            .iter()
            .map(|(name, v)| {
                let was = b.xstats.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
                (name.clone(), v.saturating_sub(was))
            })
            .collect(),
    }
}

/// The high-water mark is a gauge: it stays.
fn ring_minus(c: &RingCounts, b: &RingCounts) -> RingCounts {
    RingCounts {
        enqueued: c.enqueued.saturating_sub(b.enqueued),
        dropped: c.dropped.saturating_sub(b.dropped),
        stalls: c.stalls.saturating_sub(b.stalls),
        dequeued: c.dequeued.saturating_sub(b.dequeued),
        high_water: c.high_water,
        stamps_skipped: c.stamps_skipped.saturating_sub(b.stamps_skipped),
    }
}

/// Which counters a `clear` starts again from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleared {
    /// Node calls, vectors and clocks, and the time they ran (`show runtime`).
    Runtime,
    /// Error counters, packets transmitted, and the port pairs' refused
    /// packets (`show errors`; a pair's refused packets are its tx drops).
    Errors,
    /// Port counters, extended ones included, and port pairs (`show interfaces`, `show pairs`).
    Interfaces,
}

/// What `show` subtracts: starts at zero (whole-run numbers), and each
/// `clear` moves its part up to the counters at that moment.
#[derive(Clone, Debug, Default)]
pub struct Baseline(RunSnapshot);

impl Baseline {
    /// `part` counts from `now` on; `now_tsc` starts the runtime clock again.
    pub fn clear(&mut self, part: Cleared, now: &RunSnapshot, now_tsc: u64) {
        let base = &mut self.0;
        base.threads.resize_with(now.threads.len(), CounterSnapshot::default);
        for (b, n) in base.threads.iter_mut().zip(&now.threads) {
            match part {
                Cleared::Runtime => {
                    b.nodes = n.nodes;
                    b.start_tsc = now_tsc;
                }
                Cleared::Errors => {
                    b.errors = n.errors;
                    b.transmitted = n.transmitted;
                    b.pair_refused = n.pair_refused;
                }
                Cleared::Interfaces => {
                    b.pair_sent = n.pair_sent;
                    b.pair_refused = n.pair_refused;
                }
            }
        }
        if part == Cleared::Interfaces {
            base.ports = now.ports.clone();
        }
    }

    /// `now` as shown: minus this baseline.
    pub fn shown(&self, now: &RunSnapshot) -> RunSnapshot {
        now - &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(received: u64, port_rx: u64, pair: u64, xstat: u64) -> RunSnapshot {
        let mut t = CounterSnapshot::default();
        t.nodes[0] = (1, received, 10);
        t.errors[0] = received;
        t.transmitted = received;
        t.pair_sent[0] = pair;
        t.pair_refused[0] = pair / 5;
        t.start_tsc = 5;
        let stats = PortStats { rx_packets: port_rx, rx_bytes: 64 * port_rx, ..Default::default() };
        RunSnapshot {
            threads: vec![t],
            ports: vec![PortSnapshot { id: 0, stats, xstats: vec![("rx_good".into(), xstat)] }],
            rings: vec![(
                RingId { rx: 0, worker: 0 },
                RingCounts { enqueued: received, high_water: 7, ..Default::default() },
            )],
        }
    }

    #[test]
    fn each_clear_zeroes_its_part_and_only_it() {
        let mut base = Baseline::default();
        let first = snapshot(100, 50, 20, 30);
        assert_eq!(base.shown(&first), first, "nothing cleared: whole-run numbers");

        base.clear(Cleared::Interfaces, &first, 0);
        let now = snapshot(160, 80, 25, 31);
        let shown = base.shown(&now);
        assert_eq!((shown.ports[0].stats.rx_packets, shown.ports[0].stats.rx_bytes), (30, 64 * 30));
        assert_eq!(shown.ports[0].xstats, [("rx_good".to_string(), 1)]);
        assert_eq!((shown.threads[0].pair_sent[0], shown.threads[0].pair_refused[0]), (5, 1));
        // Runtime and errors untouched by `clear interfaces`.
        assert_eq!((shown.threads[0].node(crate::nodes::Node::ALL[0]).1, shown.threads[0].errors[0]), (160, 160));

        base.clear(Cleared::Errors, &now, 0);
        base.clear(Cleared::Runtime, &now, 99);
        let later = snapshot(170, 90, 35, 31);
        let shown = base.shown(&later);
        assert_eq!((shown.threads[0].errors[0], shown.threads[0].transmitted), (10, 10));
        // A pair's refused packets are drops: `clear errors` restarts them too, not its packets.
        assert_eq!((shown.threads[0].pair_sent[0], shown.threads[0].pair_refused[0]), (15, 2));
        assert_eq!((shown.threads[0].nodes[0], shown.threads[0].start_tsc), ((0, 10, 0), 99));
        assert_eq!(shown.ports[0].stats.rx_packets, 40);
        // Rings are never cleared; their high-water mark is a gauge.
        assert_eq!((shown.rings[0].1.enqueued, shown.rings[0].1.high_water), (170, 7));
    }
}
