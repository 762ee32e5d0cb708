//! Set-up, after EAL started and before any lcore runs: checks the ports
//! against what the plan named, sizes and creates the pools, configures and
//! starts the ports, creates the rings and shares the rx queues out.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::dpdk::{self, Buffers, Eal, Port, PortConfig, PortInfo, RingConsumer, RingProducer, MAX_BURST};
use crate::drivers::Driver;
use crate::ids::{PortId, QueueId};

use super::rx::InputQueue;
use super::{OutputChoice, Plan};

/// Pool and ring sizing, each number with its reason.
pub mod sizing {
    /// Mbufs each lcore keeps in its mempool cache: eight 32-packet bursts,
    /// so a steady rx/free cycle stays in the cache (DPDK allows up to 512).
    pub const MEMPOOL_CACHE: u32 = 256;
    /// A cache must stay well below its pool: DPDK wants at most pool / 1.5;
    /// an eighth keeps most mbufs in the common pool, where others can take them.
    pub const CACHE_FRACTION: u32 = 8;
    /// Mbufs beyond the computed need, for what PMDs hold that we cannot see.
    pub const POOL_SLACK: u64 = 1024;
    /// Indices a return ring (worker -> rx lcore) holds: freed mbufs wait
    /// there until the rx lcore's next loop; when it is full they go back
    /// to the pool as before, so it never holds a worker up.
    pub const RETURN_RING: u32 = 2048;
}

/// `--output` as port ids, mapped once from the plan's devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputPorts {
    /// The port `--output` names, if any.
    pub port: Option<PortId>,
    /// The (rx port, tx port) pairs `--output A:B,...` names.
    pub pairs: Vec<(PortId, PortId)>,
}

impl OutputPorts {
    /// From the plan's devices to the ports they came up as (`device_ports`).
    fn of(output: &OutputChoice, device_ports: &[PortId]) -> OutputPorts {
        match output {
            OutputChoice::Drop => OutputPorts::default(),
            OutputChoice::Port(d) => OutputPorts { port: Some(device_ports[*d]), pairs: Vec::new() },
            OutputChoice::Pairs(p) => OutputPorts {
                port: None,
                pairs: p.iter().map(|&(rx, tx)| (device_ports[rx], device_ports[tx])).collect(),
            },
        }
    }

    /// Whether port `id` transmits.
    fn sends(&self, id: PortId) -> bool {
        self.port == Some(id) || self.pairs.iter().any(|&(_, tx)| tx == id)
    }

    /// The pairs as raw port ids, for the report.
    pub fn pairs_by_id(&self) -> Vec<(u16, u16)> {
        self.pairs.iter().map(|&(rx, tx)| (rx.0, tx.0)).collect()
    }
}

/// Everything the lcores will use, made before the first of them starts.
pub struct Setup {
    /// Configured and started; dropped (stopped, closed) before `buffers`.
    pub ports: Vec<Port>,
    pub port_names: Vec<String>,
    /// `--output` as port ids.
    pub output: OutputPorts,
    /// Per rx lcore, the queues it polls.
    pub queues: Vec<Vec<InputQueue>>,
    /// Per rx lcore, one ring per worker; per worker, one ring per rx lcore.
    pub producers: Vec<Vec<RingProducer>>,
    pub consumers: Vec<Vec<RingConsumer>>,
    /// The return rings, the other way: per worker, one per rx lcore (same
    /// order as `consumers`); per rx lcore, one per worker.
    pub give_back: Vec<Vec<RingProducer>>,
    pub take_back: Vec<Vec<RingConsumer>>,
    pub buffers: Arc<Buffers>,
}

pub fn setup(eal: &Eal, plan: &Plan) -> Result<Setup> {
    check_lcores(eal, plan)?;
    // dpdk-dumpcap attaches as a secondary process; without shared files
    // there is nothing to attach to.
    if !plan.eal_args.single_process() {
        if let Err(e) = eal.enable_pdump() {
            log::warn!("dpdk-dumpcap will not be able to capture: {e}");
        }
    }
    let all_ports = dpdk::port::ports(eal)?;
    let device_of = device_of_ports(plan, &all_ports);
    let device_ports = check_devices_came_up(eal, plan, &all_ports, &device_of)?;
    if all_ports.is_empty() {
        bail!("no ports: name an input with --vdev, -a/--allow or --pg");
    }
    let port_names: Vec<String> = all_ports.iter().map(|p| p.name.clone()).collect();
    let output = OutputPorts::of(&plan.output, &device_ports);
    let (n_rx, n_workers) = (plan.topology.rx().len(), plan.topology.workers().len());

    // Rx queues per port: one per rx_pcap file of a finite pcap vdev, else
    // one per rx lcore. A port without rx queues (tx-only pcap, a live
    // `--output` port beside other inputs) is not polled. A driver that needs
    // as many rx as tx queues (tap) gets at least its tx count, and every one
    // of them is polled.
    let port_rxqs: Vec<u16> = all_ports
        .iter()
        .zip(&device_of)
        .map(|(p, &device)| match plan.finite_inputs.get(&p.name) {
            Some(files) => files.len() as u16,
            None if pairs_queues(p) => (n_rx as u16).max(tx_queues(p, n_workers, &output)),
            None if device.is_some() && device == plan.tx_only => 0,
            None => n_rx as u16,
        })
        .collect();
    let total_rxq: usize = port_rxqs.iter().map(|&q| q as usize).sum();

    let (per_socket, cache) = pool_size(plan, total_rxq, all_ports.len());
    let mut sockets: Vec<u32> = plan.topology.rx().iter().map(|t| eal.lcore_socket(t.lcore.0)).collect();
    sockets.sort_unstable();
    sockets.dedup();
    // Packed when every port EAL made copies packets in and out (a packed
    // pool's mbufs may cross a page end, so they have no usable IOVA, which
    // a DMA-capable device needs). With hugepages too: objects that skip
    // each page's end are not evenly spaced, and the index of an mbuf would
    // have to be read from it.
    let packed = all_ports.iter().all(|p| Driver::of_port(p).copies_packets());
    log::info!("{} mbufs of {} bytes per pool, cache {cache}", per_socket, plan.mbuf_size);
    let buffers = Arc::new(
        Buffers::create(eal, &sockets, per_socket, cache, plan.mbuf_size - dpdk::HEADROOM, packed)
            .context("cannot create the packet buffer pool (raise -m, or reserve more hugepages)")?,
    );

    let mut ports = configure_ports(eal, plan, &all_ports, &port_rxqs, &output, &buffers)?;
    let queues = assign_queues(&mut ports, &port_rxqs, plan, n_rx)?;

    let mut producers: Vec<Vec<RingProducer>> = (0..n_rx).map(|_| Vec::new()).collect();
    let mut consumers: Vec<Vec<RingConsumer>> = (0..n_workers).map(|_| Vec::new()).collect();
    let mut give_back: Vec<Vec<RingProducer>> = (0..n_workers).map(|_| Vec::new()).collect();
    let mut take_back: Vec<Vec<RingConsumer>> = (0..n_rx).map(|_| Vec::new()).collect();
    for ring in plan.topology.rings() {
        let socket = eal.lcore_socket(plan.topology.rx()[ring.rx].lcore.0) as i32;
        let (p, c) = dpdk::handoff_ring(eal, &ring.name(), plan.ring_size, socket, buffers.clone())?;
        producers[ring.rx].push(p);
        consumers[ring.worker].push(c);
        let name = format!("return_{}_{}", ring.rx, ring.worker);
        let (p, c) = dpdk::handoff_ring(eal, &name, sizing::RETURN_RING, socket, buffers.clone())?;
        give_back[ring.worker].push(p);
        take_back[ring.rx].push(c);
    }
    if !buffers.indices_from_addresses() {
        log::info!("mbuf indices come from a dynfield (the pool is not in one piece)");
    }
    Ok(Setup { ports, port_names, output, queues, producers, consumers, give_back, take_back, buffers })
}

/// Configures and starts every port: rx queues as `port_rxqs` says, one tx
/// queue per worker on each port something is sent to.
fn configure_ports(
    eal: &Eal,
    plan: &Plan,
    all_ports: &[PortInfo],
    port_rxqs: &[u16],
    output: &OutputPorts,
    buffers: &Buffers,
) -> Result<Vec<Port>> {
    let n_workers = plan.topology.workers().len();
    let mut ports = Vec::new();
    for (info, &rxqs) in all_ports.iter().zip(port_rxqs) {
        let mut tx_queues = tx_queues(info, n_workers, output);
        if pairs_queues(info) {
            // Tap refuses unequal counts; the tx queues past the workers' stay unused.
            tx_queues = tx_queues.max(rxqs);
        }
        let frames = frame_config(info, plan, all_ports)?;
        // rte_eth_dev_configure needs at least one rx queue even where none is polled.
        let conf = PortConfig {
            rx_queues: rxqs.max(1),
            tx_queues,
            rx_desc: plan.rx_desc,
            tx_desc: plan.tx_desc,
            // MBUF_FAST_FREE needs every mbuf from one pool, with one reference: ours are.
            fast_free: buffers.pool_count() == 1,
            mtu: frames.mtu,
            rx_scatter: frames.rx_scatter,
            tx_multi_segs: frames.tx_multi_segs,
        };
        let port = Port::configure(eal, info.clone(), conf, buffers)
            .with_context(|| format!("cannot set up port {} ({})", info.id, info.name))?;
        ports.push(port);
    }
    for p in &mut ports {
        let name = p.info().name.clone();
        p.start().with_context(|| format!("cannot start port {name}"))?;
    }
    // Said once, and beside the port in the report: what its driver hides.
    for p in &ports {
        let caveats = Driver::of_port(p.info()).caveats(p.info().max_rx_queues, &dpdk::version::running());
        if !caveats.is_empty() {
            log::warn!("{}: {}", p.info().name, caveats.join("; "));
        }
    }
    Ok(ports)
}

/// Whether port `p` gets as many tx as rx queues. The tests'
/// `HANDOFF_FAULT=unpaired-queues` says no, to provoke the driver's refusal.
fn pairs_queues(p: &PortInfo) -> bool {
    #[cfg(feature = "fault-injection")]
    if std::env::var("HANDOFF_FAULT").is_ok_and(|f| f == "unpaired-queues") {
        return false;
    }
    Driver::of_port(p).needs_paired_queues()
}

/// Tx queues port `p` needs: one per worker where something is sent, else one.
fn tx_queues(p: &PortInfo, n_workers: usize, output: &OutputPorts) -> u16 {
    if output.sends(PortId(p.id)) {
        n_workers as u16
    } else {
        1
    }
}

/// A port's MTU and segment offloads for the run's frame sizes.
struct Frames {
    mtu: Option<u16>,
    rx_scatter: bool,
    tx_multi_segs: bool,
}

/// The largest frame the run allows: `--max-pkt-len`, else Ethernet's 1518.
fn max_frame(plan: &Plan) -> u32 {
    plan.max_pkt_len.unwrap_or(1518)
}

/// Checks `--mbuf-size` and `--max-pkt-len` against what the port reports
/// and chooses its MTU, rx scatter and multi-segment tx (one line naming
/// the port and its limit when it cannot take them).
fn frame_config(info: &PortInfo, plan: &Plan, all_ports: &[PortInfo]) -> Result<Frames> {
    let pmd = Driver::of_port(info);
    let data_room = u32::from(plan.mbuf_size - dpdk::HEADROOM);
    let name = &info.name;
    if data_room < info.min_rx_bufsize {
        bail!(
            "--mbuf-size {} is too small for port {name}: it needs at least {} bytes of data room plus {} of headroom",
            plan.mbuf_size,
            info.min_rx_bufsize,
            dpdk::HEADROOM
        );
    }
    let mut mtu = None;
    let mut rx_scatter = false;
    if let (Some(len), true) = (plan.max_pkt_len, pmd.mtu_by_ethdev()) {
        if len > info.max_rx_pktlen {
            bail!("--max-pkt-len {len} is more than port {name} takes: max_rx_pktlen {}", info.max_rx_pktlen);
        }
        let overhead = info.frame_overhead();
        let want = len.saturating_sub(overhead);
        if want < u32::from(info.min_mtu) || want > u32::from(info.max_mtu) {
            bail!(
                "--max-pkt-len {len} makes MTU {want} on port {name}, which takes MTU {}-{} ({overhead} bytes of overhead)",
                info.min_mtu,
                info.max_mtu
            );
        }
        mtu = Some(want as u16);
        if len > data_room {
            if info.rx_offloads & dpdk::port::RX_OFFLOAD_SCATTER == 0 {
                bail!(
                    "port {name} cannot scatter a {len}-byte frame over {}-byte mbufs: give --mbuf-size {} or more",
                    plan.mbuf_size,
                    len + u32::from(dpdk::HEADROOM)
                );
            }
            rx_scatter = true;
        }
    }
    // Chains reach tx when any port scatters or chains on its own.
    let chains = all_ports.iter().any(|p| Driver::of_port(p).chains_on_its_own()) || max_frame(plan) > data_room;
    let tx_multi_segs = chains && info.tx_offloads & dpdk::port::TX_OFFLOAD_MULTI_SEGS != 0;
    Ok(Frames { mtu, rx_scatter, tx_multi_segs })
}

/// Mbufs per pool and per-lcore cache: every rx and tx descriptor, every
/// ring full, the bursts in flight and the caches, unless `--mbufs` says.
fn pool_size(plan: &Plan, total_rxq: usize, ports: usize) -> (u32, u32) {
    use sizing::*;
    let (n_rx, n_workers) = (plan.topology.rx().len() as u64, plan.topology.workers().len() as u64);
    let lcores = n_rx + n_workers;
    let cache = u64::from(MEMPOOL_CACHE);
    let need = u64::from(plan.rx_desc) * total_rxq as u64
        + u64::from(plan.tx_desc) * ports as u64 * n_workers.max(1)
        + u64::from(plan.ring_size + RETURN_RING) * n_rx * n_workers
        // An rx burst, the per-worker bursts it is sorted into, and a worker's burst.
        + MAX_BURST as u64 * (2 + n_workers) * lcores
        // Every lcore's cache, and the control thread's, full twice over.
        + cache * (lcores + 1) * 2
        + POOL_SLACK;
    let per_socket = plan.mbufs.unwrap_or(need.min(u64::from(u32::MAX)) as u32);
    (per_socket, MEMPOOL_CACHE.min(per_socket / CACHE_FRACTION))
}

/// Shares the (port, queue) pairs round-robin among the rx lcores, taking
/// each queue's handle out of its port; a queue of a finite pcap input knows
/// how many packets its file holds.
fn assign_queues(ports: &mut [Port], port_rxqs: &[u16], plan: &Plan, n_rx: usize) -> Result<Vec<Vec<InputQueue>>> {
    let mut queues_of: Vec<Vec<InputQueue>> = (0..n_rx).map(|_| Vec::new()).collect();
    let mut k = 0;
    for (p, &rxqs) in ports.iter_mut().zip(port_rxqs) {
        let expected = plan.finite_inputs.get(&p.info().name);
        for q in 0..p.config().rx_queues.min(rxqs) {
            let Some(rxq) = p.take_rx_queue(QueueId(q)) else {
                bail!("rx queue {q} of port {} was handed out before", p.info().name);
            };
            queues_of[k % n_rx].push(InputQueue {
                rxq,
                expected: expected.map(|files| files[q as usize].packets),
                received: 0,
                exhausted: false,
                stalled_since: None,
            });
            k += 1;
        }
    }
    Ok(queues_of)
}

/// Which named device (index in `plan.devices`) each port is of: the one
/// place devices and ports are matched by name (a PCI device's ports carry
/// its full address, see `devices::is_port_of`).
fn device_of_ports(plan: &Plan, ports: &[PortInfo]) -> Vec<Option<usize>> {
    ports.iter().map(|p| plan.devices.iter().position(|d| crate::devices::is_port_of(d, &p.name))).collect()
}

/// Every device the arguments name must be a port now: a vdev whose probe
/// failed (EAL carries on without it) stops the run before a packet moves.
/// Returns each device's (first) port.
fn check_devices_came_up(
    eal: &Eal,
    plan: &Plan,
    ports: &[PortInfo],
    device_of: &[Option<usize>],
) -> Result<Vec<PortId>> {
    let mut device_ports = Vec::with_capacity(plan.devices.len());
    for (d, name) in plan.devices.iter().enumerate() {
        if let Some(p) = ports.iter().zip(device_of).find(|(_, &of)| of == Some(d)) {
            device_ports.push(PortId(p.0.id));
            continue;
        }
        let said = eal.log_about(name);
        let why = match (said.is_empty(), name.contains(':')) {
            (false, _) => said.join(" / "),
            // EAL skips a PCI device silently when it is absent or no DPDK driver has it.
            (true, true) => {
                "no such PCI device, or it is not bound to vfio-pci (see scripts/bind-nic.sh status)".to_string()
            }
            (true, false) => "EAL gave no reason".to_string(),
        };
        bail!("device {name} did not come up: {why}");
    }
    Ok(device_ports)
}

fn check_lcores(eal: &Eal, plan: &Plan) -> Result<()> {
    let map = eal.lcores();
    for t in plan.topology.threads() {
        let (l, role) = match t.role {
            super::topology::Role::Rx { .. } => (t.lcore.0, "rx"),
            super::topology::Role::Worker { .. } => (t.lcore.0, "worker"),
        };
        if !eal.lcore_enabled(l) {
            bail!("{role} lcore {l} is not in the EAL lcore map {map:?} (set it with -l or --lcores)");
        }
        if l == eal.main_lcore() {
            bail!("{role} lcore {l} is EAL's main lcore, which runs the control thread; pick another lcore or --main-lcore");
        }
    }
    Ok(())
}
