//! Captures built byte by byte, in the formats libpcap reads and `pcap-file`
//! cannot write (modified pcap, big-endian, orig_len > caplen, pcapng with
//! several interfaces). Shared by the unit tests of `src/input.rs`, the
//! pcap fuzzer and the capture-format tests (each includes it by `#[path]`).
#![allow(dead_code)]

pub const USEC: u32 = 0xa1b2_c3d4;
pub const NSEC: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetzov's "modified pcap": 24-byte record headers.
pub const MODIFIED: u32 = 0xa1b2_cd34;
pub const ETHERNET: u32 = 1;

/// A capture's bytes and where its u32 length fields sit, for the fuzzer.
pub struct Built {
    pub bytes: Vec<u8>,
    pub big_endian: bool,
    /// Offsets of u32 fields worth overwriting: snaplen, each caplen and orig_len, block lengths.
    pub fields: Vec<usize>,
}

/// One record: its header's caplen and orig_len, and the bytes that follow.
/// `data.len()` is normally `caplen`; a test may make it differ.
pub struct Rec {
    pub caplen: u32,
    pub len: u32,
    pub data: Vec<u8>,
}

impl Rec {
    /// A whole frame of `len` bytes.
    pub fn full(i: usize, len: usize) -> Rec {
        Rec { caplen: len as u32, len: len as u32, data: frame(i, len) }
    }

    /// A frame of `len` bytes cut to `snaplen`, as `tcpdump -s snaplen` writes it.
    pub fn cut(i: usize, len: usize, snaplen: usize) -> Rec {
        let mut data = frame(i, len);
        data.truncate(snaplen.min(len));
        Rec { caplen: data.len() as u32, len: len as u32, data }
    }
}

/// An Ethernet/IPv4/UDP-looking frame of `len` (>= 14) bytes.
pub fn frame(i: usize, len: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend((0..len.saturating_sub(14)).map(|j| ((i + j) % 251) as u8));
    f.truncate(len);
    f
}

fn put(out: &mut Vec<u8>, big: bool, v: u32) -> usize {
    let at = out.len();
    out.extend_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
    at
}

fn put16(out: &mut Vec<u8>, big: bool, v: u16) {
    out.extend_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// A pcap file: `magic` (USEC, NSEC or MODIFIED) written in the byte order asked for.
pub fn pcap(magic: u32, big_endian: bool, snaplen: u32, records: &[Rec]) -> Built {
    let big = big_endian;
    let mut b = Vec::new();
    let mut fields = Vec::new();
    put(&mut b, big, magic);
    put16(&mut b, big, 2);
    put16(&mut b, big, 4);
    put(&mut b, big, 0); // thiszone
    put(&mut b, big, 0); // sigfigs
    fields.push(put(&mut b, big, snaplen));
    put(&mut b, big, ETHERNET);
    for (i, r) in records.iter().enumerate() {
        put(&mut b, big, 1_700_000_000 + i as u32);
        put(&mut b, big, if magic == NSEC { 999_999_999 } else { 999_999 });
        fields.push(put(&mut b, big, r.caplen));
        fields.push(put(&mut b, big, r.len));
        if magic == MODIFIED {
            put(&mut b, big, 2); // ifindex
            put16(&mut b, big, 0x0800); // protocol
            b.extend_from_slice(&[0, 0]); // pkt_type, pad
        }
        b.extend_from_slice(&r.data);
    }
    Built { bytes: b, big_endian: big, fields }
}

/// A pcapng file of one section: interfaces as (linktype, snaplen), then
/// Enhanced Packet Blocks as (interface id, record).
pub fn pcapng(big_endian: bool, interfaces: &[(u16, u32)], packets: &[(u32, Rec)]) -> Built {
    let big = big_endian;
    let mut b = Vec::new();
    let mut fields = Vec::new();
    // Section Header Block: type, length, byte-order magic, version 1.0, section length unknown.
    put(&mut b, big, 0x0a0d_0d0a);
    fields.push(put(&mut b, big, 28));
    put(&mut b, big, 0x1a2b_3c4d);
    put16(&mut b, big, 1);
    put16(&mut b, big, 0);
    b.extend_from_slice(&[0xff; 8]);
    fields.push(put(&mut b, big, 28));
    for &(linktype, snaplen) in interfaces {
        put(&mut b, big, 1);
        fields.push(put(&mut b, big, 20));
        put16(&mut b, big, linktype);
        put16(&mut b, big, 0);
        fields.push(put(&mut b, big, snaplen));
        fields.push(put(&mut b, big, 20));
    }
    for (i, (iface, r)) in packets.iter().enumerate() {
        let padded = r.data.len().div_ceil(4) * 4;
        let total = (32 + padded) as u32;
        put(&mut b, big, 6);
        fields.push(put(&mut b, big, total));
        put(&mut b, big, *iface);
        put(&mut b, big, 0); // timestamp, high word
        put(&mut b, big, i as u32); // low word, in the default microseconds
        fields.push(put(&mut b, big, r.caplen));
        fields.push(put(&mut b, big, r.len));
        b.extend_from_slice(&r.data);
        b.resize(b.len() + padded - r.data.len(), 0);
        fields.push(put(&mut b, big, total));
    }
    Built { bytes: b, big_endian: big, fields }
}

/// Frames of the sizes given, each whole.
pub fn full(sizes: &[usize]) -> Vec<Rec> {
    sizes.iter().enumerate().map(|(i, &n)| Rec::full(i, n)).collect()
}
