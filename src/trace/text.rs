//! Trace text helpers every node's formatter uses, and the text records
//! thread 0 makes from raw trace records (never on the fast path).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

/// What turns TSC stamps and port ids into text.
pub struct FormatContext<'a> {
    pub tsc_hz: u64,
    /// TSC when the data path started; trace times count from it.
    pub start_tsc: u64,
    /// Interface names, index = port id.
    pub port_names: &'a [String],
    /// Dynamic mbuf flags registered at run time: (bit mask, name).
    pub dynflags: &'a [(u64, String)],
}

pub fn port_name<'a>(ctx: &'a FormatContext, port: u16) -> Cow<'a, str> {
    match ctx.port_names.get(usize::from(port)) {
        Some(name) => Cow::Borrowed(name.as_str()),
        None => Cow::Owned(format!("port {port}")),
    }
}

impl FormatContext<'_> {
    /// Seconds since the data path started, for a TSC stamp.
    pub fn seconds(&self, tsc: u64) -> f64 {
        if self.tsc_hz == 0 {
            0.0
        } else {
            tsc.saturating_sub(self.start_tsc) as f64 / self.tsc_hz as f64
        }
    }
}

/// One record as `show trace` prints it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TraceRecordText {
    /// Seconds since the data path started.
    pub time: f64,
    pub node: String,
    /// The record's text; lines separated by '\n', without the record indent.
    pub text: String,
}

/// One traced packet's records on one thread.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TracePacketText {
    pub records: Vec<TraceRecordText>,
    /// The packet's facts beside the VPP text (JSON only).
    #[serde(skip_serializing_if = "PacketFields::is_empty")]
    pub packet: PacketFields,
}

/// A traced packet as structured fields: where it came in (and, on the
/// worker, where it went and how its trace ended), its length and 5-tuple.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PacketFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_interface: Option<String>,
    /// Frame length in bytes (pkt_len).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// How the packet's trace ended on this thread: `transmitted`, or the
    /// drop counter (`handoffdemo-2: completed packets`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

impl PacketFields {
    pub fn is_empty(&self) -> bool {
        *self == PacketFields::default()
    }

    /// Length and 5-tuple from the frame's first bytes (Ethernet, VLANs, IPv4/6, TCP/UDP).
    pub fn decode(&mut self, data: &[u8]) {
        use etherparse::{NetSlice, TransportSlice};
        let Ok(p) = etherparse::SlicedPacket::from_ethernet(data) else { return };
        match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                self.src = Some(ip.header().source_addr().to_string());
                self.dst = Some(ip.header().destination_addr().to_string());
                self.protocol = Some(ip.header().protocol().0);
            }
            Some(NetSlice::Ipv6(ip)) => {
                self.src = Some(ip.header().source_addr().to_string());
                self.dst = Some(ip.header().destination_addr().to_string());
                self.protocol = Some(ip.payload().ip_number.0);
            }
            _ => return,
        }
        match &p.transport {
            Some(TransportSlice::Udp(u)) => {
                (self.src_port, self.dst_port) = (Some(u.source_port()), Some(u.destination_port()))
            }
            Some(TransportSlice::Tcp(t)) => {
                (self.src_port, self.dst_port) = (Some(t.source_port()), Some(t.destination_port()))
            }
            _ => {}
        }
    }
}

/// Hex dump as in VPP's trace: `%08x: ` then up to 32 bytes as lowercase
/// hex, lines joined by '\n' (no trailing newline; empty for no data).
pub fn hexdump(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2 + data.len().div_ceil(32) * 11);
    push_hexdump(&mut out, data);
    out
}

pub fn push_hexdump(out: &mut String, data: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, chunk) in data.chunks(32).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{:08x}: ", i * 32);
        for b in chunk {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_lines_of_32_bytes() {
        let data: Vec<u8> = (0..40).collect();
        assert_eq!(
            hexdump(&data),
            "00000000: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n00000020: 2021222324252627"
        );
        assert_eq!(hexdump(&[]), "");
    }
}
