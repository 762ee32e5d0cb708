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

/// This prefix's hugepage files (`<prefix>map_N`) in every hugetlbfs mount.
fn own_hugepage_files(prefix: &str) -> Vec<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let mut left = Vec::new();
    for dir in mounts.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "hugetlbfs").then(|| f[1].to_string())
    }) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{prefix}map_")) {
                left.push(e.path());
            }
        }
    }
    left
}

/// Reserves `pages` more free 2 MB hugepages if there are fewer; false when
/// not root outside CI (the test then says it is skipped).
fn ensure_hugepages(pages: u64) -> bool {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: this test must run there");
        eprintln!("skipped: hugepages need root");
        return false;
    }
    if meminfo("HugePages_Free:") < pages {
        let status = std::process::Command::new("bash")
            .arg(repo().join("scripts/setup-hugepages.sh"))
            .arg((meminfo("HugePages_Total:") + pages).to_string())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/setup-hugepages.sh failed");
    }
    true
}

/// dpdk-dumpcap attaches to a running handoff (rte_pdump) and captures.
/// Secondary processes need hugepages, so this runs on them. handoff ends
/// first and dumpcap follows ("primary process is no longer active"): DPDK
/// 22.11's pdump has a race when a capture is stopped at full rate (see
/// README), which this order avoids.
#[test]
fn dpdk_dumpcap_captures_from_a_running_port() {
    let _g = serial();
    if !ensure_hugepages(128) {
        return;
    }
    let prefix = format!("handoff-test-dumpcap-{}", std::process::id());
    let child =
        spawn(&args(&["--file-prefix", &prefix, "-m", "128", "--vdev", "net_null0,size=60", "--duration", "2.5"]));
    let socket = std::path::PathBuf::from(format!("/var/run/dpdk/{prefix}/mp_socket"));
    let start = std::time::Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "handoff did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cap.pcap");
    // Classic pcap (-P): pcap-file 2.0 rejects an option in DPDK 22.11's pcapng blocks.
    let cap = std::process::Command::new("timeout")
        .args(["30", "dpdk-dumpcap", "--file-prefix", &prefix, "-i", "net_null0", "-s", "60", "-P", "-w"])
        .arg(&file)
        .output()
        .unwrap();
    let out = wait(child, std::time::Duration::from_secs(30));
    assert!(out.status.success(), "handoff: {}", String::from_utf8_lossy(&out.stderr));
    assert!(cap.status.success(), "dpdk-dumpcap failed: {}", String::from_utf8_lossy(&cap.stderr));
    // The capture may end in a torn record written as the primary went away.
    let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let (mut good, mut other) = (0u64, 0u64);
    while let Some(Ok(p)) = r.next_packet() {
        if p.orig_len == 60 {
            good += 1;
        } else {
            other += 1;
        }
    }
    assert!(good >= 1000 && other <= 64, "captured {good} packets of 60 bytes and {other} others");
}

#[test]
fn capture_on_hugepages_is_accounted_and_pages_are_returned() {
    let _g = serial();
    if !ensure_hugepages(128) {
        return;
    }
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
    // Only this run's own page files: the machine-wide free count moves with other processes.
    let left = own_hugepage_files(&prefix);
    assert!(left.is_empty(), "the run must give its hugepages back, left: {left:?}");
    assert!(!std::path::Path::new(&format!("/var/run/dpdk/{prefix}")).exists(), "runtime dir left behind");
}
