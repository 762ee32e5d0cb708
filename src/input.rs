//! Capture files: how many packets (and bytes) a pcap or pcapng file holds.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::PcapNgReader;

/// Packets in a pcap or pcapng file; a missing or corrupt file is an error.
pub fn count_packets(path: &Path) -> Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open pcap file '{}'", path.display()))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .with_context(|| format!("pcap file '{}' is too short to be a capture", path.display()))?;
    drop(file);
    let reader = BufReader::new(File::open(path)?);
    let corrupt = |e: pcap_file::PcapError| anyhow::anyhow!("pcap file '{}' is corrupt: {e}", path.display());
    let mut n = 0u64;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut r = PcapNgReader::new(reader).map_err(corrupt)?;
        while let Some(block) = r.next_block() {
            if matches!(
                block.map_err(corrupt)?,
                pcap_file::pcapng::Block::EnhancedPacket(_) | pcap_file::pcapng::Block::SimplePacket(_)
            ) {
                n += 1;
            }
        }
    } else {
        let mut r = PcapReader::new(reader).map_err(corrupt)?;
        while let Some(p) = r.next_packet() {
            p.map_err(corrupt)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pcap");
        let e = count_packets(&missing).unwrap_err();
        assert!(format!("{e:#}").contains("cannot open"));
        let junk = dir.path().join("junk.pcap");
        std::fs::File::create(&junk).unwrap().write_all(b"this is not a pcap file at all").unwrap();
        assert!(format!("{:#}", count_packets(&junk).unwrap_err()).contains("corrupt"));
    }
}

/// What a capture file holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureTotals {
    pub packets: u64,
    pub captured_bytes: u64,
    pub original_bytes: u64,
    /// Records cut short (captured length below the frame's length).
    pub truncated: u64,
}

/// Totals of a pcap file (placeholder until the libpcap reader lands).
pub fn capture_totals(path: &Path) -> Result<CaptureTotals> {
    let reader = BufReader::new(File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?);
    let mut r = PcapReader::new(reader).map_err(|e| anyhow::anyhow!("'{}': {e}", path.display()))?;
    let mut t = CaptureTotals::default();
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| anyhow::anyhow!("'{}': {e}", path.display()))?;
        t.packets += 1;
        t.captured_bytes += p.data.len() as u64;
        t.original_bytes += u64::from(p.orig_len);
        t.truncated += u64::from((p.data.len() as u32) < p.orig_len);
    }
    Ok(t)
}

/// The likely cause when a written capture holds less than was counted into it.
pub fn explain_shortfall(packets: u64, bytes: u64, t: &CaptureTotals) -> String {
    if t.packets == packets && t.truncated > 0 {
        format!("{} frames were cut to net_pcap's snaplen ({} bytes of {bytes} kept)", t.truncated, t.captured_bytes)
    } else if t.packets < packets {
        "the disk or device filled up, or a write failed".to_string()
    } else {
        "the file holds more than was sent to it".to_string()
    }
}
