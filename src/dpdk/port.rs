//! Ethernet ports: discovery, configuration, queues, start/stop/close, stats.

use std::ffi::CStr;
use std::os::raw::c_char;

use super::eal::{logged_during, Eal};
use super::error::{check, check_logged, DpdkError};
use super::mbuf::Burst;
use super::mempool::Buffers;
use super::sys;
use crate::ids::{PortId, QueueId};

/// What a port is and can do, read before configuring it.
#[derive(Clone, Debug)]
pub struct PortInfo {
    pub id: u16,
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    /// NUMA socket, or -1 when unknown (virtual devices).
    pub socket: i32,
    pub rss_offloads: u64,
    pub tx_offloads: u64,
    pub rx_offloads: u64,
    /// Largest frame the port says it takes (MTU plus its overhead).
    pub max_rx_pktlen: u32,
    pub min_mtu: u16,
    pub max_mtu: u16,
    /// Smallest mbuf data room (less headroom) its rx queues accept.
    pub min_rx_bufsize: u32,
}

impl PortInfo {
    /// Bytes a frame has beyond its MTU, as ethdev computes it
    /// (eth_dev_get_overhead_len): from the port's limits where it gives
    /// both, else an Ethernet header and FCS.
    pub fn frame_overhead(&self) -> u32 {
        let max_mtu = u32::from(self.max_mtu);
        if self.max_mtu != u16::MAX && self.max_rx_pktlen > max_mtu {
            self.max_rx_pktlen - max_mtu
        } else {
            18
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Ask for RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE where the port offers it:
    /// the caller promises one pool and one reference per mbuf.
    pub fast_free: bool,
    /// The MTU to configure (rxmode.mtu); None: the PMD's default.
    pub mtu: Option<u16>,
    /// RTE_ETH_RX_OFFLOAD_SCATTER: frames longer than one mbuf arrive chained.
    pub rx_scatter: bool,
    /// RTE_ETH_TX_OFFLOAD_MULTI_SEGS: chained packets are sent.
    pub tx_multi_segs: bool,
}

/// RTE_ETH_RX_OFFLOAD_SCATTER and RTE_ETH_TX_OFFLOAD_MULTI_SEGS (RTE_BIT64 macros).
pub const RX_OFFLOAD_SCATTER: u64 = 1 << 13;
pub const TX_OFFLOAD_MULTI_SEGS: u64 = 1 << 15;

/// RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE (RTE_BIT64(16), a macro bindgen cannot evaluate).
const TX_OFFLOAD_MBUF_FAST_FREE: u64 = 1 << 16;
/// RSS over IPv4/IPv6 and their TCP/UDP/SCTP/other flows (RTE_ETH_RSS_IP|TCP|UDP).
const RSS_HF_IP_TCP_UDP: u64 = 0xfffc;
const MAX_NAME: usize = 64;

/// Every available port, in id order.
pub fn ports(_eal: &Eal) -> Result<Vec<PortInfo>, DpdkError> {
    let mut out = Vec::new();
    // SAFETY: the EAL is initialised; rte_eth_find_next returns
    // RTE_MAX_ETHPORTS past the last port.
    let mut id = unsafe { sys::rte_eth_find_next(0) };
    while (id as u32) < sys::RTE_MAX_ETHPORTS {
        out.push(port_info(id)?);
        // SAFETY: as above.
        id = unsafe { sys::rte_eth_find_next(id + 1) };
    }
    Ok(out)
}

fn port_info(id: u16) -> Result<PortInfo, DpdkError> {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: `id` is a valid port; `info` is a writable struct.
    check("rte_eth_dev_info_get", unsafe { sys::rte_eth_dev_info_get(id, &mut info) })?;
    let mut name = [0 as c_char; MAX_NAME];
    // SAFETY: `name` has RTE_ETH_NAME_MAX_LEN (64) bytes.
    check("rte_eth_dev_get_name_by_port", unsafe { sys::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr()) })?;
    // SAFETY: filled with a NUL-terminated name above.
    let name = unsafe { CStr::from_ptr(name.as_ptr()) }.to_string_lossy().into_owned();
    let driver = if info.driver_name.is_null() {
        String::new()
    } else {
        // SAFETY: driver_name is a static NUL-terminated string of the PMD.
        unsafe { CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
    };
    Ok(PortInfo {
        id,
        name,
        driver,
        max_rx_queues: info.max_rx_queues,
        max_tx_queues: info.max_tx_queues,
        // SAFETY: `id` is a valid port.
        socket: unsafe { sys::rte_eth_dev_socket_id(id) },
        rss_offloads: info.flow_type_rss_offloads,
        tx_offloads: info.tx_offload_capa,
        rx_offloads: info.rx_offload_capa,
        max_rx_pktlen: info.max_rx_pktlen,
        min_mtu: info.min_mtu,
        max_mtu: info.max_mtu,
        min_rx_bufsize: info.min_rx_bufsize,
    })
}

/// A configured port. Invariant: configured with `rx_queues`/`tx_queues`
/// set up on our pools; stopped and closed exactly once (by `close` or Drop).
/// Each queue's handle is made once, at configure, and moved out once.
pub struct Port {
    info: PortInfo,
    config: PortConfig,
    started: bool,
    closed: bool,
    /// Per queue id, its handle until someone takes it.
    rx_handles: Vec<Option<RxQueue>>,
    tx_handles: Vec<Option<TxQueue>>,
}

/// One rx queue of a configured port. Not Clone nor Copy, and made only by
/// `Port::configure`, once per queue; `Port::take_rx_queue` moves it out
/// once. DPDK queues must be polled by one thread at a time, so the owner of
/// this handle is that thread: safe code cannot get a second one.
///
/// ```compile_fail
/// fn two_owners(q: handoff::dpdk::RxQueue) -> (handoff::dpdk::RxQueue, handoff::dpdk::RxQueue) {
///     (q.clone(), q) // RxQueue is not Clone
/// }
/// ```
pub struct RxQueue {
    port: PortId,
    queue: QueueId,
}

/// One tx queue, with the same single-owner rule as RxQueue.
///
/// ```compile_fail
/// fn two_owners(q: handoff::dpdk::TxQueue) -> (handoff::dpdk::TxQueue, handoff::dpdk::TxQueue) {
///     (q.clone(), q) // TxQueue is not Clone
/// }
/// ```
pub struct TxQueue {
    port: PortId,
    queue: QueueId,
}

/// Handles for queues 0..n of port `port`, each made here and nowhere else.
fn queue_handles<Q>(port: PortId, n: u16, make: impl Fn(PortId, QueueId) -> Q) -> Vec<Option<Q>> {
    (0..n).map(|q| Some(make(port, QueueId(q)))).collect()
}

/// Moves queue `queue`'s handle out of `handles`: Some the first time, None after.
fn take_handle<Q>(handles: &mut [Option<Q>], queue: QueueId) -> Option<Q> {
    handles.get_mut(usize::from(queue.0)).and_then(Option::take)
}

impl Port {
    /// Configures the port and sets up its queues; rx queues take mbufs
    /// from the pool of the port's socket.
    pub fn configure(eal: &Eal, info: PortInfo, config: PortConfig, buffers: &Buffers) -> Result<Port, DpdkError> {
        if config.rx_queues > info.max_rx_queues || config.tx_queues > info.max_tx_queues {
            return Err(DpdkError::Invalid(format!(
                "it has {} rx / {} tx queues, {} rx / {} tx are needed (one rx queue per rx lcore, one tx queue per worker)",
                info.max_rx_queues, info.max_tx_queues, config.rx_queues, config.tx_queues
            )));
        }
        let mut conf = sys::rte_eth_conf::default();
        let rss_hf = info.rss_offloads & RSS_HF_IP_TCP_UDP;
        if config.fast_free && info.tx_offloads & TX_OFFLOAD_MBUF_FAST_FREE != 0 {
            conf.txmode.offloads |= TX_OFFLOAD_MBUF_FAST_FREE;
        }
        if let Some(mtu) = config.mtu {
            conf.rxmode.mtu = u32::from(mtu);
        }
        if config.rx_scatter {
            conf.rxmode.offloads |= RX_OFFLOAD_SCATTER;
        }
        if config.tx_multi_segs {
            conf.txmode.offloads |= TX_OFFLOAD_MULTI_SEGS;
        }
        if config.rx_queues > 1 && rss_hf != 0 {
            conf.rxmode.mq_mode = sys::rte_eth_rx_mq_mode::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        }
        let id = info.id;
        // SAFETY: valid port id and a fully initialised conf.
        check_logged(
            "rte_eth_dev_configure",
            logged_during(|| unsafe { sys::rte_eth_dev_configure(id, config.rx_queues, config.tx_queues, &conf) }),
        )?;
        let port_id = PortId(info.id);
        let port = Port {
            info,
            config,
            started: false,
            closed: false,
            rx_handles: queue_handles(port_id, config.rx_queues, |port, queue| RxQueue { port, queue }),
            tx_handles: queue_handles(port_id, config.tx_queues, |port, queue| TxQueue { port, queue }),
        };
        let (mut nb_rxd, mut nb_txd) = (config.rx_desc, config.tx_desc);
        // SAFETY: valid port and out pointers.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rxd, &mut nb_txd)
        })?;
        let socket = if port.info.socket < 0 { 0 } else { port.info.socket as u32 };
        let pool = buffers.pool_raw(buffers.pool_id_for_socket(socket));
        let sock = port.info.socket.max(0) as u32;
        for q in 0..config.rx_queues {
            // SAFETY: configured port, queue in range, a live pktmbuf pool
            // (Buffers outlives the port: it is dropped after ports close).
            check_logged(
                "rte_eth_rx_queue_setup",
                logged_during(|| unsafe { sys::rte_eth_rx_queue_setup(id, q, nb_rxd, sock, std::ptr::null(), pool) }),
            )?;
        }
        for q in 0..config.tx_queues {
            // SAFETY: configured port, queue in range.
            check_logged(
                "rte_eth_tx_queue_setup",
                logged_during(|| unsafe { sys::rte_eth_tx_queue_setup(id, q, nb_txd, sock, std::ptr::null()) }),
            )?;
        }
        let _ = eal;
        Ok(port)
    }

    pub fn info(&self) -> &PortInfo {
        &self.info
    }

    pub fn config(&self) -> PortConfig {
        self.config
    }

    pub fn start(&mut self) -> Result<(), DpdkError> {
        let id = self.info.id;
        // SAFETY: configured port.
        check_logged("rte_eth_dev_start", logged_during(|| unsafe { sys::rte_eth_dev_start(id) }))?;
        self.started = true;
        // Virtual devices may not support it; receiving everything is only a wish.
        // SAFETY: started port.
        let _ = unsafe { sys::rte_eth_promiscuous_enable(self.info.id) };
        Ok(())
    }

    pub fn id(&self) -> PortId {
        PortId(self.info.id)
    }

    /// Rx queue `queue`'s handle, the first time it is asked for; None
    /// after (or for a queue the port does not have): one owner per queue.
    pub fn take_rx_queue(&mut self, queue: QueueId) -> Option<RxQueue> {
        take_handle(&mut self.rx_handles, queue)
    }

    /// Tx queue `queue`'s handle, once, as `take_rx_queue`.
    pub fn take_tx_queue(&mut self, queue: QueueId) -> Option<TxQueue> {
        take_handle(&mut self.tx_handles, queue)
    }

    pub fn stats(&self) -> PortStats {
        stats(self.info.id)
    }

    /// The port's own MAC address (rte_eth_macaddr_get); zeros if it has none.
    pub fn mac(&self) -> [u8; 6] {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: `a` is writable; an invalid port returns an error, not UB.
        if unsafe { sys::rte_eth_macaddr_get(self.info.id, &mut a) } != 0 {
            return [0; 6];
        }
        a.addr_bytes
    }

    /// Stops the port (its queues stop receiving and sending).
    pub fn stop(&mut self) {
        if self.started {
            // SAFETY: started port; no lcore polls it any more (they were joined).
            unsafe { sys::rte_eth_dev_stop(self.info.id) };
            self.started = false;
        }
    }

    /// Stops and closes the port, releasing the mbufs its queues hold.
    pub fn close(mut self) {
        self.close_inner();
    }

    fn close_inner(&mut self) {
        self.stop();
        if !self.closed {
            // SAFETY: stopped port, closed once.
            unsafe { sys::rte_eth_dev_close(self.info.id) };
            self.closed = true;
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.close_inner();
    }
}

/// Counters of port `id` (zeros if the port cannot report them).
pub fn stats(id: u16) -> PortStats {
    let mut s = sys::rte_eth_stats::default();
    // SAFETY: `s` is writable; an invalid port returns an error, not UB.
    if unsafe { sys::rte_eth_stats_get(id, &mut s) } != 0 {
        return PortStats::default();
    }
    PortStats {
        rx_packets: s.ipackets,
        tx_packets: s.opackets,
        rx_bytes: s.ibytes,
        tx_bytes: s.obytes,
        rx_missed: s.imissed,
        rx_errors: s.ierrors,
        tx_errors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    }
}

impl RxQueue {
    pub fn port(&self) -> u16 {
        self.port.0
    }

    pub fn queue(&self) -> u16 {
        self.queue.0
    }

    /// Receives up to `max` packets onto the end of `burst`; they are ours.
    #[inline(always)]
    pub fn rx_burst(&mut self, burst: &mut Burst, max: usize) -> usize {
        let (slots, room) = burst.spare(max);
        if room == 0 {
            return 0;
        }
        // SAFETY: `slots` has `room` writable entries; the queue is set up and
        // polled only by this handle's owner.
        let n = unsafe { sys::rte_eth_rx_burst(self.port.0, self.queue.0, slots, room as u16) } as usize;
        burst.filled(n);
        n
    }
}

impl TxQueue {
    pub fn port(&self) -> u16 {
        self.port.0
    }

    pub fn queue(&self) -> u16 {
        self.queue.0
    }

    /// Hands the front of `burst` to the NIC; returns how many it took. The
    /// refused ones stay in `burst`, still ours, to retry or free.
    #[inline(always)]
    pub fn tx_burst(&mut self, burst: &mut Burst) -> usize {
        let n = burst.len();
        if n == 0 {
            return 0;
        }
        // SAFETY: the live slots hold n owned mbufs; the PMD takes ownership
        // of the first `sent` and leaves the rest to us.
        let sent = unsafe { sys::rte_eth_tx_burst(self.port.0, self.queue.0, burst.live_ptr(), n as u16) } as usize;
        burst.consumed(sent);
        sent
    }
}

/// The extended statistics port `id`'s PMD offers (name, value), in the
/// PMD's order; empty when it offers none or the port is gone. Allocates:
/// for the control thread (reports, the control socket), never an lcore.
pub fn xstats(id: u16) -> Vec<(String, u64)> {
    // SAFETY: a NULL array with size 0 asks only for the count; an invalid
    // port returns a negative errno.
    let n = unsafe { sys::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0) };
    if n <= 0 {
        return Vec::new();
    }
    let mut names = vec![sys::rte_eth_xstat_name::default(); n as usize];
    let mut values = vec![sys::rte_eth_xstat::default(); n as usize];
    // SAFETY: both arrays hold `n` writable entries, as their size says.
    let got_names = unsafe { sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32) };
    // SAFETY: as above.
    let got = unsafe { sys::rte_eth_xstats_get(id, values.as_mut_ptr(), n as u32) };
    if got_names <= 0 || got <= 0 {
        return Vec::new();
    }
    let count = (got.min(got_names) as usize).min(names.len());
    values[..count]
        .iter()
        .filter_map(|v| {
            let name = names.get(v.id as usize)?;
            // SAFETY: DPDK writes a NUL-terminated name into each 64-byte entry;
            // the last byte is reserved for it.
            let s = unsafe { CStr::from_ptr(name.name.as_ptr()) }.to_string_lossy().into_owned();
            Some((s, v.value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_queue_handle_is_taken_once() {
        let mut rx = queue_handles(PortId(3), 2, |port, queue| RxQueue { port, queue });
        let q1 = take_handle(&mut rx, QueueId(1)).expect("the first take");
        assert_eq!((q1.port(), q1.queue()), (3, 1));
        // The second take of the same queue is refused; the other queue is still there.
        assert!(take_handle(&mut rx, QueueId(1)).is_none());
        assert!(take_handle(&mut rx, QueueId(0)).is_some());
        assert!(take_handle(&mut rx, QueueId(0)).is_none());
        // A queue the port does not have is no handle at all.
        assert!(take_handle(&mut rx, QueueId(2)).is_none());
        let mut tx = queue_handles(PortId(0), 1, |port, queue| TxQueue { port, queue });
        assert!(take_handle(&mut tx, QueueId(0)).is_some() && take_handle(&mut tx, QueueId(0)).is_none());
    }
}
