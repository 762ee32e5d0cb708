//! Classic pcap in and out, through the pcap-file crate.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError};

use super::{MAX_BYTES_PER_STREAM, MAX_PACKETS_PER_STREAM, MAX_PACKET_SIZE};

/// Writes Ethernet (linktype 1) packets to a classic pcap file, microsecond timestamps 1 us apart.
///
/// On error the partly written file is removed, so no half-written output
/// is left behind.
pub fn write_pcap(path: &Path, packets: &[Vec<u8>]) -> io::Result<()> {
    let res = write_all(path, packets);
    if res.is_err() {
        // Best effort: the write error is the one worth reporting.
        let _ = std::fs::remove_file(path);
    }
    res
}

fn write_all(path: &Path, packets: &[Vec<u8>]) -> io::Result<()> {
    let longest = packets.iter().map(Vec::len).max().unwrap_or(0);
    let snaplen = u32::try_from(longest.max(65535))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too long for pcap"))?;
    let header =
        PcapHeader { snaplen, datalink: DataLink::ETHERNET, endianness: Endianness::Little, ..PcapHeader::default() };
    let file = BufWriter::new(File::create(path)?);
    let mut writer = PcapWriter::with_header(file, header).map_err(to_io)?;
    for (i, data) in packets.iter().enumerate() {
        let len = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too long for pcap"))?;
        let ts = Duration::from_micros(i as u64);
        writer.write_packet(&PcapPacket::new(ts, len, data)).map_err(to_io)?;
    }
    // Explicit flush: BufWriter's drop would swallow a late write error.
    writer.into_writer().flush()
}

fn to_io(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Reads every packet of a classic Ethernet pcap, within the stream limits.
/// Errors are one-line messages for `ErrorKind::Pcap`.
pub(super) fn read_pcap(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut reader = PcapReader::new(BufReader::new(file)).map_err(|e| format!("not a pcap file: {e}"))?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(format!("link type {link:?} is not Ethernet"));
    }
    let mut packets = Vec::new();
    let mut bytes: u64 = 0;
    // Raw packets: pcap-file's checked reader refuses captures whose
    // orig_len exceeds the snaplen, which truncated captures do.
    while let Some(next) = reader.next_raw_packet() {
        let n = packets.len() + 1;
        let raw = next.map_err(|e| format!("packet {n}: {e}"))?;
        let len = raw.data.len();
        if len == 0 {
            return Err(format!("packet {n} is empty"));
        }
        if len > usize::from(MAX_PACKET_SIZE) {
            return Err(format!("packet {n} is {len} bytes, over the jumbo frame limit of {MAX_PACKET_SIZE} bytes"));
        }
        if n as u64 > MAX_PACKETS_PER_STREAM {
            return Err(format!("more than {MAX_PACKETS_PER_STREAM} packets, too many to materialise"));
        }
        bytes += len as u64;
        if bytes > MAX_BYTES_PER_STREAM {
            return Err("more than 2 GiB of packets, too much to materialise".to_string());
        }
        packets.push(raw.data.into_owned());
    }
    if packets.is_empty() {
        return Err("no packets in file".to_string());
    }
    Ok(packets)
}
