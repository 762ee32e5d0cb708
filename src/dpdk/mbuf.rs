//! Owned mbuf handles, bursts of them, and the dynamic fields handoff adds
//! to every mbuf (buffer index, trace handle, "traced" flag).

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::error::{from_errno, DpdkError};
use super::sys;

/// Packets a burst holds at most (VPP's frame size).
pub const MAX_BURST: usize = 256;
/// Headroom DPDK reserves before packet data (RTE_PKTMBUF_HEADROOM).
pub const HEADROOM: u16 = 128;

static INDEX_OFFSET: AtomicUsize = AtomicUsize::new(0);
static HANDLE_OFFSET: AtomicUsize = AtomicUsize::new(0);
static TRACED_FLAG: AtomicU64 = AtomicU64::new(0);
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the dynfields and the dynflag once per process. Must run before
/// any mbuf is indexed or traced (mempool creation does it).
pub(crate) fn register_dynfields() -> Result<(), DpdkError> {
    REGISTERED
        .get_or_init(|| {
            let index = register_field("handoff_buffer_index").map_err(|e| e.to_string())?;
            let handle = register_field("handoff_trace_handle").map_err(|e| e.to_string())?;
            let mut flag = sys::rte_mbuf_dynflag::default();
            copy_name(&mut flag.name, "handoff_traced");
            // SAFETY: `flag` is a valid, NUL-terminated descriptor.
            let bit = unsafe { sys::rte_mbuf_dynflag_register(&flag) };
            if bit < 0 {
                return Err(from_errno("rte_mbuf_dynflag_register").to_string());
            }
            INDEX_OFFSET.store(index, Ordering::Relaxed);
            HANDLE_OFFSET.store(handle, Ordering::Relaxed);
            TRACED_FLAG.store(1u64 << bit, Ordering::Relaxed);
            Ok(())
        })
        .clone()
        .map_err(DpdkError::Invalid)
}

/// Dynamic rx flags DPDK libraries and PMDs register, by name.
const KNOWN_DYNFLAGS: &[&str] = &[
    "rte_dynflag_rx_timestamp",
    "rte_dynflag_tx_timestamp",
    "rte_flow_dynflag_metadata",
    "rte_dynflag_ip_reassembly_incomplete",
    "handoff_traced",
];

/// (bit mask, name) of every registered dynamic mbuf flag we know by name.
pub fn dynflag_names() -> Vec<(u64, String)> {
    KNOWN_DYNFLAGS
        .iter()
        .filter_map(|name| {
            let c = CString::new(*name).ok()?;
            // SAFETY: a valid C string; a null params pointer is allowed.
            let bit = unsafe { sys::rte_mbuf_dynflag_lookup(c.as_ptr(), std::ptr::null_mut()) };
            (0..64).contains(&bit).then(|| (1u64 << bit, name.to_string()))
        })
        .collect()
}

fn register_field(name: &str) -> Result<usize, DpdkError> {
    let mut field = sys::rte_mbuf_dynfield { size: 4, align: 4, ..Default::default() };
    copy_name(&mut field.name, name);
    // SAFETY: `field` is a valid, NUL-terminated descriptor.
    let off = unsafe { sys::rte_mbuf_dynfield_register(&field) };
    if off < 0 {
        return Err(from_errno("rte_mbuf_dynfield_register"));
    }
    Ok(off as usize)
}

fn copy_name(dst: &mut [std::os::raw::c_char; 64], name: &str) {
    let c = CString::new(name).expect("static name");
    for (d, s) in dst.iter_mut().zip(c.as_bytes_with_nul()) {
        *d = *s as std::os::raw::c_char;
    }
}

// Where struct rte_mbuf keeps its rx fields. They are plain
// members after zero-length markers (rearm_data, rx_descriptor_fields1) in
// DPDK 22.11; by 24.11 LTS each marker became an anonymous union of an array
// and an anonymous struct, so bindgen puts the same fields (same offsets)
// one level down. build.rs reads the generated bindings and sets
// `handoff_mbuf_field_unions` for the second layout.

/// data_off, refcnt, nb_segs, port.
#[cfg(not(handoff_mbuf_field_unions))]
#[inline(always)]
fn rearm_fields(m: &sys::rte_mbuf) -> &sys::rte_mbuf {
    m
}

#[cfg(handoff_mbuf_field_unions)]
#[inline(always)]
fn rearm_fields(m: &sys::rte_mbuf) -> &sys::rte_mbuf__bindgen_ty_1__bindgen_ty_1 {
    // SAFETY: the union overlays a u64 array with a struct of plain u16
    // fields; any bit pattern is a valid value of either view.
    unsafe { &m.__bindgen_anon_1.__bindgen_anon_1 }
}

/// packet_type, pkt_len, data_len, vlan_tci, hash, vlan_tci_outer, buf_len.
#[cfg(not(handoff_mbuf_field_unions))]
#[inline(always)]
fn rx_fields(m: &sys::rte_mbuf) -> &sys::rte_mbuf {
    m
}

#[cfg(handoff_mbuf_field_unions)]
#[inline(always)]
fn rx_fields(m: &sys::rte_mbuf) -> &sys::rte_mbuf__bindgen_ty_2__bindgen_ty_1 {
    // SAFETY: the union overlays a pointer array with a struct of plain
    // integer fields and unions of integers; any bit pattern is valid.
    unsafe { &m.__bindgen_anon_2.__bindgen_anon_1 }
}

/// An mbuf this code owns. Invariant: the pointer is a valid mbuf from one of
/// our pools, owned by nobody else; dropping the handle frees it.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an owned mbuf may move between lcores; DPDK mbufs are not tied to
// the thread that allocated them.
unsafe impl Send for Mbuf {}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (type invariant); it is freed exactly once.
        unsafe { sys::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl Mbuf {
    #[inline(always)]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: the pointer is valid while we own it (type invariant).
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    fn dynfield_ptr(&self, offset: usize) -> *mut u32 {
        // SAFETY: the offset came from rte_mbuf_dynfield_register for a 4-byte,
        // 4-aligned field inside struct rte_mbuf.
        unsafe { (self.0.as_ptr() as *mut u8).add(offset) as *mut u32 }
    }

    /// The mbuf's stable index (VPP's buffer index).
    #[inline(always)]
    pub fn buffer_index(&self) -> u32 {
        // SAFETY: see dynfield_ptr; we own the mbuf, so nobody writes it now.
        unsafe { self.dynfield_ptr(INDEX_OFFSET.load(Ordering::Relaxed)).read() }
    }

    /// Whether dpdk-input marked this packet as traced.
    #[inline(always)]
    pub fn is_traced(&self) -> bool {
        self.raw().ol_flags & TRACED_FLAG.load(Ordering::Relaxed) != 0
    }

    /// The trace handle (thread << 24 | index); meaningful only when traced.
    #[inline(always)]
    pub fn trace_handle(&self) -> u32 {
        // SAFETY: see dynfield_ptr.
        unsafe { self.dynfield_ptr(HANDLE_OFFSET.load(Ordering::Relaxed)).read() }
    }

    /// Marks the packet traced with `handle`.
    #[inline(always)]
    pub fn set_trace(&mut self, handle: u32) {
        // SAFETY: see dynfield_ptr; `&mut self` means exclusive access.
        unsafe {
            self.dynfield_ptr(HANDLE_OFFSET.load(Ordering::Relaxed)).write(handle);
            (*self.0.as_ptr()).ol_flags |= TRACED_FLAG.load(Ordering::Relaxed);
        }
    }

    /// Clears the traced mark, so a recycled mbuf is not taken for traced.
    #[inline(always)]
    pub fn clear_trace(&mut self) {
        // SAFETY: exclusive access through `&mut self`.
        unsafe { (*self.0.as_ptr()).ol_flags &= !TRACED_FLAG.load(Ordering::Relaxed) }
    }

    #[inline(always)]
    pub fn port(&self) -> u16 {
        rearm_fields(self.raw()).port
    }
    #[inline(always)]
    pub fn pkt_len(&self) -> u32 {
        rx_fields(self.raw()).pkt_len
    }
    #[inline(always)]
    pub fn data_len(&self) -> u16 {
        rx_fields(self.raw()).data_len
    }
    pub fn nb_segs(&self) -> u16 {
        rearm_fields(self.raw()).nb_segs
    }
    pub fn data_off(&self) -> u16 {
        rearm_fields(self.raw()).data_off
    }
    pub fn refcnt(&self) -> u16 {
        rearm_fields(self.raw()).refcnt
    }

    /// Whether the mbuf can go straight back to its pool when dropped (no
    /// reset needed): direct, one reference, one segment, from one of
    /// `pools`. Reads only the first cache line, which the PMD just wrote.
    #[inline(always)]
    pub(crate) fn plain_in(&self, pools: &[*mut sys::rte_mempool]) -> bool {
        let m = self.raw();
        let r = rearm_fields(m);
        r.refcnt == 1
            && r.nb_segs == 1
            && m.ol_flags & (sys::RTE_MBUF_F_INDIRECT | sys::RTE_MBUF_F_EXTERNAL) == 0
            && pools.contains(&m.pool)
    }
    pub fn buf_len(&self) -> u16 {
        rx_fields(self.raw()).buf_len
    }
    pub fn buf_iova(&self) -> u64 {
        self.raw().buf_iova
    }
    #[inline(always)]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags & !TRACED_FLAG.load(Ordering::Relaxed)
    }
    pub fn packet_type(&self) -> u32 {
        // SAFETY: packet_type overlays bitfields of the same 32 bits; any value is valid.
        unsafe { rx_fields(self.raw()).__bindgen_anon_1.packet_type }
    }
    /// The NIC's RSS hash, when `has_rss_hash`.
    #[inline(always)]
    pub fn rss_hash(&self) -> u32 {
        // SAFETY: a plain u32 view of the hash union.
        unsafe { rx_fields(self.raw()).__bindgen_anon_2.hash.rss }
    }
    #[inline(always)]
    pub fn has_rss_hash(&self) -> bool {
        self.raw().ol_flags & sys::RTE_MBUF_F_RX_RSS_HASH as u64 != 0
    }
    pub fn fdir_hi(&self) -> u32 {
        // SAFETY: a plain u32 view of the hash union.
        unsafe { rx_fields(self.raw()).__bindgen_anon_2.hash.fdir.hi }
    }
    /// l2_len, l3_len, outer_l2_len, outer_l3_len of the tx offload fields.
    pub fn header_lens(&self) -> (u16, u16, u16, u16) {
        // SAFETY: the bitfield view of tx_offload; any bit pattern is valid.
        let t = unsafe { self.raw().__bindgen_anon_3.__bindgen_anon_1 };
        (t.l2_len() as u16, t.l3_len() as u16, t.outer_l2_len() as u16, t.outer_l3_len() as u16)
    }

    /// The Ethernet addresses (destination, then source: the frame's first
    /// 12 bytes) to rewrite in place; None for a shorter first segment.
    /// Only the first cache line of the data is touched.
    #[inline(always)]
    pub fn eth_addrs_mut(&mut self) -> Option<&mut [u8; 12]> {
        if rx_fields(self.raw()).data_len < 12 {
            return None;
        }
        // SAFETY: mtod points at data_len >= 12 initialised bytes of the
        // first segment; `&mut self` means we own the mbuf exclusively (its
        // reference count is ours: handoff never shares a packet's data).
        unsafe { Some(&mut *(sys::handoff_pktmbuf_mtod(self.0.as_ptr()) as *mut [u8; 12])) }
    }

    /// The first segment's packet bytes.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        // SAFETY: mtod points at data_len initialised bytes of the first
        // segment, valid while we own the mbuf.
        unsafe {
            let p = sys::handoff_pktmbuf_mtod(self.0.as_ptr()) as *const u8;
            std::slice::from_raw_parts(p, rx_fields(self.raw()).data_len as usize)
        }
    }
}

/// Up to MAX_BURST owned mbufs, kept in arrival order. Invariant: the slots
/// `head..tail` hold owned mbufs; the others hold nothing. Dropping the burst
/// frees what is left in it, so a refused tail is never leaked.
pub struct Burst {
    slots: [*mut sys::rte_mbuf; MAX_BURST],
    head: usize,
    tail: usize,
    /// Slots whose mbuf the rx lcore found plain (see `Mbuf::plain_in`):
    /// they may go straight back to their pool. Cleared when slots move.
    plain: [u64; MAX_BURST / 64],
    /// Ring elements (index, plain bit) of slots `head..classified_to`,
    /// worked out right after the poll that brought them, while their
    /// first lines were hot; the enqueue then only copies them.
    elements: [u32; MAX_BURST],
    classified_to: usize,
}

// SAFETY: the burst owns its mbufs (see Mbuf's Send).
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub fn new() -> Self {
        Burst {
            slots: [std::ptr::null_mut(); MAX_BURST],
            head: 0,
            tail: 0,
            plain: [0; MAX_BURST / 64],
            elements: [0; MAX_BURST],
            classified_to: 0,
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Room left for more mbufs.
    #[inline(always)]
    pub fn room(&self) -> usize {
        MAX_BURST - self.len()
    }

    #[inline(always)]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: Mbuf is a transparent non-null pointer, and slots
        // head..tail hold owned, non-null mbufs (type invariant).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().add(self.head) as *const Mbuf, self.len()) }
    }

    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: as in as_slice, with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr().add(self.head) as *mut Mbuf, self.len()) }
    }

    /// Appends an mbuf; hands it back when the burst is full.
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.room() == 0 {
            return Err(m);
        }
        self.compact_for(1);
        self.slots[self.tail] = m.0.as_ptr();
        self.tail += 1;
        std::mem::forget(m); // ownership moved into the slot
        Ok(())
    }

    /// The first mbuf, left in place.
    #[inline(always)]
    pub fn front(&self) -> Option<&Mbuf> {
        self.as_slice().first()
    }

    /// Moves the first mbuf to the end of `to`, with its ring element when
    /// both bursts have theirs worked out; false (and nothing moves) when
    /// this burst is empty or `to` is full.
    #[inline(always)]
    pub fn move_front_to(&mut self, to: &mut Burst) -> bool {
        if self.is_empty() || to.room() == 0 {
            return false;
        }
        let element = (self.classified_to > self.head).then(|| self.elements[self.head]);
        to.compact_for(1);
        if let (Some(e), true) = (element, to.classified_to == to.tail) {
            to.elements[to.tail] = e;
            to.classified_to += 1;
        }
        to.slots[to.tail] = self.slots[self.head];
        to.tail += 1;
        // The slot's mbuf now belongs to `to`.
        self.head += 1;
        if self.head == self.tail {
            self.reset();
        }
        true
    }

    /// Takes the first mbuf out.
    #[inline(always)]
    pub fn pop_front(&mut self) -> Option<Mbuf> {
        if self.is_empty() {
            return None;
        }
        let p = self.slots[self.head];
        self.head += 1;
        if self.head == self.tail {
            self.reset();
        }
        // SAFETY: slot head held an owned, non-null mbuf, now moved out.
        Some(Mbuf(unsafe { NonNull::new_unchecked(p) }))
    }

    /// Frees every mbuf in the burst; returns how many.
    #[inline]
    pub fn free_all(&mut self) -> usize {
        let n = self.len();
        if n > 0 {
            // SAFETY: slots head..tail are owned mbufs, freed once, then forgotten.
            unsafe { sys::rte_pktmbuf_free_bulk(self.slots.as_mut_ptr().add(self.head), n as u32) };
        }
        self.reset();
        n
    }

    #[inline(always)]
    fn reset(&mut self) {
        self.head = 0;
        self.tail = 0;
        self.plain = [0; MAX_BURST / 64];
        self.classified_to = 0;
    }

    /// Works out the ring element of each slot not yet classified, when
    /// every slot before it is (else nothing: the enqueue computes them).
    #[inline(always)]
    pub(crate) fn classify_new(&mut self, element_of: impl Fn(&Mbuf) -> u32) {
        if self.classified_to < self.head {
            self.classified_to = self.head;
        }
        let from = self.classified_to;
        for i in from..self.tail {
            // SAFETY: slot i (head <= i < tail) holds an owned mbuf; Mbuf
            // is a transparent non-null pointer.
            let m = unsafe { &*(self.slots.as_ptr().add(i) as *const Mbuf) };
            self.elements[i] = element_of(m);
        }
        self.classified_to = self.tail;
    }

    /// The ring elements of every live slot, when all were classified.
    #[inline(always)]
    pub(crate) fn elements(&self) -> Option<&[u32]> {
        (self.classified_to == self.tail).then(|| &self.elements[self.head..self.tail])
    }

    /// Whether every live mbuf is marked plain.
    #[inline(always)]
    pub(crate) fn all_plain(&self) -> bool {
        (self.head..self.tail).step_by(64).all(|start| {
            let end = (start + 64).min(self.tail);
            // Bits start..end of the marks, all within one word or across two.
            let (w, b) = (start / 64, start % 64);
            let len = end - start;
            let mut bits = self.plain[w] >> b;
            if b > 0 && w + 1 < self.plain.len() {
                bits |= self.plain[w + 1] << (64 - b);
            }
            let mask = if len == 64 { u64::MAX } else { (1u64 << len) - 1 };
            bits & mask == mask
        })
    }

    /// The live mbufs and, for each, whether it is plain.
    #[inline(always)]
    pub(crate) fn live_with_plain(&self) -> impl Iterator<Item = (*mut sys::rte_mbuf, bool)> + '_ {
        (self.head..self.tail).map(|i| (self.slots[i], self.plain[i / 64] >> (i % 64) & 1 == 1))
    }

    /// Forgets every mbuf without freeing: the caller took them over.
    #[inline(always)]
    pub(crate) fn forget_all(&mut self) {
        self.reset();
    }

    /// Moves the live slots to the front when fewer than `want` free slots
    /// are left at the end.
    #[inline(always)]
    fn compact_for(&mut self, want: usize) {
        if MAX_BURST - self.tail < want && self.head > 0 {
            self.slots.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            self.classified_to = 0;
            // Rare; the marks do not follow the move, so they fall back to a plain free.
            self.plain = [0; MAX_BURST / 64];
        }
    }

    /// Free slots at the end, for a C call to fill. The caller must then
    /// call `filled` with how many it wrote.
    #[inline(always)]
    pub(crate) fn spare(&mut self, max: usize) -> (*mut *mut sys::rte_mbuf, usize) {
        self.compact_for(max.min(self.room()));
        let n = (MAX_BURST - self.tail).min(max);
        // SAFETY: tail <= MAX_BURST, so the pointer is in (or one past) the array.
        (unsafe { self.slots.as_mut_ptr().add(self.tail) }, n)
    }

    #[inline(always)]
    pub(crate) fn filled(&mut self, n: usize) {
        debug_assert!(self.tail + n <= MAX_BURST);
        self.tail += n;
    }

    /// The first `n` mbufs left us (sent, enqueued): drop them from the burst
    /// without freeing.
    #[inline(always)]
    pub(crate) fn consumed(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.head += n;
        if self.head == self.tail {
            self.reset();
        }
    }

    /// Pointer to the live slots, for a C call that takes ownership of a prefix.
    #[inline(always)]
    pub(crate) fn live_ptr(&mut self) -> *mut *mut sys::rte_mbuf {
        // SAFETY: head <= MAX_BURST.
        unsafe { self.slots.as_mut_ptr().add(self.head) }
    }

    /// Wraps a raw mbuf pointer into the burst.
    ///
    /// # Safety
    /// `p` must be a valid mbuf that the caller owns and hands over.
    #[inline(always)]
    pub(crate) unsafe fn push_raw(&mut self, p: *mut sys::rte_mbuf, plain: bool) {
        self.compact_for(1);
        self.slots[self.tail] = p;
        self.plain[self.tail / 64] |= u64::from(plain) << (self.tail % 64);
        self.tail += 1;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.free_all();
    }
}

impl Mbuf {
    /// Wraps a raw pointer the caller owns.
    ///
    /// # Safety
    /// `p` must be a valid mbuf owned by the caller, and nobody else may free it.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(p: *mut sys::rte_mbuf) -> Mbuf {
        // SAFETY: guaranteed non-null by the caller's contract.
        Mbuf(unsafe { NonNull::new_unchecked(p) })
    }

    #[inline(always)]
    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.0.as_ptr()
    }
}

/// Writes an mbuf's index; only the pool's index walk does this.
pub(crate) fn set_buffer_index(m: &mut Mbuf, index: u32) {
    // SAFETY: see Mbuf::dynfield_ptr; exclusive access through &mut.
    unsafe { m.dynfield_ptr(INDEX_OFFSET.load(Ordering::Relaxed)).write(index) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of fake mbuf pointers marked as `plain` says; never freed.
    fn marked(plain: &[bool]) -> Burst {
        let mut b = Burst::new();
        for (i, &p) in plain.iter().enumerate() {
            // SAFETY (test): the pointers are never read or freed; the
            // burst forgets them before it drops.
            unsafe { b.push_raw((0x1000 + 64 * i) as *mut sys::rte_mbuf, p) };
        }
        b
    }

    #[test]
    fn all_plain_looks_at_the_live_slots_only() {
        for n in [1, 31, 63, 64, 65, 128, 200, MAX_BURST] {
            let mut b = marked(&vec![true; n]);
            assert!(b.all_plain(), "{n} all plain");
            b.forget_all();
            for odd in [0, n / 2, n - 1] {
                let mut flags = vec![true; n];
                flags[odd] = false;
                let mut b = marked(&flags);
                assert!(!b.all_plain(), "{n}, slot {odd} not plain");
                // Once the unmarked slot has left, the rest are all plain.
                b.consumed(odd + 1);
                assert!(b.all_plain(), "{n}, after {}", odd + 1);
                b.forget_all();
            }
        }
        assert!(Burst::new().all_plain(), "nothing is left to sort");
    }

    #[test]
    fn elements_follow_their_mbufs_and_are_dropped_when_slots_move() {
        let mut b = marked(&[true; 40]);
        assert!(b.elements().is_none(), "pushed, not classified");
        b.classify_new(|m| (m.as_ptr() as usize / 64) as u32);
        let want: Vec<u32> = (0..40).map(|i| (0x1000 / 64 + i) as u32).collect();
        assert_eq!(b.elements(), Some(&want[..]));
        // A prefix leaves (enqueued): the rest keep their elements.
        b.consumed(10);
        assert_eq!(b.elements(), Some(&want[10..]));
        // An unclassified arrival: none until classified again, which
        // works out only the new one.
        // SAFETY (test): a fake pointer, forgotten below.
        unsafe { b.push_raw(0x9000 as *mut sys::rte_mbuf, true) };
        assert!(b.elements().is_none());
        b.classify_new(|_| 7);
        assert_eq!(b.elements().map(|e| (e.len(), e[0], e[30])), Some((31, want[10], 7)));

        // Sorting keeps each mbuf's element; a burst that had none stays without.
        let (mut even, mut odd) = (Burst::new(), Burst::new());
        while let Some(m) = b.front() {
            let to = if (m.as_ptr() as usize / 64) % 2 == 0 { &mut even } else { &mut odd };
            assert!(b.move_front_to(to));
        }
        assert!(b.is_empty());
        assert_eq!(even.len() + odd.len(), 31);
        let evens: Vec<u32> = even.as_slice().iter().map(|m| (m.as_ptr() as usize / 64) as u32).collect();
        let got: Vec<u32> = even.elements().expect("classified").to_vec();
        assert_eq!(got[..got.len() - 1], evens[..evens.len() - 1]);
        assert_eq!(*got.last().unwrap(), 7, "0x9000's element came along");
        assert_eq!(odd.elements().map(<[u32]>::len), Some(odd.len()));
        let mut other = marked(&[true; 2]);
        assert!(odd.move_front_to(&mut other));
        assert!(other.elements().is_none(), "an unclassified burst stays so");
        for mut burst in [even, odd, other] {
            burst.forget_all();
        }
    }
}
