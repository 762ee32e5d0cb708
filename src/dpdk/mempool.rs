//! Packet buffers: one pktmbuf pool per NUMA socket, every mbuf with a stable
//! u32 index (VPP's buffer index) in a dynfield, and the index -> mbuf table.

use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr::NonNull;

use super::eal::Eal;
use super::error::{from_errno, DpdkError};
use super::mbuf::{register_dynfields, HEADROOM};
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
    table: Vec<NonNull<sys::rte_mbuf>>,
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
    pub fn create(
        _eal: &Eal,
        sockets: &[u32],
        per_socket: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<Buffers, DpdkError> {
        register_dynfields()?;
        let mut buffers = Buffers { pools: Vec::new(), table: Vec::new() };
        for &socket in sockets {
            let name = CString::new(format!("handoff_pool_{socket}")).expect("no NUL");
            // SAFETY: the EAL is initialised (`_eal`); the name is a valid C string.
            let raw = unsafe {
                sys::rte_pktmbuf_pool_create(name.as_ptr(), per_socket, cache, 0, data_room + HEADROOM, socket as i32)
            };
            let raw = NonNull::new(raw).ok_or_else(|| from_errno("rte_pktmbuf_pool_create"))?;
            let mut walk = IndexWalk { next: buffers.table.len() as u32, table: &mut buffers.table };
            // SAFETY: `raw` is a fresh pool; `index_one` matches the callback
            // type and `walk` outlives the call.
            unsafe { sys::rte_mempool_obj_iter(raw.as_ptr(), Some(index_one), &mut walk as *mut _ as *mut c_void) };
            buffers.pools.push(Pool { raw, socket, size: per_socket });
        }
        Ok(buffers)
    }

    /// The mbuf with index `index`. The caller must own it (it came off a
    /// handoff ring, which carries only owned indices).
    #[inline(always)]
    pub(crate) fn mbuf_ptr(&self, index: u32) -> *mut sys::rte_mbuf {
        self.table[index as usize].as_ptr()
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
