//! Captures `pcap-file` refused and libpcap reads run end to end through
//! net_pcap: handoff counts what net_pcap delivers and the run conserves it.

#[path = "common/captures.rs"]
mod captures;
mod common;

use captures::*;
use common::*;

/// Runs handoff on `bytes` as the rx_pcap of net_pcap0 and checks the run
/// received `packets` of them, all accounted for, and net_pcap's rx bytes
/// are the captured bytes `capture_totals` counts.
fn runs_whole(name: &str, bytes: &[u8], packets: u64) {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pcap"));
    std::fs::write(&path, bytes).unwrap();
    let out = Run::new(&format!("fmt-{name}")).vdev(format!("net_pcap0,rx_pcap={}", path.display())).json().run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: handoff failed: {:?}\nstderr:\n{stderr}", out.status);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: bad JSON ({e}): {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    let c = &doc["conservation"];
    assert_eq!(c["ok"], true, "{name}: {c}");
    assert_eq!(c["received"].as_u64(), Some(packets), "{name}: {c}");
    assert_conserved(&doc);
    let t = handoff::input::capture_totals(&path).unwrap();
    assert_eq!(t.packets, packets);
    let port = &doc["interfaces"][0];
    assert_eq!(port["name"], "net_pcap0");
    assert_eq!(port["rx_bytes"].as_u64(), Some(t.captured_bytes), "{name}: {port}");
    assert_eq!(port["rx_errors"], 0, "{name}: {port}");
}

#[test]
fn snaplen_limited_capture() {
    // tcpdump -s 96: most records hold less than the frame.
    let recs: Vec<Rec> = (0..40).map(|i| Rec::cut(i, 60 + i * 37, 96)).collect();
    runs_whole("snaplen96", &pcap(USEC, false, 96, &recs).bytes, 40);
}

#[test]
fn modified_pcap_capture() {
    let recs: Vec<Rec> = (0..25).map(|i| Rec::full(i, 60 + i * 50)).collect();
    runs_whole("modified", &pcap(MODIFIED, false, 65535, &recs).bytes, 25);
}

#[test]
fn big_endian_nanosecond_capture() {
    let recs: Vec<Rec> = (0..17).map(|i| Rec::full(i, 64 + i)).collect();
    runs_whole("nsec-be", &pcap(NSEC, true, 65535, &recs).bytes, 17);
}

#[test]
fn pcapng_with_two_interfaces() {
    let packets: Vec<(u32, Rec)> = (0..12).map(|i| ((i % 2) as u32, Rec::full(i, 100 + i))).collect();
    runs_whole("pcapng2", &pcapng(false, &[(1, 0), (1, 0)], &packets).bytes, 12);
}
