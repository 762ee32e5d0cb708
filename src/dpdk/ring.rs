//! The handoff ring: an rte_ring of 4-byte elements (mbuf indices), one
//! producer lcore and one consumer lcore, burst enqueue and dequeue.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::Arc;

use super::eal::Eal;
use super::error::{from_errno, DpdkError};
use super::mbuf::{Burst, MAX_BURST};
use super::mempool::Buffers;
use super::sys;

/// Set in a ring element when the producer found the mbuf plain (direct,
/// one reference, one segment, our pool): the consumer may then return it
/// to its pool without reading it. Indices stay below it (pools hold at
/// most 2^24 mbufs each).
const PLAIN_BIT: u32 = 1 << 31;

struct RingInner {
    raw: NonNull<sys::rte_ring>,
    buffers: Arc<Buffers>,
}

// SAFETY: rte_ring is designed for use across lcores; single producer and
// single consumer are enforced by the handle types below.
unsafe impl Send for RingInner {}
unsafe impl Sync for RingInner {}

impl RingInner {
    /// Appends up to `max` mbufs from the ring to `burst`; returns how many,
    /// and how many the ring still held at that dequeue (beside the ones
    /// taken: so the two add up to at most the ring's size).
    /// The caller must be the ring's only consumer.
    #[inline]
    fn dequeue_into(&self, burst: &mut Burst, max: usize) -> (usize, u32) {
        let want = max.min(burst.room()).min(MAX_BURST);
        if want == 0 {
            return (0, 0);
        }
        let mut left = 0u32;
        // Not zero-filled: the ring writes the first `got` elements and only those are read.
        let mut indices = [MaybeUninit::<u32>::uninit(); MAX_BURST];
        // SAFETY: the ring is valid; `indices` has room for `want` elements;
        // the caller is the only consumer (RingConsumer, or the last Arc).
        let got = unsafe {
            sys::rte_ring_dequeue_burst_elem(
                self.raw.as_ptr(),
                indices.as_mut_ptr() as *mut _,
                4,
                want as u32,
                &mut left,
            )
        } as usize;
        for i in &indices[..got] {
            // SAFETY: the ring wrote `got` elements; they carried only owned
            // indices (producer invariant): dequeuing moved that ownership to
            // us, and on into the burst.
            unsafe {
                let element = i.assume_init();
                let m = self.buffers.mbuf_ptr(element & !PLAIN_BIT);
                burst.push_raw(m, element & PLAIN_BIT != 0);
            }
        }
        (got, left)
    }
}

impl Drop for RingInner {
    fn drop(&mut self) {
        // Whatever is still in the ring (its consumer died, say) is owned by
        // the ring: free it, so nothing in a ring is ever leaked. This is the
        // last Arc, so no handle can dequeue concurrently.
        let mut burst = Burst::new();
        while self.dequeue_into(&mut burst, MAX_BURST).0 > 0 {
            burst.free_all();
        }
        // SAFETY: empty and unused, freed once.
        unsafe { sys::rte_ring_free(self.raw.as_ptr()) }
    }
}

/// A ring element: the mbuf's index, with the plain bit when the worker
/// may return it to its pool unread.
#[inline(always)]
fn element_of(buffers: &Buffers, fast: bool, m: &super::mbuf::Mbuf) -> u32 {
    let plain = fast && buffers.is_plain(m);
    buffers.index_of(m.as_ptr()) | if plain { PLAIN_BIT } else { 0 }
}

/// Works out the ring elements of the mbufs a poll just appended to
/// `burst`, while the PMD's writes to them are still in this CPU's L1
/// (dpdk-input, after each poll); the enqueue then copies them as they are.
#[inline(always)]
pub fn classify_for_handoff(burst: &mut Burst, buffers: &Buffers) {
    let fast = buffers.pool_known_unread();
    burst.classify_new(|m| element_of(buffers, fast, m));
}

/// The one enqueuing side. Invariant: the ring holds only indices of mbufs
/// that were moved into it, so each index is owned by the ring.
pub struct RingProducer {
    inner: Arc<RingInner>,
}

/// The one dequeuing side; turns indices back into mbufs. The ring frees
/// whatever it still holds when its last handle goes.
pub struct RingConsumer {
    inner: Arc<RingInner>,
    /// What the last dequeue that took something left in the ring.
    left: u32,
}

/// Makes a ring holding exactly `size` indices (a power of two).
pub fn handoff_ring(
    _eal: &Eal,
    name: &str,
    size: u32,
    socket: i32,
    buffers: Arc<Buffers>,
) -> Result<(RingProducer, RingConsumer), DpdkError> {
    if !size.is_power_of_two() {
        return Err(DpdkError::Invalid(format!("ring size {size} is not a power of two")));
    }
    let cname = CString::new(name).map_err(|_| DpdkError::Invalid("ring name has a NUL".into()))?;
    // SAFETY: the EAL is initialised; the name is a valid C string.
    let raw = unsafe {
        sys::rte_ring_create_elem(
            cname.as_ptr(),
            4,
            size,
            socket,
            sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ | sys::RING_F_EXACT_SZ,
        )
    };
    let raw = NonNull::new(raw).ok_or_else(|| from_errno("rte_ring_create_elem"))?;
    let inner = Arc::new(RingInner { raw, buffers });
    Ok((RingProducer { inner: inner.clone() }, RingConsumer { inner, left: 0 }))
}

impl RingProducer {
    /// Moves as many mbufs from the front of `burst` into the ring as fit;
    /// returns how many. The refused ones stay in `burst`, still owned by the
    /// caller, to free or retry.
    #[inline]
    pub fn enqueue(&mut self, burst: &mut Burst) -> usize {
        let n = burst.len();
        if n == 0 {
            return 0;
        }
        // Worked out by dpdk-input after its poll, while the lines were hot.
        if let Some(elements) = burst.elements() {
            // SAFETY: `elements` holds the n live slots' elements.
            let done = unsafe { self.move_in(elements.as_ptr(), n) };
            burst.consumed(done);
            return done;
        }
        // Not zero-filled: the first n are written here, and only they are read.
        let mut indices = [MaybeUninit::<u32>::uninit(); MAX_BURST];
        let buffers = &self.inner.buffers;
        // Hugepage pools are rarely in one piece (objects skip page ends),
        // so indices come from the dynfield there; with one pool the
        // worker still returns plain mbufs unread.
        let fast = buffers.pool_known_unread();
        for (slot, m) in indices.iter_mut().zip(burst.as_slice()) {
            slot.write(element_of(buffers, fast, m));
        }
        // SAFETY: the first n of `indices` were written just above, one per live slot.
        let done = unsafe { self.move_in(indices.as_ptr() as *const u32, n) };
        // The accepted prefix now belongs to the ring.
        burst.consumed(done);
        done
    }

    /// Moves a burst whose every mbuf the rx lcore marked plain into the
    /// ring without reading any of them (a return ring: the consumer puts
    /// them back into its own pool cache); returns how many. A burst with
    /// an unmarked mbuf is left alone (0).
    #[inline]
    pub fn enqueue_plain(&mut self, burst: &mut Burst) -> usize {
        let n = burst.len();
        let buffers = &self.inner.buffers;
        // An index read from the mbuf would move its line back to this CPU.
        if n == 0 || !buffers.indices_from_addresses() || !burst.all_plain() {
            return 0;
        }
        let mut indices = [MaybeUninit::<u32>::uninit(); MAX_BURST];
        for (slot, m) in indices.iter_mut().zip(burst.as_slice()) {
            slot.write(buffers.index_of(m.as_ptr()) | PLAIN_BIT);
        }
        // SAFETY: the first n of `indices` were written just above, one per live slot.
        let done = unsafe { self.move_in(indices.as_ptr() as *const u32, n) };
        // The accepted prefix now belongs to the ring.
        burst.consumed(done);
        done
    }

    /// Enqueues `n` ring elements (those of a burst's live mbufs, in
    /// order); returns how many the ring took: the caller's burst must
    /// then drop that prefix (`consumed`), which the ring now owns.
    ///
    /// # Safety
    /// `elements` must point at `n` initialised elements of mbufs the
    /// caller owns and hands over as the ring takes them.
    #[inline(always)]
    unsafe fn move_in(&mut self, elements: *const u32, n: usize) -> usize {
        // SAFETY: the ring is valid; the caller vouches for `elements`; we
        // are the only producer (this handle is unique and &mut).
        let taken = unsafe {
            sys::rte_ring_enqueue_burst_elem(
                self.inner.raw.as_ptr(),
                elements as *const _,
                4,
                n as u32,
                std::ptr::null_mut(),
            )
        };
        taken as usize
    }
}

impl RingConsumer {
    /// Indices the last dequeue that took some left in the ring, for the
    /// high-water mark: that dequeue found these plus the ones it took, which
    /// add up to at most the ring's size (DPDK counts them at the dequeue;
    /// a count read afterwards would add what the producer put in since).
    #[inline]
    pub fn left_after_dequeue(&self) -> u32 {
        self.left
    }

    /// Appends up to `max` mbufs from the ring to `burst`; returns how many.
    #[inline]
    pub fn dequeue(&mut self, burst: &mut Burst, max: usize) -> usize {
        // `&mut self` on the unique consumer handle: the only consumer.
        let (got, left) = self.inner.dequeue_into(burst, max);
        if got > 0 {
            self.left = left;
        }
        got
    }
}
