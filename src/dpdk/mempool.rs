//! Packet buffers: one pktmbuf pool per NUMA socket, every mbuf with a stable
//! u32 index (VPP's buffer index), and the index -> mbuf table. The index of
//! an mbuf is computed from its address (pool objects sit at a fixed
//! stride), so the fast path never reads an mbuf line to learn it; a dynfield
//! holds it too, for pools whose objects are not evenly spaced.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::raw::c_void;
use std::ptr::NonNull;

use super::eal::Eal;
use super::error::{from_errno, DpdkError};
use super::mbuf::{register_dynfields, Burst, HEADROOM, MAX_BURST};
use super::sys;

struct Pool {
    raw: NonNull<sys::rte_mempool>,
    socket: u32,
    size: u32,
}

/// All packet buffers of the process. Invariants: `table[i]` is the mbuf
/// whose index dynfield holds `i`; the table is built once, before any mbuf
/// is handed out, and never changes; a pool is freed only when all its mbufs
/// are back in it (otherwise it is left to the process's end).
pub struct Buffers {
    pools: Vec<Pool>,
    /// The pools' pointers, for `Mbuf::plain_in`.
    raw_pools: Vec<*mut sys::rte_mempool>,
    table: Vec<NonNull<sys::rte_mbuf>>,
    /// Runs of evenly spaced mbufs covering every mbuf, when there are few
    /// (a pool in one piece of memory); empty: read the dynfield instead.
    runs: Vec<Run>,
    /// The run when there is one (one pool in one piece: the usual case):
    /// index <-> address by arithmetic alone, no table or list to read.
    one_run: Option<Run>,
    /// The pool when there is one: every plain mbuf goes back to it.
    one_pool: Option<*mut sys::rte_mempool>,
}

/// Mbufs `first..first + count` at `base + i * stride`.
#[derive(Clone, Copy, Debug)]
struct Run {
    base: usize,
    count: usize,
    stride: usize,
    first: u32,
    /// `offset / stride` for exact multiples: `(offset >> shift) * inverse`
    /// (mod 2^64), the inverse of stride's odd part: a shift and a multiply.
    shift: u32,
    inverse: u64,
}

impl Run {
    fn new(base: usize, stride: usize, first: u32) -> Run {
        let shift = stride.trailing_zeros();
        let odd = (stride >> shift) as u64;
        // Newton's iteration for the inverse of an odd number mod 2^64.
        let mut inverse = odd;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Run { base, count: 1, stride, first, shift, inverse }
    }

    #[inline(always)]
    fn index_of(&self, addr: usize) -> Option<u32> {
        let off = addr.wrapping_sub(self.base);
        (off < self.count * self.stride)
            .then(|| self.first + ((off as u64 >> self.shift).wrapping_mul(self.inverse)) as u32)
    }
}

/// What rte_pktmbuf_pool_create does, with RTE_MEMPOOL_F_NO_IOVA_CONTIG.
fn packed_pool(
    name: &CString,
    n: u32,
    cache: u32,
    data_room: u16,
    socket: i32,
) -> Result<NonNull<sys::rte_mempool>, DpdkError> {
    let elt_size = (std::mem::size_of::<sys::rte_mbuf>() + usize::from(data_room)) as u32;
    let private = std::mem::size_of::<sys::rte_pktmbuf_pool_private>() as u32;
    // SAFETY: the EAL is initialised (Buffers::create takes it); valid name.
    let mp = unsafe {
        sys::rte_mempool_create_empty(
            name.as_ptr(),
            n,
            elt_size,
            cache,
            private,
            socket,
            sys::RTE_MEMPOOL_F_NO_IOVA_CONTIG,
        )
    };
    let mp = NonNull::new(mp).ok_or_else(|| from_errno("rte_mempool_create_empty"))?;
    let mut pool_private =
        sys::rte_pktmbuf_pool_private { mbuf_data_room_size: data_room, mbuf_priv_size: 0, flags: 0 };
    // SAFETY: `mp` is a fresh, empty pool we own; the ops name comes from
    // DPDK; pool_init copies `pool_private` (alive during the call) into the
    // pool's private area, which create_empty sized for it; populate fills
    // it and pktmbuf_init initialises every object as an mbuf, as
    // rte_pktmbuf_pool_create does. On failure the pool is freed, unused.
    unsafe {
        let failed = |what: &'static str| {
            let e = from_errno(what);
            sys::rte_mempool_free(mp.as_ptr());
            e
        };
        if sys::rte_mempool_set_ops_byname(mp.as_ptr(), sys::rte_mbuf_best_mempool_ops(), std::ptr::null_mut()) != 0 {
            return Err(failed("rte_mempool_set_ops_byname"));
        }
        sys::rte_pktmbuf_pool_init(mp.as_ptr(), &mut pool_private as *mut _ as *mut c_void);
        if sys::rte_mempool_populate_default(mp.as_ptr()) < 0 {
            return Err(failed("rte_mempool_populate_default"));
        }
        sys::rte_mempool_obj_iter(mp.as_ptr(), Some(sys::rte_pktmbuf_init), std::ptr::null_mut());
    }
    Ok(mp)
}

/// Pools (NUMA sockets) whose plain mbufs go back in bulk; beyond that, the slow free.
const MAX_POOLS: usize = 4;

/// At most this many runs are searched per lookup; more means a pool in
/// many pieces, and the dynfield is cheaper.
const MAX_RUNS: usize = 4;

/// Splits the table into runs of evenly spaced mbufs.
fn runs_of(table: &[NonNull<sys::rte_mbuf>]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, p) in table.iter().enumerate() {
        let addr = p.as_ptr() as usize;
        let extends = runs.last_mut().is_some_and(|r| {
            let next = r.base + r.count * r.stride;
            if r.count == 1 && addr > r.base {
                *r = Run::new(r.base, addr - r.base, r.first);
                r.count = 2;
                true
            } else if addr == next {
                r.count += 1;
                true
            } else {
                false
            }
        });
        if !extends {
            if runs.len() == MAX_RUNS {
                return Vec::new();
            }
            runs.push(Run::new(addr, 1, i as u32));
        }
    }
    runs
}

// SAFETY: the table is immutable after construction and mempools are
// thread-safe DPDK objects.
unsafe impl Send for Buffers {}
unsafe impl Sync for Buffers {}

/// Where the index of an mbuf is written, and the table it is pushed to.
struct IndexWalk<'a> {
    next: u32,
    table: &'a mut Vec<NonNull<sys::rte_mbuf>>,
}

unsafe extern "C" fn index_one(_mp: *mut sys::rte_mempool, opaque: *mut c_void, obj: *mut c_void, _idx: u32) {
    // SAFETY: `opaque` is the IndexWalk that `Buffers::create` passes in,
    // alive for the whole rte_mempool_obj_iter call; `obj` is an mbuf of a
    // pktmbuf pool that nobody else uses yet.
    let walk = unsafe { &mut *(opaque as *mut IndexWalk) };
    let m = obj as *mut sys::rte_mbuf;
    // SAFETY: as above; the dynfield was registered before the walk.
    let mut handle = std::mem::ManuallyDrop::new(super::mbuf::Mbuf::from_raw(m));
    super::mbuf::set_buffer_index(&mut handle, walk.next);
    if let Some(p) = NonNull::new(m) {
        walk.table.push(p);
    }
    walk.next += 1;
}

impl Buffers {
    /// Makes one pool of `per_socket` mbufs on each socket in `sockets`,
    /// with `cache` mbufs per lcore cache and `data_room` bytes of data.
    /// `packed` lets mbufs cross page boundaries (RTE_MEMPOOL_F_NO_IOVA_CONTIG):
    /// without hugepages DPDK otherwise gives each 2.3 KB mbuf a 4 KiB page
    /// of its own, and their headers crowd a few L1 cache sets. Only for
    /// memory no device DMAs into by physical address.
    pub fn create(
        _eal: &Eal,
        sockets: &[u32],
        per_socket: u32,
        cache: u32,
        data_room: u16,
        packed: bool,
    ) -> Result<Buffers, DpdkError> {
        register_dynfields()?;
        let mut buffers = Buffers {
            pools: Vec::new(),
            raw_pools: Vec::new(),
            table: Vec::new(),
            runs: Vec::new(),
            one_run: None,
            one_pool: None,
        };
        for &socket in sockets {
            let name = CString::new(format!("handoff_pool_{socket}")).expect("no NUL");
            let raw = if packed {
                packed_pool(&name, per_socket, cache, data_room + HEADROOM, socket as i32)?
            } else {
                // SAFETY: the EAL is initialised (`_eal`); the name is a valid C string.
                let raw = unsafe {
                    sys::rte_pktmbuf_pool_create(
                        name.as_ptr(),
                        per_socket,
                        cache,
                        0,
                        data_room + HEADROOM,
                        socket as i32,
                    )
                };
                NonNull::new(raw).ok_or_else(|| from_errno("rte_pktmbuf_pool_create"))?
            };
            let mut walk = IndexWalk { next: buffers.table.len() as u32, table: &mut buffers.table };
            // SAFETY: `raw` is a fresh pool; `index_one` matches the callback
            // type and `walk` outlives the call.
            unsafe { sys::rte_mempool_obj_iter(raw.as_ptr(), Some(index_one), &mut walk as *mut _ as *mut c_void) };
            buffers.pools.push(Pool { raw, socket, size: per_socket });
        }
        buffers.raw_pools = buffers.pools.iter().map(|p| p.raw.as_ptr()).collect();
        let runs = runs_of(&buffers.table);
        // Computed indices must be the walk's: checked once for every mbuf.
        let agree = buffers.table.iter().enumerate().all(|(i, p)| {
            let addr = p.as_ptr() as usize;
            runs.iter().find_map(|r| r.index_of(addr)) == Some(i as u32)
        });
        buffers.runs = if agree { runs } else { Vec::new() };
        buffers.one_run = match buffers.runs[..] {
            [r] => Some(r),
            _ => None,
        };
        buffers.one_pool = match buffers.raw_pools[..] {
            [p] => Some(p),
            _ => None,
        };
        Ok(buffers)
    }

    /// The mbuf with index `index`. The caller must own it (it came off a
    /// handoff ring, which carries only owned indices).
    #[inline(always)]
    pub(crate) fn mbuf_ptr(&self, index: u32) -> *mut sys::rte_mbuf {
        if let Some(r) = &self.one_run {
            if (index as usize) < r.count {
                return (r.base + index as usize * r.stride) as *mut sys::rte_mbuf;
            }
        }
        self.table[index as usize].as_ptr()
    }

    /// Whether `m` may go back to its pool unread (see `Mbuf::plain_in`).
    #[inline(always)]
    pub(crate) fn is_plain(&self, m: &super::mbuf::Mbuf) -> bool {
        match self.one_pool {
            Some(p) => m.plain_in(&[p]),
            None => m.plain_in(&self.raw_pools),
        }
    }

    /// The index of an mbuf of ours, from its address when the pools allow
    /// (no mbuf line is read), else from its dynfield.
    #[inline(always)]
    pub(crate) fn index_of(&self, m: *mut sys::rte_mbuf) -> u32 {
        let addr = m as usize;
        if let Some(i) = self.one_run.and_then(|r| r.index_of(addr)) {
            return i;
        }
        for r in &self.runs {
            if let Some(i) = r.index_of(addr) {
                return i;
            }
        }
        // SAFETY: `m` is an owned mbuf of our pools (callers hold it).
        let handle = std::mem::ManuallyDrop::new(unsafe { super::mbuf::Mbuf::from_raw(m) });
        handle.buffer_index()
    }

    /// A fresh mbuf of pool `pool` holding a copy of `frame`, as if port
    /// `port` had received it (tests and generators, not the fast path);
    /// None when the pool is empty or the frame does not fit one mbuf.
    pub fn alloc_frame(&self, pool: usize, frame: &[u8], port: u16) -> Option<super::mbuf::Mbuf> {
        let raw = *self.raw_pools.get(pool)?;
        let len = u16::try_from(frame.len()).ok()?;
        // SAFETY: `raw` is a live pool of ours; `frame` is readable for `len` bytes.
        let m = unsafe { sys::handoff_frame_alloc(raw, frame.as_ptr(), len, port) };
        // SAFETY: a fresh mbuf nobody else holds becomes ours.
        NonNull::new(m).map(|m| unsafe { super::mbuf::Mbuf::from_raw(m.as_ptr()) })
    }

    /// Frees every mbuf of `burst`; returns how many. Those the rx lcore
    /// found plain go straight back to their pool in bulk, unread (their
    /// lines stay in the rx lcore's cache); the others through
    /// rte_pktmbuf_free_bulk, which resets what needs it.
    pub fn free_burst(&self, burst: &mut Burst) -> usize {
        let n = burst.len();
        // One pool and every mbuf plain (the steady state): straight from
        // the burst's slots, no sorting.
        if let (Some(pool), true) = (self.one_pool, burst.all_plain()) {
            if n > 0 {
                // SAFETY: as below: every mbuf of the burst is ours, plain
                // (the rx lcore checked it is of this, the one pool), and
                // freed once: the burst forgets them.
                unsafe { sys::rte_mempool_put_bulk(pool, burst.live_ptr() as *const *mut c_void, n as u32) };
            }
            burst.forget_all();
            return n;
        }
        let mut plain = [[MaybeUninit::<*mut c_void>::uninit(); MAX_BURST]; MAX_POOLS];
        let mut plain_len = [0usize; MAX_POOLS];
        let mut other = [MaybeUninit::<*mut sys::rte_mbuf>::uninit(); MAX_BURST];
        let mut other_len = 0;
        for (m, is_plain) in burst.live_with_plain() {
            let pool = if is_plain { self.pool_of_address(m) } else { None };
            match pool {
                Some(p) => {
                    plain[p][plain_len[p]].write(m as *mut c_void);
                    plain_len[p] += 1;
                }
                None => {
                    other[other_len].write(m);
                    other_len += 1;
                }
            }
        }
        burst.forget_all();
        for (p, pool) in self.pools.iter().enumerate().take(MAX_POOLS) {
            if plain_len[p] > 0 {
                // SAFETY: each pointer is an mbuf of this pool that we own;
                // the rx lcore found it direct with one reference and one
                // segment (so `next` is NULL), and nobody changed that since:
                // the state rte_mbuf_raw_free requires. The first plain_len
                // entries are written.
                unsafe {
                    sys::rte_mempool_put_bulk(
                        pool.raw.as_ptr(),
                        plain[p].as_ptr() as *const *mut c_void,
                        plain_len[p] as u32,
                    )
                };
            }
        }
        if other_len > 0 {
            // SAFETY: the first other_len entries are owned mbufs, freed once.
            unsafe { sys::rte_pktmbuf_free_bulk(other.as_mut_ptr() as *mut *mut sys::rte_mbuf, other_len as u32) };
        }
        n
    }

    /// Which pool an mbuf's address lies in, without reading it.
    #[inline(always)]
    fn pool_of_address(&self, m: *mut sys::rte_mbuf) -> Option<usize> {
        if self.one_pool.is_some() {
            return Some(0);
        }
        let addr = m as usize;
        let index = self.runs.iter().find_map(|r| r.index_of(addr))?;
        let p = self.pool_of_index(index) as usize;
        (p < MAX_POOLS).then_some(p)
    }

    /// Number of pools (one per NUMA socket with an rx lcore).
    pub fn pool_count(&self) -> usize {
        self.pools.len()
    }

    /// Whether indices come from addresses (the fast way).
    pub fn indices_from_addresses(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Whether the worker can tell a plain mbuf's pool without reading it:
    /// there is one pool, or the address says which.
    pub(crate) fn pool_known_unread(&self) -> bool {
        self.one_pool.is_some() || !self.runs.is_empty()
    }

    /// Number of mbufs in all pools.
    pub fn total(&self) -> u64 {
        self.pools.iter().map(|p| p.size as u64).sum()
    }

    /// Mbufs currently free in all pools (lcore caches included).
    pub fn available(&self) -> u64 {
        self.pools
            .iter()
            // SAFETY: the pool is valid until we free it in Drop.
            .map(|p| unsafe { sys::rte_mempool_avail_count(p.raw.as_ptr()) } as u64)
            .sum()
    }

    /// Index in `pools` of the pool for `socket` (the first one if none matches).
    pub fn pool_id_for_socket(&self, socket: u32) -> usize {
        self.pools.iter().position(|p| p.socket == socket).unwrap_or(0)
    }

    pub(crate) fn pool_raw(&self, pool_id: usize) -> *mut sys::rte_mempool {
        self.pools[pool_id].raw.as_ptr()
    }

    /// The pool an mbuf belongs to, as an index into the per-socket pools.
    pub fn pool_of_index(&self, index: u32) -> u8 {
        let mut base = 0u64;
        for (i, p) in self.pools.iter().enumerate() {
            base += p.size as u64;
            if (index as u64) < base {
                return i as u8;
            }
        }
        0
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        for p in &self.pools {
            // SAFETY: the pool is valid; freeing it while mbufs are out would
            // leave them dangling, so a pool with mbufs out is left alone.
            unsafe {
                if sys::rte_mempool_avail_count(p.raw.as_ptr()) == p.size {
                    sys::rte_mempool_free(p.raw.as_ptr());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(addrs: &[usize]) -> Vec<NonNull<sys::rte_mbuf>> {
        addrs.iter().map(|&a| NonNull::new(a as *mut sys::rte_mbuf).unwrap()).collect()
    }

    #[test]
    fn indices_come_back_from_addresses() {
        for stride in [2368usize, 2304, 2176, 4096, 2432 + 64] {
            let base = 0x7f00_0000_0000usize;
            let addrs: Vec<usize> = (0..5000).map(|i| base + i * stride).collect();
            let runs = runs_of(&table(&addrs));
            assert_eq!(runs.len(), 1, "stride {stride}");
            for (i, &a) in addrs.iter().enumerate() {
                assert_eq!(runs[0].index_of(a), Some(i as u32), "stride {stride}");
            }
            assert_eq!(runs[0].index_of(base - stride), None);
            assert_eq!(runs[0].index_of(base + 5000 * stride), None);
        }
    }

    /// A hugepage pool skips each page's end, so its objects are not evenly
    /// spaced and indices come from the dynfield; with one pool, plain
    /// mbufs must still go back unread (reading them on the worker moved
    /// two lines per packet between the CPUs: 3.5x slower, A/B).
    #[test]
    fn one_pool_in_pieces_still_frees_plain_mbufs_unread() {
        let pool = NonNull::<sys::rte_mempool>::dangling();
        let in_pieces: Vec<usize> = (0..100).map(|i| 0x1000_0000 + i * 2368 + (i / 10) * 4096).collect();
        let table = table(&in_pieces);
        assert!(runs_of(&table).is_empty(), "more pieces than MAX_RUNS");
        let mut buffers = Buffers {
            pools: vec![Pool { raw: pool, socket: 0, size: 100 }],
            raw_pools: vec![pool.as_ptr()],
            table,
            runs: Vec::new(),
            one_run: None,
            one_pool: Some(pool.as_ptr()),
        };
        assert!(!buffers.indices_from_addresses());
        assert!(buffers.pool_known_unread());
        assert_eq!(buffers.pool_of_address(in_pieces[57] as *mut sys::rte_mbuf), Some(0));
        // Two pools in pieces: the pool is not known unread.
        buffers.one_pool = None;
        assert!(!buffers.pool_known_unread());
        assert_eq!(buffers.pool_of_address(in_pieces[57] as *mut sys::rte_mbuf), None);
        // Fake pools: never handed to DPDK's free.
        std::mem::forget(buffers);
    }

    #[test]
    fn two_pools_are_two_runs_and_scattered_objects_none() {
        let mut addrs: Vec<usize> = (0..100).map(|i| 0x1000_0000 + i * 2368).collect();
        addrs.extend((0..100).map(|i| 0x9000_0000 + i * 2368));
        let runs = runs_of(&table(&addrs));
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].index_of(0x9000_0000 + 7 * 2368), Some(107));
        let scattered: Vec<usize> = (0..20).map(|i| 0x1000_0000 + i * i * 4096 + i).collect();
        assert!(runs_of(&table(&scattered)).is_empty());
    }
}
