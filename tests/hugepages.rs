//! A run on real hugepages (bare metal's mode): needs root, which CI has.
//! It reserves a few 2 MB pages with scripts/setup-hugepages.sh when there
//! are none, and checks the run gives every page back.

mod common;

use common::*;

fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

#[test]
fn capture_on_hugepages_is_accounted_and_pages_are_returned() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: this test must run there");
        eprintln!("skipped: hugepages need root");
        return;
    }
    let _g = serial();
    if meminfo("HugePages_Free:") < 128 {
        let status = std::process::Command::new("bash")
            .arg(repo().join("scripts/setup-hugepages.sh"))
            .arg((meminfo("HugePages_Total:") + 128).to_string())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/setup-hugepages.sh failed");
    }
    let free_before = meminfo("HugePages_Free:");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("huge.pcap");
    write_pcap(&pcap, &random_packets(2000, 9));
    let prefix = format!("handoff-test-huge-{}", std::process::id());
    let doc = run_json(&args(&[
        "--file-prefix",
        &prefix,
        "-m",
        "128",
        "--vdev",
        &format!("net_pcap0,rx_pcap={}", pcap.display()),
    ]));
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 2000);
    assert_eq!(meminfo("HugePages_Free:"), free_before, "the run must give its hugepages back");
    assert!(!std::path::Path::new(&format!("/var/run/dpdk/{prefix}")).exists(), "runtime dir left behind");
}
