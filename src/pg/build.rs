//! Packet templates from `data { ... }` and their bytes at a given size.

use etherparse::{
    EtherType, Ethernet2Header, IpHeaders, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder,
    TcpHeader,
};

/// `IP4: SRC -> DST` (VPP names the line after the ethertype).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Eth {
    pub src: [u8; 6],
    pub dst: [u8; 6],
    pub ether_type: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IpProto {
    Udp,
    Tcp,
    Icmp,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum IpAddrs {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

/// `UDP: 1.2.3.4 -> 5.6.7.8 [ttl N] [tos N]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ip {
    pub proto: IpProto,
    pub addrs: IpAddrs,
    pub ttl: u8,
    pub tos: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum L4 {
    Udp { src: u16, dst: u16 },
    Tcp { src: u16, dst: u16, flags: Vec<TcpFlag> },
    IcmpEcho { reply: bool, id: u16, seq: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TcpFlag {
    Fin,
    Syn,
    Rst,
    Psh,
    Ack,
    Urg,
    Ece,
    Cwr,
}

impl TcpFlag {
    pub fn from_word(w: &str) -> Option<TcpFlag> {
        Some(match w.to_ascii_uppercase().as_str() {
            "FIN" => TcpFlag::Fin,
            "SYN" => TcpFlag::Syn,
            "RST" => TcpFlag::Rst,
            "PSH" => TcpFlag::Psh,
            "ACK" => TcpFlag::Ack,
            "URG" => TcpFlag::Urg,
            "ECE" => TcpFlag::Ece,
            "CWR" => TcpFlag::Cwr,
            _ => return None,
        })
    }
}

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
const TCP_WINDOW: u16 = 8192;

/// A packet's layers front to back; payload is zero-filled or cut to size.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Template {
    pub eth: Option<Eth>,
    pub ip: Option<Ip>,
    pub l4: Option<L4>,
    /// At most `MAX_PACKET_SIZE` bytes: anything longer is always cut.
    pub payload: Vec<u8>,
}

impl Template {
    /// Bytes of headers before the payload.
    pub fn header_len(&self) -> usize {
        let eth = if self.eth.is_some() || self.ip.is_some() { Ethernet2Header::LEN } else { 0 };
        let ip = match &self.ip {
            Some(Ip { addrs: IpAddrs::V4(..), .. }) => Ipv4Header::MIN_LEN,
            Some(Ip { addrs: IpAddrs::V6(..), .. }) => Ipv6Header::LEN,
            None => 0,
        };
        let l4 = match &self.l4 {
            Some(L4::Udp { .. }) | Some(L4::IcmpEcho { .. }) => 8,
            Some(L4::Tcp { .. }) => TcpHeader::MIN_LEN,
            None => 0,
        };
        eth + ip + l4
    }

    /// The packet at `size` bytes (`size >= header_len()`); lengths and
    /// checksums come from etherparse's PacketBuilder.
    pub fn build(&self, size: usize) -> Result<Vec<u8>, String> {
        let hdr = self.header_len();
        let Some(payload_len) = size.checked_sub(hdr) else {
            return Err(format!("size {size} < total header size {hdr}"));
        };
        let mut payload = self.payload.clone();
        payload.resize(payload_len, 0);

        let mut out = Vec::with_capacity(size);
        match (&self.eth, &self.ip) {
            (eth, Some(ip)) => {
                // A bare IP header gets a zero-MAC Ethernet header: our
                // first nodes and the pcap link type are Ethernet.
                let (src, dst) = eth.as_ref().map_or(([0; 6], [0; 6]), |e| (e.src, e.dst));
                self.write_ip(&mut out, src, dst, ip, &payload)?;
            }
            (Some(eth), None) => {
                let h =
                    Ethernet2Header { source: eth.src, destination: eth.dst, ether_type: EtherType(eth.ether_type) };
                out.extend_from_slice(&h.to_bytes());
                out.extend_from_slice(&payload);
            }
            (None, None) => out.extend_from_slice(&payload),
        }
        if out.len() != size {
            return Err(format!("built {} bytes instead of {size}", out.len()));
        }
        Ok(out)
    }

    fn write_ip(&self, out: &mut Vec<u8>, src: [u8; 6], dst: [u8; 6], ip: &Ip, payload: &[u8]) -> Result<(), String> {
        let headers = match ip.addrs {
            IpAddrs::V4(s, d) => IpHeaders::Ipv4(
                Ipv4Header {
                    source: s,
                    destination: d,
                    time_to_live: ip.ttl,
                    dscp: Ipv4Dscp::try_new(ip.tos >> 2).unwrap_or_default(),
                    ecn: Ipv4Ecn::try_new(ip.tos & 3).unwrap_or_default(),
                    // VPP's pg leaves the flags clear.
                    dont_fragment: false,
                    ..Default::default()
                },
                Default::default(),
            ),
            IpAddrs::V6(s, d) => IpHeaders::Ipv6(
                Ipv6Header {
                    traffic_class: ip.tos,
                    flow_label: Ipv6FlowLabel::ZERO,
                    hop_limit: ip.ttl,
                    source: s,
                    destination: d,
                    ..Default::default()
                },
                Default::default(),
            ),
        };
        let v6 = matches!(ip.addrs, IpAddrs::V6(..));
        let step = PacketBuilder::ethernet2(src, dst).ip(headers);
        let res = match self.l4.as_ref() {
            Some(L4::Udp { src, dst }) => step.udp(*src, *dst).write(out, payload),
            Some(L4::Tcp { src, dst, flags }) => {
                let mut h = TcpHeader::new(*src, *dst, 0, TCP_WINDOW);
                for f in flags {
                    match f {
                        TcpFlag::Fin => h.fin = true,
                        TcpFlag::Syn => h.syn = true,
                        TcpFlag::Rst => h.rst = true,
                        TcpFlag::Psh => h.psh = true,
                        TcpFlag::Ack => h.ack = true,
                        TcpFlag::Urg => h.urg = true,
                        TcpFlag::Ece => h.ece = true,
                        TcpFlag::Cwr => h.cwr = true,
                    }
                }
                step.tcp_header(h).write(out, payload)
            }
            Some(L4::IcmpEcho { reply, id, seq }) => match (v6, reply) {
                (false, false) => step.icmpv4_echo_request(*id, *seq).write(out, payload),
                (false, true) => step.icmpv4_echo_reply(*id, *seq).write(out, payload),
                (true, false) => step.icmpv6_echo_request(*id, *seq).write(out, payload),
                (true, true) => step.icmpv6_echo_reply(*id, *seq).write(out, payload),
            },
            None => return Err("IP header without a transport header".to_string()),
        };
        res.map_err(|e| e.to_string())
    }
}

/// Bytes 0, 1, ..., n-1 (mod 256), cut at `cap`.
pub(super) fn incrementing(n: u64, cap: usize) -> Vec<u8> {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(cap);
    (0..n).map(|i| (i % 256) as u8).collect()
}
