//! Classic pcap in and out, through the pcap-file crate.

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, PcapError};

use super::{MAX_BYTES_PER_STREAM, MAX_PACKETS_PER_STREAM, MAX_PACKET_SIZE, PCAP_FILE_HEADER, PCAP_RECORD_HEADER};

/// snaplen of the files we write: every packet is at most `MAX_PACKET_SIZE`.
const SNAPLEN: u32 = 65535;

/// A classic Ethernet (linktype 1) pcap being written packet by packet,
/// microsecond timestamps 1 us apart, never more than `budget` bytes.
pub(super) struct PcapOut {
    writer: PcapWriter<BufWriter<File>>,
    packets: u64,
    bytes: u64,
    budget: u64,
}

impl PcapOut {
    /// Creates (or truncates) `path` and writes the file header.
    pub fn create(path: &Path, budget: u64) -> io::Result<PcapOut> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::ETHERNET,
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        let file = BufWriter::new(File::create(path)?);
        let writer = PcapWriter::with_header(file, header).map_err(to_io)?;
        let out = PcapOut { writer, packets: 0, bytes: PCAP_FILE_HEADER, budget };
        out.check_budget()?;
        Ok(out)
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(data.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "packet too long for pcap"))?;
        // The planner said how big the file gets; going past it would break
        // the disk bound it checked, so it is an error, not a surprise.
        self.bytes += PCAP_RECORD_HEADER + u64::from(len);
        self.check_budget()?;
        let ts = Duration::from_micros(self.packets);
        self.writer.write_packet(&PcapPacket::new(ts, len, data)).map_err(to_io)?;
        self.packets += 1;
        Ok(())
    }

    /// Flushes; returns (packets, bytes) written.
    pub fn finish(self) -> io::Result<(u64, u64)> {
        // Explicit flush: BufWriter's drop would swallow a late write error.
        // No fsync: net_pcap reads the file back from the page cache, and
        // the free space was checked before the first byte.
        self.writer.into_writer().into_inner().map_err(|e| e.into_error())?;
        Ok((self.packets, self.bytes))
    }

    fn check_budget(&self) -> io::Result<()> {
        if self.bytes > self.budget {
            let msg = format!("{} bytes, more than the {} planned", self.bytes, self.budget);
            return Err(io::Error::other(msg));
        }
        Ok(())
    }
}

/// Writes `packets` to a pcap file in one go (tests only: the product
/// writes stream by stream through `PcapOut`).
///
/// On error the partly written file is removed, so no half-written output
/// is left behind.
#[cfg(test)]
pub fn write_pcap(path: &Path, packets: &[Vec<u8>]) -> io::Result<()> {
    let res = PcapOut::create(path, u64::MAX).and_then(|mut out| {
        for p in packets {
            out.write(p)?;
        }
        out.finish()
    });
    if res.is_err() {
        // Best effort: the write error is the one worth reporting.
        let _ = std::fs::remove_file(path);
    }
    res.map(|_| ())
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
