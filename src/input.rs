//! Capture files, read with libpcap as net_pcap reads them: how many
//! packets and bytes an input holds, and what a tx_pcap file holds after a run.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// net_pcap's `RTE_ETH_PCAP_SNAPLEN` in DPDK 22.11 (`RTE_ETHER_MAX_JUMBO_FRAME_LEN`): a transmitted
/// frame longer than this that spans several mbufs is written cut to it (caplen 16128, orig_len the
/// frame's), and the port's tx byte counter counts only the bytes written, not the whole frame.
pub const NET_PCAP_SNAPLEN: u32 = 16128;

/// What libpcap, the reader net_pcap uses, reads from a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureTotals {
    pub packets: u64,
    /// Bytes of the records (their caplen): what net_pcap puts in mbufs and counts as rx bytes.
    pub captured_bytes: u64,
    /// The frames' lengths on the wire (orig_len).
    pub original_bytes: u64,
    /// Records with caplen < orig_len.
    pub truncated: u64,
}

/// A record libpcap could not read. It carries the totals up to it, so a
/// caller checking a `tx_pcap` file (cut short by a full disk) can still say
/// how much arrived: `err.downcast_ref::<UnreadableRecord>()`.
#[derive(Debug, thiserror::Error)]
#[error("pcap file '{}' is corrupt after {} readable packets: {message}", path.display(), before.packets)]
pub struct UnreadableRecord {
    pub path: PathBuf,
    pub before: CaptureTotals,
    pub message: String,
}

/// Packets in a capture a port will receive from; see [`capture_totals`].
/// Also refused: a capture whose link type is neither Ethernet nor one that
/// [`crate::linktype`] converts (raw IP, Linux cooked), which net_pcap would
/// hand over as if it were Ethernet (IP bytes read as MAC addresses).
pub fn count_packets(path: &Path) -> Result<u64> {
    Ok(read_totals(path, true)?.packets)
}

/// One line for a capture that is not Ethernet: its link type as tcpdump
/// names it ("RAW (Raw IP)"), and how to make it Ethernet.
fn not_ethernet(shown: &str, link: pcap::Linktype) -> String {
    let named = match (link.get_name(), link.get_description()) {
        (Ok(name), Ok(description)) => format!("{name} ({description})"),
        _ => format!("{} (unknown to libpcap)", link.0),
    };
    format!(
        "pcap file '{shown}' has link type {named}, not Ethernet (EN10MB): handoff forwards Ethernet frames \
         (and converts raw IP and Linux cooked captures itself); convert it first, e.g. `tcprewrite --dlt=enet \
         --enet-smac=02:00:00:00:00:01 --enet-dmac=02:00:00:00:00:02 -i {shown} -o {shown}.eth.pcap`"
    )
}

/// Reads a capture to its end with libpcap, as net_pcap will, and totals it.
///
/// Refused, each with one line naming the file: anything but a regular file
/// (a FIFO or device cannot be counted up front nor re-read for infinite_rx),
/// an empty file, a file libpcap does not open, and a file with a record libpcap
/// cannot read. That last one is refused rather than counted up to the bad
/// record: net_pcap (22.11.11) counts one rx error there and reads on, taking
/// the bytes after a bad record header as more records (a file with one bad
/// caplen in the middle delivered all 40 good packets, not the 5 before it),
/// so no count made up front would match what the run receives.
pub fn capture_totals(path: &Path) -> Result<CaptureTotals> {
    read_totals(path, false)
}

fn read_totals(path: &Path, ethernet_only: bool) -> Result<CaptureTotals> {
    let shown = path.display();
    if path.as_os_str() == "-" {
        // libpcap reads standard input for "-".
        bail!("pcap file '-' would be standard input to libpcap, which cannot be counted up front; name a file (./- for one called '-')");
    }
    let meta = std::fs::metadata(path).with_context(|| format!("cannot open pcap file '{shown}'"))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        bail!("pcap file '{shown}' is a directory");
    }
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        bail!(
            "pcap file '{shown}' is {what}: handoff counts a capture's packets before the run (and net_pcap re-reads it \
             for infinite_rx), so it must be a regular file"
        );
    }
    if meta.len() == 0 {
        bail!("pcap file '{shown}' is empty");
    }
    if path.to_str().is_none() {
        // The pcap crate would hand libpcap a null name.
        bail!("pcap file '{shown}' has a name that is not UTF-8, which cannot be passed to libpcap");
    }
    let libpcap_says = |e: pcap::Error| match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    };
    // pcap_open_offline, as net_pcap opens rx_pcap files.
    let mut cap = pcap::Capture::from_file(path)
        .map_err(|e| anyhow!("libpcap cannot read pcap file '{shown}': {}", libpcap_says(e)))?;
    let link = cap.get_datalink();
    let forwardable = link.0 == crate::linktype::DLT_EN10MB || crate::linktype::Convertible::of(link.0).is_some();
    if ethernet_only && !forwardable {
        bail!(not_ethernet(&shown.to_string(), link));
    }
    let mut t = CaptureTotals::default();
    loop {
        match cap.next_packet() {
            Ok(p) => {
                t.packets += 1;
                t.captured_bytes += u64::from(p.header.caplen);
                t.original_bytes += u64::from(p.header.len);
                t.truncated += u64::from(p.header.caplen < p.header.len);
            }
            Err(pcap::Error::NoMorePackets) => return Ok(t),
            Err(e) => {
                let mut message = libpcap_says(e);
                if message.contains("different from the") {
                    message.push_str(
                        " (libpcap reads a pcapng file only if all its interfaces share one link type and snaplen)",
                    );
                }
                return Err(UnreadableRecord { path: path.to_path_buf(), before: t, message }.into());
            }
        }
    }
}

/// The likely reason a `tx_pcap` file does not hold what its port counted
/// transmitted (`packets`, `bytes` from the port's tx counters), or None
/// when it does. For a file cut mid-record, pass [`UnreadableRecord::before`].
pub fn explain_shortfall(packets: u64, bytes: u64, found: &CaptureTotals) -> Option<String> {
    if found.packets < packets {
        // net_pcap ignores pcap_dump's failed writes and counts the packets sent anyway.
        return Some("the disk or device is full (net_pcap does not check its writes)".into());
    }
    if found.packets > packets {
        return Some("the file holds more packets than the port sent: another port or process wrote to it".into());
    }
    if found.truncated > 0 {
        // The port counts only the written bytes, so this shows in the records, not in the byte totals.
        return Some(format!("frames longer than net_pcap's {NET_PCAP_SNAPLEN}-byte snaplen were cut"));
    }
    if found.captured_bytes != bytes {
        return Some(
            "the packets in the file differ in size from those sent: the file was changed after the run".into(),
        );
    }
    None
}

#[cfg(test)]
#[path = "../tests/common/captures.rs"]
mod captures;

#[cfg(test)]
mod tests {
    use super::captures::*;
    use super::*;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;

    fn totals_of(dir: &Path, name: &str, bytes: &[u8]) -> Result<CaptureTotals> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        capture_totals(&path)
    }

    fn whole(packets: u64, bytes: u64) -> CaptureTotals {
        CaptureTotals { packets, captured_bytes: bytes, original_bytes: bytes, truncated: 0 }
    }

    /// Its one line, which names the file.
    fn refusal(path: &Path) -> String {
        let line = format!("{:#}", capture_totals(path).unwrap_err());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(&path.display().to_string()), "{line}");
        line
    }

    #[test]
    fn pcap_usec_and_nsec_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        for magic in [USEC, NSEC] {
            for big in [false, true] {
                let b = pcap(magic, big, 65535, &full(&[60, 1514, 600]));
                let t = totals_of(dir.path(), "x.pcap", &b.bytes).unwrap();
                assert_eq!(t, whole(3, 60 + 1514 + 600), "magic {magic:#x} big-endian {big}");
            }
        }
    }

    #[test]
    fn modified_pcap() {
        let dir = tempfile::tempdir().unwrap();
        for big in [false, true] {
            let b = pcap(MODIFIED, big, 65535, &full(&[60, 70, 80, 90]));
            assert_eq!(totals_of(dir.path(), "m.pcap", &b.bytes).unwrap(), whole(4, 300));
        }
    }

    #[test]
    fn snaplen_limited_counts_the_truncated() {
        // tcpdump -s 96: orig_len > caplen on every long frame.
        let dir = tempfile::tempdir().unwrap();
        let recs = vec![Rec::cut(0, 1514, 96), Rec::cut(1, 60, 96), Rec::cut(2, 9000, 96)];
        let b = pcap(USEC, false, 96, &recs);
        let t = totals_of(dir.path(), "s96.pcap", &b.bytes).unwrap();
        assert_eq!(
            t,
            CaptureTotals { packets: 3, captured_bytes: 96 + 60 + 96, original_bytes: 1514 + 60 + 9000, truncated: 2 }
        );
    }

    #[test]
    fn caplen_above_the_snaplen_is_cut_to_it() {
        // libpcap reads the snaplen's worth and skips the rest, as net_pcap will see it.
        let dir = tempfile::tempdir().unwrap();
        let b = pcap(USEC, false, 100, &full(&[200, 60]));
        let t = totals_of(dir.path(), "over.pcap", &b.bytes).unwrap();
        assert_eq!(t, CaptureTotals { packets: 2, captured_bytes: 160, original_bytes: 260, truncated: 1 });
    }

    #[test]
    fn header_only_is_zero_packets() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(totals_of(dir.path(), "h.pcap", &pcap(USEC, false, 65535, &[]).bytes).unwrap(), whole(0, 0));
    }

    #[test]
    fn pcapng_one_or_several_like_interfaces() {
        let dir = tempfile::tempdir().unwrap();
        for big in [false, true] {
            let one = pcapng(big, &[(1, 0)], &[(0, Rec::full(0, 61)), (0, Rec::cut(1, 1514, 128))]);
            let t = totals_of(dir.path(), "one.pcapng", &one.bytes).unwrap();
            assert_eq!(t, CaptureTotals { packets: 2, captured_bytes: 189, original_bytes: 1575, truncated: 1 });
            let two = pcapng(big, &[(1, 0), (1, 0)], &[(0, Rec::full(0, 60)), (1, Rec::full(1, 100))]);
            assert_eq!(totals_of(dir.path(), "two.pcapng", &two.bytes).unwrap(), whole(2, 160));
        }
    }

    #[test]
    fn pcapng_with_mixed_link_types_is_refused_at_the_second_interface() {
        // libpcap 1.10 takes one link type and snaplen per file; it fails on
        // reaching an interface that differs, after the packets before it.
        let dir = tempfile::tempdir().unwrap();
        let b = pcapng(false, &[(1, 0), (113, 0)], &[(0, Rec::full(0, 60))]);
        let path = dir.path().join("mixed.pcapng");
        std::fs::write(&path, &b.bytes).unwrap();
        let line = refusal(&path);
        assert!(line.contains("type 113 different") && line.contains("share one link type"), "{line}");
        // The IDBs come first here, so libpcap fails before any packet.
        assert!(line.contains("after 0 readable packets"), "{line}");
        let b = pcapng(false, &[(1, 0), (1, 128)], &[(0, Rec::full(0, 60))]);
        std::fs::write(&path, &b.bytes).unwrap();
        assert!(refusal(&path).contains("snapshot length 128 different"));
    }

    #[test]
    fn truncated_record_names_file_count_and_libpcap_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = pcap(USEC, false, 65535, &full(&[60, 60, 1000])).bytes;
        b.truncate(b.len() - 10);
        let path = dir.path().join("cut.pcap");
        std::fs::write(&path, &b).unwrap();
        let line = refusal(&path);
        assert!(line.contains("corrupt after 2 readable packets"), "{line}");
        assert!(line.contains("truncated dump file; tried to read 1000 captured bytes, only got 990"), "{line}");
        // The partial totals are there for a caller that checks an output file.
        let e = capture_totals(&path).unwrap_err();
        let r = e.downcast_ref::<UnreadableRecord>().expect("typed");
        assert_eq!(r.before, whole(2, 120));
        // A header cut short fails the same way.
        b.truncate(24 + 16 + 60 + 7);
        std::fs::write(&path, &b).unwrap();
        assert!(refusal(&path).contains("after 1 readable packets: truncated dump file; tried to read 16 header bytes"));
    }

    #[test]
    fn caplen_beyond_libpcaps_maximum_is_refused_not_allocated() {
        let dir = tempfile::tempdir().unwrap();
        for caplen in [0xffff_ffffu32, 262_145] {
            let recs = vec![Rec::full(0, 60), Rec { caplen, len: caplen, data: vec![0; 64] }];
            let path = dir.path().join("huge.pcap");
            std::fs::write(&path, pcap(USEC, false, 0, &recs).bytes).unwrap();
            let line = refusal(&path);
            assert!(line.contains(&format!("invalid packet capture length {caplen}")), "{line}");
        }
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pcap");
        assert!(refusal(&missing).contains("cannot open pcap file"));
        let junk = dir.path().join("junk.pcap");
        std::fs::File::create(&junk).unwrap().write_all(b"this is not a pcap file at all").unwrap();
        assert!(refusal(&junk).contains("libpcap cannot read pcap file"));
        assert!(refusal(&junk).contains("unknown file format"));
        let short = dir.path().join("short.pcap");
        std::fs::write(&short, &USEC.to_le_bytes()[..3]).unwrap();
        assert!(refusal(&short).contains("truncated dump file"));
        let empty = dir.path().join("empty.pcap");
        std::fs::write(&empty, b"").unwrap();
        assert!(refusal(&empty).contains("is empty"));
        assert!(refusal(dir.path()).contains("is a directory"));
        assert!(refusal(Path::new("/dev/null")).contains("is a device"));
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.pcap"));
        std::fs::write(&odd, pcap(USEC, false, 65535, &[]).bytes).unwrap();
        assert!(refusal(&odd).contains("not UTF-8"));
        let e = format!("{:#}", capture_totals(Path::new("-")).unwrap_err());
        assert!(e.contains("standard input"), "{e}");
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("in.fifo");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success();
        assert!(ok, "mkfifo failed");
        // Opening a FIFO with no writer would block; we look before we open.
        let line = refusal(&fifo);
        assert!(line.contains("is a FIFO") && line.contains("regular file"), "{line}");
    }

    #[test]
    fn rx_captures_must_be_ethernet_or_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.pcap");
        let mut b = pcap(USEC, false, 65535, &full(&[60])).bytes;
        std::fs::write(&path, &b).unwrap();
        assert_eq!(count_packets(&path).unwrap(), 1);
        // Raw IP (LINKTYPE_RAW 101, DLT_RAW 12, 228, 229), Linux cooked (113), SLL2 (276) are converted.
        for linktype in [101u32, 12, 228, 229, 113, 276] {
            b[20..24].copy_from_slice(&linktype.to_le_bytes());
            std::fs::write(&path, &b).unwrap();
            assert_eq!(count_packets(&path).unwrap(), 1, "linktype {linktype}");
        }
        // BSD loopback (0), PPP (9), 802.11 (105) are not.
        for (linktype, named) in [(0u32, "NULL (BSD loopback)"), (9, "PPP (PPP)"), (105, "IEEE802_11 (802.11)")] {
            b[20..24].copy_from_slice(&linktype.to_le_bytes());
            std::fs::write(&path, &b).unwrap();
            let line = format!("{:#}", count_packets(&path).unwrap_err());
            assert!(!line.contains('\n') && line.contains(&path.display().to_string()), "{line}");
            assert!(line.contains(&format!("link type {named}")) && line.contains("tcprewrite --dlt=enet"), "{line}");
            // A tx_pcap check reads any link type.
            assert_eq!(capture_totals(&path).unwrap().packets, 1);
        }
        let ng = pcapng(false, &[(9, 0)], &[(0, Rec::full(0, 60))]);
        std::fs::write(&path, &ng.bytes).unwrap();
        assert!(format!("{:#}", count_packets(&path).unwrap_err()).contains("link type PPP"));
    }

    #[test]
    fn shortfall_causes() {
        let t = CaptureTotals { packets: 4, captured_bytes: 33702, original_bytes: 37574, truncated: 1 };
        assert!(explain_shortfall(4, 33702, &t).unwrap().contains("16128-byte snaplen were cut"));
        assert!(explain_shortfall(5, 40000, &t).unwrap().contains("disk or device is full"));
        assert!(explain_shortfall(3, 30000, &t).unwrap().contains("another port or process"));
        assert_eq!(explain_shortfall(2, 120, &whole(2, 120)), None);
        assert!(explain_shortfall(2, 130, &whole(2, 120)).is_some());
    }
}
