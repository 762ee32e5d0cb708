//! What happens on one handoff ring, beyond VPP: packets enqueued, dropped
//! or stalled by congestion (rx lcore side), the occupancy high-water mark
//! and how long packets wait in the ring (worker side).
//!
//! The wait is measured per frame (burst), never per packet: the rx lcore stamps
//! each enqueued burst (its TSC and the ring's running total of enqueued
//! packets) into a small single-producer/single-consumer side ring; the
//! worker, once its own running total of dequeued packets reaches a stamp's
//! total (the burst's last packet left the ring), records `now - stamp` in
//! a histogram it owns. Both sides keep the ring's FIFO order, so the
//! totals line up. A full side ring skips the stamp (counted), never waits.
//!
//! Neither side reads the other's counters per burst (each read would move
//! a cache line between the CPUs, twice per burst): a stamp carries its own
//! total, which tells the worker whether it was written this lap, and the
//! rx lcore reads the worker's tail only when its last reading says full.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use super::counters::bump;

/// Burst stamps in flight per ring: more than a full ring of 1-packet
/// bursts would need, far more than the steady state (a few).
pub const STAMPS: usize = 4096;

/// Longest wait the histogram tells apart, in TSC cycles (beyond: clamped).
const MAX_WAIT_CYCLES: u64 = 1 << 40;

#[repr(align(64))]
#[derive(Default)]
struct RxSide {
    enqueued: AtomicU64,
    dropped: AtomicU64,
    stalls: AtomicU64,
    stamps_skipped: AtomicU64,
    head: AtomicU64,
    /// The worker's tail as last read (it only grows): below it, slots are free.
    tail_seen: AtomicU64,
}

#[repr(align(64))]
#[derive(Default)]
struct WorkerSide {
    dequeued: AtomicU64,
    high_water: AtomicU64,
    tail: AtomicU64,
    /// The total of the last stamp taken: a slot holding a total above it
    /// was written this lap.
    last_total: AtomicU64,
}

/// One burst's stamp: when it was enqueued and the ring's running total
/// after it; one cache line holds four.
#[repr(C, align(16))]
#[derive(Default)]
struct Stamp {
    tsc: AtomicU64,
    total: AtomicU64,
}

/// One ring's counters: each side writes only its own half.
pub struct RingStats {
    rx: RxSide,
    worker: WorkerSide,
    stamps: Box<[Stamp]>,
}

impl Default for RingStats {
    fn default() -> Self {
        RingStats {
            rx: RxSide::default(),
            worker: WorkerSide::default(),
            stamps: (0..STAMPS).map(|_| Stamp::default()).collect(),
        }
    }
}

/// A histogram of ring waits in TSC cycles; made before the loop, so
/// recording never allocates.
pub fn wait_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_WAIT_CYCLES, 3).expect("valid histogram bounds")
}

/// One enqueue: `accepted` went in, `dropped` were freed, `stalled`
/// retries waited on a full ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    pub accepted: u64,
    pub dropped: u64,
    pub stalled: u64,
}

/// What the control thread reads of a ring at any time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingCounts {
    pub enqueued: u64,
    pub dropped: u64,
    pub stalls: u64,
    pub dequeued: u64,
    pub high_water: u64,
    pub stamps_skipped: u64,
}

impl RingStats {
    /// Rx lcore, after an enqueue (see `Enqueued`); stamps the burst at `tsc`.
    #[inline(always)]
    pub fn enqueued(&self, e: Enqueued, tsc: u64) {
        let Enqueued { accepted, dropped, stalled } = e;
        if accepted > 0 {
            let total = self.rx.enqueued.load(Ordering::Relaxed) + accepted;
            let head = self.rx.head.load(Ordering::Relaxed);
            if head - self.rx.tail_seen.load(Ordering::Relaxed) >= STAMPS as u64 {
                // Acquire: the worker had read the slots below its tail.
                self.rx.tail_seen.store(self.worker.tail.load(Ordering::Acquire), Ordering::Relaxed);
            }
            if head - self.rx.tail_seen.load(Ordering::Relaxed) < STAMPS as u64 {
                let slot = &self.stamps[(head % STAMPS as u64) as usize];
                slot.tsc.store(tsc, Ordering::Relaxed);
                // Release: a worker that sees the total sees the tsc.
                slot.total.store(total, Ordering::Release);
                self.rx.head.store(head + 1, Ordering::Relaxed);
            } else {
                bump(&self.rx.stamps_skipped, 1);
            }
            self.rx.enqueued.store(total, Ordering::Release);
        }
        if dropped > 0 {
            bump(&self.rx.dropped, dropped);
        }
        if stalled > 0 {
            bump(&self.rx.stalls, stalled);
        }
    }

    /// Worker, after dequeuing `(n, left)`: `n` packets at `now` with `left` still in the
    /// ring at that dequeue: the high-water mark (the most indices the worker
    /// found in the ring, never above its size), and the wait of every burst
    /// now fully out.
    #[inline(always)]
    pub fn dequeued(&self, (n, left): (u64, u64), now: u64, waits: &mut Histogram<u64>) {
        let total = self.worker.dequeued.load(Ordering::Relaxed) + n;
        self.worker.dequeued.store(total, Ordering::Release);
        if n + left > self.worker.high_water.load(Ordering::Relaxed) {
            self.worker.high_water.store(n + left, Ordering::Release);
        }
        let mut tail = self.worker.tail.load(Ordering::Relaxed);
        let mut last = self.worker.last_total.load(Ordering::Relaxed);
        loop {
            let slot = &self.stamps[(tail % STAMPS as u64) as usize];
            // Totals only grow: one at or below the last taken is a slot
            // not yet written this lap; one above `total` is a burst with
            // packets still in the ring.
            let stamped = slot.total.load(Ordering::Acquire);
            if stamped <= last || stamped > total {
                break;
            }
            let wait = now.saturating_sub(slot.tsc.load(Ordering::Relaxed));
            waits.saturating_record(wait.max(1));
            last = stamped;
            tail += 1;
        }
        self.worker.last_total.store(last, Ordering::Relaxed);
        self.worker.tail.store(tail, Ordering::Release);
    }

    pub fn counts(&self) -> RingCounts {
        // The worker's side first: what it dequeued was enqueued before.
        let dequeued = self.worker.dequeued.load(Ordering::Acquire);
        RingCounts {
            enqueued: self.rx.enqueued.load(Ordering::Acquire),
            dropped: self.rx.dropped.load(Ordering::Acquire),
            stalls: self.rx.stalls.load(Ordering::Acquire),
            dequeued,
            high_water: self.worker.high_water.load(Ordering::Acquire),
            stamps_skipped: self.rx.stamps_skipped.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_recorded_once_a_burst_is_fully_out() {
        let s = RingStats::default();
        let mut h = wait_histogram();
        s.enqueued(Enqueued { accepted: 4, dropped: 0, stalled: 0 }, 100);
        s.enqueued(Enqueued { accepted: 2, dropped: 1, stalled: 0 }, 150);
        s.dequeued((3, 3), 200, &mut h);
        assert_eq!(h.len(), 0, "the first burst still has a packet in the ring");
        s.dequeued((3, 0), 400, &mut h);
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 250);
        assert_eq!(h.max(), 300);
        let c = s.counts();
        assert_eq!((c.enqueued, c.dropped, c.dequeued, c.high_water), (6, 1, 6, 6));
    }

    #[test]
    fn a_full_side_ring_skips_stamps_and_never_blocks() {
        let s = RingStats::default();
        for i in 0..STAMPS as u64 + 5 {
            s.enqueued(Enqueued { accepted: 1, dropped: 0, stalled: 0 }, i);
        }
        assert_eq!(s.counts().stamps_skipped, 5);
        let mut h = wait_histogram();
        s.dequeued((STAMPS as u64 + 5, 0), 10_000, &mut h);
        assert_eq!(h.len(), STAMPS as u64);
    }

    #[test]
    fn stamps_wrap_into_freed_slots_and_stale_ones_are_never_taken() {
        let s = RingStats::default();
        let mut h = wait_histogram();
        let n = STAMPS as u64;
        // A full lap, then half of it out: the rx side sees the room only
        // when its cached tail says full and it reads the worker's again.
        for i in 0..n {
            s.enqueued(Enqueued { accepted: 2, dropped: 0, stalled: 0 }, i);
        }
        s.dequeued((n, 0), 5 * n, &mut h);
        assert_eq!(h.len(), n / 2);
        // A second lap's stamps land in the freed slots; none is skipped.
        for i in 0..n / 2 {
            s.enqueued(Enqueued { accepted: 2, dropped: 0, stalled: 0 }, 2 * n + i);
        }
        assert_eq!(s.counts().stamps_skipped, 0);
        // Nothing more is out yet: the slots after the tail hold first-lap
        // stamps of bursts still in the ring, and second-lap ones after them.
        s.dequeued((0, 0), 5 * n, &mut h);
        assert_eq!(h.len(), n / 2);
        s.dequeued((3 * n, 0), 10 * n, &mut h);
        assert_eq!(h.len(), n + n / 2);
        // The shortest wait is the first dequeue's last stamp's (the
        // histogram keeps 3 significant digits).
        assert!(h.equivalent(h.min(), 5 * n - (n / 2 - 1)), "{}", h.min());
        s.dequeued((0, 0), 20 * n, &mut h);
        assert_eq!(h.len(), n + n / 2, "no stale slot is taken twice");
    }
}
