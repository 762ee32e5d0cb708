//! What each PMD does with frames and what it cannot report, in one place
//! (read from the DPDK 22.11 and 24.11 driver sources): the `Driver` type
//! (copies or DMA, paired queues, kernel drops, MTU through ethdev, finite
//! input, what a run over it cannot vouch for), and af_packet's
//! frame size, chosen before EAL starts from the mbuf size or the
//! interface's MTU (asked by ioctl in handoff's own network namespace, where
//! the driver looks the interface up).

use anyhow::Result;

use crate::devices::Vdev;
use crate::dpdk::{PortInfo, HEADROOM};
use crate::flag_error::flag_error;

/// A port's poll-mode driver, with every quirk handoff plans around: the
/// one place that tells drivers apart (nothing else tests a driver or
/// device name). Made from a device name (`net_af_packet0`, a PCI address)
/// or the driver name ethdev reports (`net_af_packet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Pcap,
    Null,
    Ring,
    AfPacket,
    Tap,
    /// The tap driver's tun mode (no Ethernet header).
    Tun,
    AfXdp,
    Mana,
    VirtioUser,
    /// A PCI NIC's PMD (or any other): its counters come from the hardware.
    Nic,
}

/// DPDK's names for Ethernet devices and their drivers: `net_*`, and the old `eth_*` aliases.
const ETHDEV_PREFIXES: [&str; 2] = ["net_", "eth_"];

/// Whether a `--vdev` name is an Ethernet device (a port), not a crypto, event, ... device.
pub fn is_ethdev_name(name: &str) -> bool {
    ETHDEV_PREFIXES.iter().any(|p| name.starts_with(p))
}

impl Driver {
    /// From a device name (`net_af_packet0`) or a driver name (`net_af_packet`).
    pub fn of(name: &str) -> Driver {
        let kind = ETHDEV_PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or("");
        let table = [
            ("pcap", Driver::Pcap),
            ("null", Driver::Null),
            ("ring", Driver::Ring),
            ("af_packet", Driver::AfPacket),
            ("af_xdp", Driver::AfXdp),
            ("tap", Driver::Tap),
            ("tun", Driver::Tun),
            ("mana", Driver::Mana),
            ("virtio_user", Driver::VirtioUser),
        ];
        table.iter().find(|(p, _)| kind.starts_with(p)).map_or(Driver::Nic, |&(_, d)| d)
    }

    /// A started port's driver, by the name ethdev reports for it.
    pub fn of_port(info: &PortInfo) -> Driver {
        Driver::of(&info.driver)
    }

    /// Copies packets between the mbuf's virtual address and its file,
    /// socket or ring, never using the IOVA: a pool without hugepages (no
    /// IOVA) serves it, and what its tx queue took is sent by the time
    /// tx_burst returns.
    pub fn copies_packets(self) -> bool {
        matches!(self, Driver::Pcap | Driver::Null | Driver::Ring | Driver::AfPacket | Driver::Tap | Driver::Tun)
    }

    /// A driver that sends by DMA (a NIC, virtio-user) gets a pause before
    /// its port stops, to send what its tx queue took (see `TX_DRAIN_GRACE`).
    pub fn needs_tx_drain(self) -> bool {
        !self.copies_packets()
    }

    /// Its configure refuses unequal rx and tx queue counts (DPDK 22.11:
    /// tap and tun in tap_dev_configure, af_xdp and mana in theirs).
    pub fn needs_paired_queues(self) -> bool {
        matches!(self, Driver::Tap | Driver::Tun | Driver::AfXdp | Driver::Mana)
    }

    /// Whether its counters include what the kernel dropped before the
    /// driver saw it (rx-miss). af_packet reads PACKET_STATISTICS (tp_drops)
    /// only from 25.03; tap's kernel queue drops show on the kernel interface only.
    pub fn reports_kernel_drops(self, dpdk_version: &str) -> bool {
        match self {
            Driver::AfPacket => at_least(dpdk_version, 25, 3),
            Driver::Tap | Driver::Tun => false,
            _ => true,
        }
    }

    /// Reads capture files (`rx_pcap`), which end: a finite input.
    pub fn reads_capture_files(self) -> bool {
        self == Driver::Pcap
    }

    /// Whether the port's MTU is set through ethdev (rxmode.mtu). af_packet's
    /// frame size decides what it takes (its dev_info claims 1518 whatever the
    /// frame size, and its mtu_set would change the kernel interface's MTU).
    pub fn mtu_by_ethdev(self) -> bool {
        self != Driver::AfPacket
    }

    /// May hand over a packet in several mbufs even without the scatter
    /// offload (net_pcap chains a capture record longer than one mbuf).
    pub fn chains_on_its_own(self) -> bool {
        self == Driver::Pcap
    }

    /// What a run over this PMD cannot vouch for, given the port's rx queues
    /// (af_packet's qpairs) and the DPDK version running ("22.11.11").
    /// (net_pcap's tx also cuts a chained frame over 16128 bytes to 16128,
    /// but says so in the record: caplen < len.)
    pub fn caveats(self, rx_queues: u16, dpdk_version: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        match self {
            // Up to 24.11 stats_get never reads PACKET_STATISTICS (tp_drops;
            // 25.03 counts them as imissed). Every version joins the fanout
            // group with DEFRAG|ROLLOVER (25.03's fanout_mode devarg picks only
            // the algorithm), and rx copies tp_snaplen bytes without comparing
            // it with tp_len.
            Driver::AfPacket => {
                if !self.reports_kernel_drops(dpdk_version) {
                    out.push("kernel drops are not counted by this driver (rx-miss stays 0)");
                }
                out.push("IPv4 fragments are reassembled before handoff sees them (fanout DEFRAG)");
                out.push("frames longer than its frame size (framesz) are cut without a count");
                if rx_queues > 1 {
                    out.push("with qpairs>1 a flow can move between queues, and so workers (fanout ROLLOVER)");
                }
            }
            // Drops in the kernel's tap queue are counted by the kernel interface only.
            Driver::Tap | Driver::Tun => out.push("drops in the kernel's tap queue are not counted by this driver"),
            Driver::VirtioUser => out.push("what the vhost side drops on a full ring is counted there, not here"),
            _ => {}
        }
        out
    }
}

/// Whether version "A.B.C" is at least major.minor.
fn at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// The default mbuf size (data room with headroom), as testpmd's --mbuf-size.
pub const DEFAULT_MBUF_SIZE: u16 = 2048 + HEADROOM;
/// Smallest `--mbuf-size`: headroom and a minimum-size frame, with room.
pub const MIN_MBUF_SIZE: u16 = HEADROOM + 128;

/// af_packet (TPACKET_V2): frames are TPACKET_ALIGNMENT-aligned; the driver
/// wants frame size - 32 bytes of mbuf data room (TPACKET2_HDRLEN less the
/// sockaddr_ll); the kernel puts the MAC header at offset 66 of a frame.
const TPACKET_ALIGNMENT: u32 = 16;
const AF_PACKET_DATA_SLACK: u32 = 32;
const AF_PACKET_MAC_OFFSET: u32 = 66;
/// The driver's default frame size (DFLT_FRAME_SIZE).
const AF_PACKET_DEFAULT_FRAME: u32 = 2048;
/// Ethernet header and one VLAN tag beyond the MTU.
const L2_OVERHEAD: u32 = 18;
/// An interface MTU is followed up to this (jumbo); beyond it (lo's 65536)
/// frames are cut unless --max-pkt-len or framesz asks for more.
const AUTO_MAX_MTU: u32 = 9216;

/// Largest frame an af_packet frame size holds whole.
pub fn af_packet_frame_capacity(framesz: u32) -> u32 {
    framesz.saturating_sub(AF_PACKET_MAC_OFFSET)
}

/// mbuf size (with headroom) an af_packet frame size needs.
fn af_packet_mbuf_need(framesz: u32) -> u32 {
    framesz.saturating_sub(AF_PACKET_DATA_SLACK) + u32::from(HEADROOM)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn align_up(x: u32, to: u32) -> u32 {
    x.div_ceil(to) * to
}

/// What af_packet's devargs become: `framesz`/`blocksz` to add, and the mbuf size they need.
#[derive(Debug, PartialEq, Eq)]
struct AfPacketFit {
    framesz: Option<u32>,
    blocksz: Option<u32>,
    mbuf_need: u32,
}

/// Chooses af_packet's frame size: the user's `framesz`, else one that holds
/// the largest frame (`--max-pkt-len`, else the interface's MTU) or, given
/// `--mbuf-size`, the largest the mbuf holds. `page` is the page size.
/// Frames per block (blocksz / framesz) come out a power of two, which
/// divides the default framecnt (512), as the kernel requires.
fn fit_af_packet(
    name: &str,
    args: &[(String, String)],
    mbuf_size: Option<u16>,
    max_pkt_len: Option<u32>,
    iface_mtu: Option<u32>,
    page: u32,
) -> Result<AfPacketFit> {
    let number = |key: &str| -> Result<Option<u32>> {
        match args.iter().rev().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, v)) => match v.parse::<u32>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(flag_error(format!("{name}: {key}={v} is not a positive number"))),
            },
        }
    };
    let (given_frame, given_block) = (number("framesz")?, number("blocksz")?);
    let max_mbuf = u32::from(u16::MAX);
    let framesz = match given_frame {
        Some(f) => f,
        None => {
            let mtu_frame = iface_mtu.unwrap_or(1500).min(AUTO_MAX_MTU) + L2_OVERHEAD;
            let want = max_pkt_len.unwrap_or(mtu_frame);
            let for_want = align_up(want + AF_PACKET_MAC_OFFSET, TPACKET_ALIGNMENT);
            let for_mbuf = |m: u16| {
                (u32::from(m) - u32::from(HEADROOM) + AF_PACKET_DATA_SLACK) / TPACKET_ALIGNMENT * TPACKET_ALIGNMENT
            };
            match mbuf_size {
                Some(m) if max_pkt_len.is_some() && for_mbuf(m) < for_want => {
                    return Err(flag_error(format!(
                        "{name}: --max-pkt-len {} needs --mbuf-size {} or more (af_packet does not scatter)",
                        want,
                        af_packet_mbuf_need(for_want)
                    )));
                }
                Some(m) => for_mbuf(m),
                None if for_want <= AF_PACKET_DEFAULT_FRAME => AF_PACKET_DEFAULT_FRAME,
                // The largest frame size whose mbuf fits a u16 data room.
                None => for_want.min(for_mbuf(u16::MAX)),
            }
        }
    };
    if framesz % TPACKET_ALIGNMENT != 0 || framesz <= AF_PACKET_MAC_OFFSET {
        return Err(flag_error(format!(
            "{name}: framesz={framesz} must be a multiple of {TPACKET_ALIGNMENT} above {AF_PACKET_MAC_OFFSET}"
        )));
    }
    let need = af_packet_mbuf_need(framesz);
    if need > max_mbuf {
        return Err(flag_error(format!(
            "{name}: framesz={framesz} needs {need}-byte mbufs, more than the largest (--mbuf-size {max_mbuf})"
        )));
    }
    if let Some(m) = mbuf_size {
        if u32::from(m) < need {
            return Err(flag_error(format!(
                "{name}: framesz={framesz} needs --mbuf-size {need} or more (af_packet does not scatter), not {m}"
            )));
        }
    }
    // The driver addresses frame i at i * framesz, as if blocks held frames
    // back to back: blocksz must be a multiple of framesz as well as of the page.
    let blocksz = given_block.unwrap_or_else(|| page / gcd(framesz, page) * framesz);
    if blocksz % framesz != 0 || blocksz % page != 0 {
        return Err(flag_error(format!(
            "{name}: blocksz={blocksz} must be a multiple of both framesz={framesz} and the page size ({page})"
        )));
    }
    let default_layout = framesz == AF_PACKET_DEFAULT_FRAME && blocksz == page;
    Ok(AfPacketFit {
        framesz: (given_frame.is_none() && !default_layout).then_some(framesz),
        blocksz: (given_block.is_none() && !default_layout).then_some(blocksz),
        mbuf_need: need,
    })
}

/// Sizes every af_packet vdev's frames (adding `framesz=`/`blocksz=` where
/// the user gave none) and returns the mbuf size the run uses: `--mbuf-size`,
/// else the default raised to what the frames need.
pub fn fit_frames(vdevs: &mut [Vdev], mbuf_size: Option<u16>, max_pkt_len: Option<u32>) -> Result<u16> {
    let page = rustix::param::page_size() as u32;
    let mut need = u32::from(DEFAULT_MBUF_SIZE);
    for v in vdevs.iter_mut().filter(|v| v.driver == Driver::AfPacket) {
        let mtu = v.values("iface").last().and_then(crate::dpdk::netdev::interface_mtu);
        let fit = fit_af_packet(&v.name, &v.args, mbuf_size, max_pkt_len, mtu, page)?;
        need = need.max(fit.mbuf_need);
        if let Some(f) = fit.framesz {
            v.args.push(("framesz".into(), f.to_string()));
            log::info!("{}: framesz={f} (frames up to {} bytes)", v.name, af_packet_frame_capacity(f));
        }
        if let Some(b) = fit.blocksz {
            v.args.push(("blocksz".into(), b.to_string()));
        }
    }
    // fit_af_packet refused needs above u16::MAX.
    Ok(mbuf_size.unwrap_or(need.min(u32::from(u16::MAX)) as u16))
}

/// Refuses an af_packet vdev with more `qpairs` than rx lcores: the driver
/// opens every queue's socket at probe and the kernel's fanout hashes flows
/// to each, so the frames of a socket nobody polls wait there (or roll over
/// late, out of order, once its ring is full).
pub fn check_af_packet_queues(vdevs: &[Vdev], rx_lcores: usize) -> Result<()> {
    for v in vdevs.iter().filter(|v| v.driver == Driver::AfPacket) {
        let Some(q) = v.values("qpairs").last() else { continue };
        match q.parse::<usize>() {
            Ok(n) if n <= rx_lcores.max(1) => {}
            Ok(n) => {
                return Err(flag_error(format!(
                "{}: qpairs={n} but {rx_lcores} rx lcore(s) poll it: the kernel hashes flows to every queue's socket, \
                     so give qpairs={rx_lcores} or as many --rx-lcores",
                v.name
            )))
            }
            Err(_) => return Err(flag_error(format!("{}: qpairs={q} is not a number", v.name))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<(String, String)> {
        let mut eal = crate::eal_args::EalArgs::new(vec!["--vdev".into(), s.into()]);
        crate::devices::take_vdevs(&mut eal).remove(0).args
    }

    #[test]
    fn drivers_by_device_and_driver_name() {
        assert_eq!(Driver::of("net_af_packet0"), Driver::AfPacket);
        assert_eq!(Driver::of("eth_af_packet"), Driver::AfPacket);
        assert_eq!(Driver::of("net_pcap3"), Driver::Pcap);
        assert_eq!(Driver::of("eth_pcap0"), Driver::Pcap);
        assert_eq!(Driver::of("net_virtio_user0"), Driver::VirtioUser);
        assert_eq!(Driver::of("net_tun0"), Driver::Tun);
        assert_eq!(Driver::of("net_af_xdp"), Driver::AfXdp);
        assert_eq!(Driver::of("net_mana"), Driver::Mana);
        assert_eq!(Driver::of("net_ixgbe"), Driver::Nic);
        assert_eq!(Driver::of("0000:01:00.0"), Driver::Nic);
        // A name that only contains a driver's name is not that driver.
        assert_eq!(Driver::of("mypcap0"), Driver::Nic);
        assert!(is_ethdev_name("net_null0") && is_ethdev_name("eth_ring0"));
        assert!(!is_ethdev_name("crypto_null0") && !is_ethdev_name("0000:01:00.0"));
    }

    #[test]
    fn each_quirk_per_driver() {
        use Driver::*;
        let all = [Pcap, Null, Ring, AfPacket, Tap, Tun, AfXdp, Mana, VirtioUser, Nic];
        let with = |quirk: fn(Driver) -> bool| all.iter().copied().filter(|&d| quirk(d)).collect::<Vec<_>>();
        assert_eq!(with(Driver::copies_packets), [Pcap, Null, Ring, AfPacket, Tap, Tun]);
        assert_eq!(with(Driver::needs_tx_drain), [AfXdp, Mana, VirtioUser, Nic]);
        assert_eq!(with(Driver::needs_paired_queues), [Tap, Tun, AfXdp, Mana]);
        assert_eq!(with(Driver::reads_capture_files), [Pcap]);
        assert_eq!(with(Driver::chains_on_its_own), [Pcap]);
        assert_eq!(with(|d| !d.mtu_by_ethdev()), [AfPacket]);
        assert_eq!(with(|d| !d.reports_kernel_drops("22.11.11")), [AfPacket, Tap, Tun]);
        assert_eq!(with(|d| !d.reports_kernel_drops("24.11.3")), [AfPacket, Tap, Tun]);
        // 25.03 counts af_packet's kernel drops.
        assert_eq!(with(|d| !d.reports_kernel_drops("25.03.0")), [Tap, Tun]);
    }

    #[test]
    fn caveats_per_driver_and_version() {
        assert_eq!(Driver::AfPacket.caveats(1, "22.11.11").len(), 3);
        assert_eq!(Driver::AfPacket.caveats(2, "24.11.3").len(), 4);
        assert_eq!(Driver::AfPacket.caveats(1, "25.03.0").len(), 2);
        assert_eq!(Driver::Tun.caveats(1, "22.11.11"), Driver::Tap.caveats(1, "22.11.11"));
        assert_eq!(Driver::VirtioUser.caveats(1, "22.11.11").len(), 1);
        for d in [Driver::Pcap, Driver::Null, Driver::Ring, Driver::Nic] {
            assert!(d.caveats(4, "22.11.11").is_empty(), "{d:?}");
        }
    }

    #[test]
    fn a_jumbo_mtu_raises_frame_block_and_mbuf() {
        let a = args("net_af_packet0,iface=v0");
        let fit = fit_af_packet("p", &a, None, None, Some(9000), 4096).unwrap();
        // 9000 + 18 + 66 = 9084, aligned to 16.
        // 9088 = 71 * 128: a block of 32 frames is 71 pages.
        assert_eq!(fit, AfPacketFit { framesz: Some(9088), blocksz: Some(71 * 4096), mbuf_need: 9088 - 32 + 128 });
        assert!(af_packet_frame_capacity(9088) >= 9018);
        // A 1500 MTU keeps the driver's defaults.
        let fit = fit_af_packet("p", &a, None, None, Some(1500), 4096).unwrap();
        assert_eq!(fit, AfPacketFit { framesz: None, blocksz: None, mbuf_need: 2048 - 32 + 128 });
        // lo's 65536 is followed only to the jumbo maximum.
        let fit = fit_af_packet("p", &a, None, None, Some(65536), 4096).unwrap();
        assert_eq!(fit.framesz, Some(align_up(AUTO_MAX_MTU + 18 + 66, 16)));
    }

    #[test]
    fn user_values_and_the_mbuf_size_decide() {
        let given = args("net_af_packet0,iface=v0,framesz=16384,blocksz=16384");
        let fit = fit_af_packet("p", &given, None, None, Some(9000), 4096).unwrap();
        assert_eq!(fit, AfPacketFit { framesz: None, blocksz: None, mbuf_need: 16384 - 32 + 128 });
        let e = fit_af_packet("net_af_packet0", &given, Some(2176), None, None, 4096).unwrap_err();
        assert!(e.to_string().contains("needs --mbuf-size 16480 or more"), "{e}");
        // --mbuf-size alone sets the frame size: the largest the mbuf holds.
        let a = args("net_af_packet0,iface=v0");
        let fit = fit_af_packet("p", &a, Some(4096 + 128), None, Some(1500), 4096).unwrap();
        assert_eq!(fit.framesz, Some(4128));
        assert_eq!(fit.blocksz, Some(4128 * 128));
        // --max-pkt-len beyond the mbuf is refused.
        let e = fit_af_packet("p", &a, Some(2176), Some(9018), None, 4096).unwrap_err();
        assert!(e.to_string().contains("--max-pkt-len 9018 needs"), "{e}");
        let bad = args("net_af_packet0,iface=v0,framesz=3000");
        assert!(fit_af_packet("p", &bad, None, None, None, 4096).is_err());
        for block in ["4096", "12288", "6144"] {
            let a = args(&format!("net_af_packet0,iface=v0,framesz=8192,blocksz={block}"));
            assert!(fit_af_packet("p", &a, None, None, None, 4096).is_err(), "{block}");
        }
        let a = args("net_af_packet0,iface=v0,framesz=3072");
        assert_eq!(fit_af_packet("p", &a, None, None, None, 4096).unwrap().blocksz, Some(12288));
        let word = args("net_af_packet0,iface=v0,framesz=big");
        assert!(fit_af_packet("p", &word, None, None, None, 4096).is_err());
    }
}
