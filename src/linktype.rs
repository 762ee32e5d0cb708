//! Captures that are not Ethernet. handoff forwards Ethernet frames, and
//! net_pcap hands a capture's records over whatever its link type, so a raw
//! IP or Linux cooked capture would go out as "Ethernet" with IP bytes for
//! MAC addresses. Those two kinds are given Ethernet headers instead, in a
//! copy that lives as long as the run; every other link type is refused.
//!
//! The conversion is exact where the capture knows: the payload after the
//! link header is kept byte for byte, with both lengths (caplen, orig_len)
//! and the timestamp (in nanoseconds); the ethertype is the IP version (raw
//! IP) or the cooked header's protocol; the source MAC is the cooked
//! header's address when it is a 6-byte one. What the capture does not hold
//! is made up and fixed: 02:00:00:00:00:01 as source and 02:00:00:00:00:02
//! as destination, ff:ff:ff:ff:ff:ff for a cooked broadcast, and the IP
//! group's MAC for a cooked multicast.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};

/// Link types as libpcap reports them on Linux (DLT values: LINKTYPE_RAW
/// 101 in a file reads as DLT_RAW 12).
pub const DLT_EN10MB: i32 = 1;
const DLT_RAW: i32 = 12;
const DLT_LINUX_SLL: i32 = 113;
const DLT_IPV4: i32 = 228;
const DLT_IPV6: i32 = 229;
const DLT_LINUX_SLL2: i32 = 276;

pub const SYNTH_SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const SYNTH_DST: [u8; 6] = [2, 0, 0, 0, 0, 2];
const BROADCAST: [u8; 6] = [0xff; 6];
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETH_HLEN: usize = 14;
/// libpcap's largest snaplen (MAXIMUM_SNAPLEN).
const MAX_SNAPLEN: u32 = 262_144;

/// The link types handoff turns into Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convertible {
    /// Raw IP: the version nibble says which (DLT_RAW).
    RawIp,
    /// Raw IPv4 or IPv6 only (DLT_IPV4, DLT_IPV6): the version must match.
    Ip(u8),
    /// Linux cooked v1: a 16-byte header.
    Sll,
    /// Linux cooked v2: a 20-byte header.
    Sll2,
}

impl Convertible {
    pub fn of(dlt: i32) -> Option<Convertible> {
        match dlt {
            DLT_RAW => Some(Convertible::RawIp),
            DLT_IPV4 => Some(Convertible::Ip(4)),
            DLT_IPV6 => Some(Convertible::Ip(6)),
            DLT_LINUX_SLL => Some(Convertible::Sll),
            DLT_LINUX_SLL2 => Some(Convertible::Sll2),
            _ => None,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Convertible::RawIp | Convertible::Ip(_) => 0,
            Convertible::Sll => 16,
            Convertible::Sll2 => 20,
        }
    }

    /// The Ethernet header for one record's bytes (`data`, at least
    /// `header_len` of them), or why the record cannot have one.
    fn ethernet_header(self, data: &[u8]) -> Result<[u8; ETH_HLEN], String> {
        if data.len() < self.header_len() {
            return Err(format!("{} bytes, fewer than its link header's {}", data.len(), self.header_len()));
        }
        let (dst, src, ethertype) = match self {
            Convertible::RawIp | Convertible::Ip(_) => {
                let version = data.first().map(|b| b >> 4).ok_or("an empty record")?;
                let ethertype = match version {
                    4 => ETHERTYPE_IPV4,
                    6 => ETHERTYPE_IPV6,
                    v => return Err(format!("IP version {v}")),
                };
                if let Convertible::Ip(want) = self {
                    if version != want {
                        return Err(format!("IP version {version} in an IPv{want}-only capture"));
                    }
                }
                (SYNTH_DST, SYNTH_SRC, ethertype)
            }
            Convertible::Sll | Convertible::Sll2 => {
                // (packet type, address length, address, protocol) at their offsets.
                let (kind, halen, addr, proto) = if self == Convertible::Sll {
                    (u16::from_be_bytes([data[0], data[1]]), data[5], &data[6..12], [data[14], data[15]])
                } else {
                    (u16::from(data[10]), data[11], &data[12..18], [data[0], data[1]])
                };
                let ethertype = u16::from_be_bytes(proto);
                // Below 0x0600 the field is a Linux protocol number (802.2 LLC, CAN, ...), not an ethertype.
                if ethertype < 0x0600 {
                    return Err(format!("protocol {ethertype:#06x}, which is not an ethertype"));
                }
                let src: [u8; 6] = if halen == 6 { addr[..6].try_into().expect("six bytes") } else { SYNTH_SRC };
                let payload = &data[self.header_len()..];
                let dst = match kind {
                    1 => BROADCAST,
                    2 => group_mac(ethertype, payload).unwrap_or(SYNTH_DST),
                    _ => SYNTH_DST,
                };
                (dst, src, ethertype)
            }
        };
        let mut h = [0u8; ETH_HLEN];
        h[..6].copy_from_slice(&dst);
        h[6..12].copy_from_slice(&src);
        h[12..].copy_from_slice(&ethertype.to_be_bytes());
        Ok(h)
    }
}

/// The multicast MAC of an IP packet's destination group (RFC 1112, RFC 2464).
fn group_mac(ethertype: u16, ip: &[u8]) -> Option<[u8; 6]> {
    match ethertype {
        ETHERTYPE_IPV4 if ip.len() >= 20 => Some([0x01, 0x00, 0x5e, ip[17] & 0x7f, ip[18], ip[19]]),
        ETHERTYPE_IPV6 if ip.len() >= 40 => Some([0x33, 0x33, ip[36], ip[37], ip[38], ip[39]]),
        _ => None,
    }
}

/// Writes `input` (a raw IP or Linux cooked capture, `kind`) as an Ethernet
/// pcap at `output`; returns how many records it wrote. Refused, with one
/// line naming the file and the record: a record too short for its link
/// header, or one that does not say which ethertype it carries.
pub fn to_ethernet(input: &Path, kind: Convertible, output: &Path) -> Result<u64> {
    let shown = input.display();
    let mut cap = pcap::Capture::from_file_with_precision(input, pcap::Precision::Nano)
        .map_err(|e| anyhow!("libpcap cannot read pcap file '{shown}': {e}"))?;
    let file = std::fs::File::create(output).with_context(|| format!("cannot write {}", output.display()))?;
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ts_resolution: TsResolution::NanoSecond,
        // libpcap's largest (a record within 14 bytes of it is refused by the writer).
        snaplen: MAX_SNAPLEN,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)?;
    let strip = kind.header_len();
    let mut frame = Vec::with_capacity(2048);
    let mut n = 0u64;
    loop {
        let p = match cap.next_packet() {
            Ok(p) => p,
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => bail!("pcap file '{shown}' is corrupt after {n} readable packets: {e}"),
        };
        let record = n + 1;
        if p.data.len() < strip.max(1) {
            bail!(
                "pcap file '{shown}': record {record} holds {} bytes, too few for its {strip}-byte link header and a packet; \
                 it cannot be given an Ethernet header",
                p.data.len()
            );
        }
        let eth = kind.ethernet_header(p.data).map_err(|why| {
            anyhow!("pcap file '{shown}': record {record} carries {why}; it cannot be given an Ethernet header")
        })?;
        frame.clear();
        frame.extend_from_slice(&eth);
        frame.extend_from_slice(&p.data[strip..]);
        let orig_len = (p.header.len as usize).saturating_sub(strip) + ETH_HLEN;
        let (sec, nsec) = (p.header.ts.tv_sec, p.header.ts.tv_usec);
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            bail!("pcap file '{shown}': record {record} has a timestamp before 1970 or out of range");
        }
        let ts = Duration::new(sec as u64, nsec as u32);
        w.write_packet(&PcapPacket::new(ts, orig_len as u32, &frame))
            .map_err(|e| anyhow!("cannot write {}: {e}", output.display()))?;
        n += 1;
    }
    use std::io::Write;
    w.into_writer().flush().with_context(|| format!("cannot write {}", output.display()))?;
    Ok(n)
}

/// The Ethernet copies of a run's non-Ethernet captures, in a temporary
/// directory made for the first one and removed with this value (or by
/// `cleanup` on a signal).
#[derive(Default)]
pub struct EthernetCopies {
    dir: Option<tempfile::TempDir>,
    made: usize,
}

impl EthernetCopies {
    /// `input`'s Ethernet copy when its link type is one handoff converts
    /// (said once on stderr), None for any other (Ethernet, or refused by
    /// `input::count_packets` already).
    pub fn copy_if_needed(&mut self, input: &Path) -> Result<Option<PathBuf>> {
        let link = pcap::Capture::from_file(input)
            .map_err(|e| anyhow!("libpcap cannot read pcap file '{}': {e}", input.display()))?
            .get_datalink();
        let Some(kind) = Convertible::of(link.0) else { return Ok(None) };
        let dir = match &mut self.dir {
            Some(d) => d.path().to_path_buf(),
            None => {
                let d = crate::cleanup::input_dir("handoff-ethernet-").context("cannot make a temporary directory")?;
                self.dir.insert(d).path().to_path_buf()
            }
        };
        let copy = dir.join(format!("rx{}.pcap", self.made));
        self.made += 1;
        to_ethernet(input, kind, &copy)?;
        log::warn!(
            "{} has link type {}: its packets get Ethernet headers for this run (ethertype from the packet; \
             MACs from the capture where it has them, else 02:00:00:00:00:01 > 02:00:00:00:00:02)",
            input.display(),
            link.get_name().unwrap_or_else(|_| link.0.to_string()),
        );
        Ok(Some(copy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[16..20].copy_from_slice(&[224, 1, 2, 3]);
        p
    }

    #[test]
    fn a_copy_keeps_timestamps_lengths_and_bytes() {
        use pcap_file::pcap::{PcapReader, PcapWriter};
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("raw.pcap"), dir.path().join("eth.pcap"));
        let header =
            PcapHeader { datalink: DataLink::RAW, ts_resolution: TsResolution::NanoSecond, ..Default::default() };
        let mut w = PcapWriter::with_header(std::fs::File::create(&input).unwrap(), header).unwrap();
        let ts = Duration::new(1_700_000_000, 123_456_789);
        let p = ipv4(60);
        w.write_packet(&PcapPacket::new(ts, 60, &p)).unwrap();
        // Cut by a snaplen: 40 of 1500 bytes captured.
        w.write_packet(&PcapPacket::new(ts + Duration::from_nanos(1), 1500, &p[..40])).unwrap();
        drop(w);
        assert_eq!(to_ethernet(&input, Convertible::RawIp, &output).unwrap(), 2);
        let mut r = PcapReader::new(std::fs::File::open(&output).unwrap()).unwrap();
        assert_eq!(r.header().datalink, DataLink::ETHERNET);
        let a = r.next_packet().unwrap().unwrap().into_owned();
        assert_eq!((a.timestamp, a.orig_len, a.data.len()), (ts, 74, 74));
        assert_eq!(&a.data[..], &[&Convertible::RawIp.ethernet_header(&p).unwrap()[..], &p[..]].concat()[..]);
        let b = r.next_packet().unwrap().unwrap().into_owned();
        assert_eq!((b.timestamp, b.orig_len, b.data.len()), (ts + Duration::from_nanos(1), 1514, 54));
        assert!(r.next_packet().is_none());
        // A record that says nothing of its version is refused, naming it.
        let mut w = PcapWriter::with_header(std::fs::File::create(&input).unwrap(), header).unwrap();
        w.write_packet(&PcapPacket::new(ts, 60, &p)).unwrap();
        w.write_packet(&PcapPacket::new(ts, 3, &[0x50, 0, 0][..])).unwrap();
        drop(w);
        let e = format!("{:#}", to_ethernet(&input, Convertible::RawIp, &output).unwrap_err());
        assert!(e.contains("raw.pcap': record 2 carries IP version 5"), "{e}");
    }

    #[test]
    fn raw_ip_gets_the_ethertype_of_its_version() {
        let h = Convertible::RawIp.ethernet_header(&ipv4(20)).unwrap();
        assert_eq!(h, [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let h = Convertible::RawIp.ethernet_header(&[0x60, 0, 0, 0]).unwrap();
        assert_eq!(h[12..], [0x86, 0xdd]);
        assert!(Convertible::RawIp.ethernet_header(&[0x50]).unwrap_err().contains("IP version 5"));
        assert!(Convertible::Ip(6).ethernet_header(&ipv4(20)).unwrap_err().contains("IPv6-only"));
    }

    #[test]
    fn cooked_keeps_the_senders_mac_and_protocol() {
        // SLL: multicast from 00:11:22:33:44:55, IPv4 to 224.1.2.3.
        let mut sll = vec![0, 2, 0, 1, 0, 6, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0, 0x08, 0x00];
        sll.extend(ipv4(20));
        let h = Convertible::Sll.ethernet_header(&sll).unwrap();
        assert_eq!(h, [0x01, 0x00, 0x5e, 1, 2, 3, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
        // SLL2: ARP broadcast from a 6-byte address.
        let mut sll2 = vec![0x08, 0x06, 0, 0, 0, 0, 0, 2, 0, 1, 1, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        sll2.extend([0u8; 28]);
        let h = Convertible::Sll2.ethernet_header(&sll2).unwrap();
        assert_eq!(h, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06]);
        // A Linux protocol number (802.2 LLC) is no ethertype; a tun device has no address.
        sll[14..16].copy_from_slice(&[0, 4]);
        assert!(Convertible::Sll.ethernet_header(&sll).unwrap_err().contains("protocol 0x0004"));
        sll[14..16].copy_from_slice(&[0x86, 0xdd]);
        sll[1] = 0;
        sll[5] = 0;
        assert_eq!(Convertible::Sll.ethernet_header(&sll).unwrap()[..12], [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    }
}
