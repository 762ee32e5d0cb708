//! The tracer on real packets: `--trace-filter` (pcap-filter via libpcap)
//! and `--trace-pcapng` (read back by tshark, as a user would).

mod common;

use common::*;

/// UDP packets, every tenth to port 53, the rest to port 80.
fn dns_mix(dir: &std::path::Path) -> String {
    let packets: Vec<Vec<u8>> = (0..200u16)
        .map(|i| {
            let dport = if i % 10 == 3 { 53 } else { 80 };
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1000 + i, dport)
                .write(&mut v, &[0u8; 18])
                .unwrap();
            v
        })
        .collect();
    let path = dir.join("mix.pcap");
    write_pcap(&path, &packets);
    format!("net_pcap0,rx_pcap={}", path.display())
}

#[test]
fn trace_filter_traces_only_matching_packets() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let doc =
        Run::new("filter").vdev(dns_mix(dir.path())).trace(5).args(["--trace-filter", "udp dst port 53"]).run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 200);
    let rx = doc["trace"][1]["packets"].as_array().unwrap();
    let wk = doc["trace"][2]["packets"].as_array().unwrap();
    assert_eq!((rx.len(), wk.len()), (5, 5));
    for p in rx {
        let input = p["records"][0]["text"].as_str().unwrap();
        assert!(input.contains("-> 53"), "a traced packet must match the filter:\n{input}");
    }
}

#[test]
fn trace_pcapng_is_readable_by_tshark_with_node_paths() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trace.pcapng");
    let doc = Run::new("pcapng")
        .vdev(dns_mix(dir.path()))
        .trace(3)
        .args(["--trace-filter", "udp port 53", "--trace-pcapng", out.to_str().unwrap()])
        .run_json();
    assert_conserved(&doc);
    let tshark = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&out)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.comment",
            "-e",
            "udp.dstport",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .expect("tshark is installed (scripts/install-deps.sh)");
    assert!(tshark.status.success(), "{}", String::from_utf8_lossy(&tshark.stderr));
    let text = String::from_utf8(tshark.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    for r in rows {
        assert_eq!(r[0], "thread 1: dpdk-input handoffdemo-1 -> thread 2: handoff_trace handoffdemo-2 error-drop drop; end: handoffdemo-2: completed packets");
        assert_eq!(r[1], "53");
        assert_eq!(r[2], "net_pcap0");
        let t: f64 = r[3].parse().unwrap();
        assert!((now - t).abs() < 600.0, "timestamp {t} is not about now ({now})");
    }
}

/// With two workers and --symmetric, both directions of each flow meet on
/// one worker; without it, the directions of some flow part (20 flows).
#[test]
fn symmetric_hashing_sends_both_directions_to_one_worker() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let packets: Vec<Vec<u8>> = (0..20u8)
        .flat_map(|f| {
            let (a, b, pa, pb) = ([10, 0, 0, f], [10, 1, 0, f], 1000 + f as u16, 2000 + f as u16);
            [(a, b, pa, pb), (b, a, pb, pa)].map(|(s, d, sp, dp)| {
                let mut v = Vec::new();
                etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                    .ipv4(s, d, 64)
                    .udp(sp, dp)
                    .write(&mut v, &[0u8; 18])
                    .unwrap();
                v
            })
        })
        .collect();
    let path = dir.path().join("flows.pcap");
    write_pcap(&path, &packets);
    // Which worker thread continued each traced packet, by rx trace index.
    let worker_of = |symmetric: bool| -> Vec<u64> {
        let mut run = Run::new(if symmetric { "sym" } else { "asym" })
            .vdev(format!("net_pcap0,rx_pcap={}", path.display()))
            .trace(40)
            .args(["--worker-lcores", "2,3"]);
        if symmetric {
            run = run.arg("--symmetric");
        }
        let doc = run.run_json();
        assert_conserved(&doc);
        let mut of = vec![0u64; 40];
        for t in &doc["trace"].as_array().unwrap()[2..] {
            for p in t["packets"].as_array().unwrap() {
                let text = p["records"][0]["text"].as_str().unwrap();
                let index: usize = text.rsplit(' ').next().unwrap().parse().unwrap();
                of[index] = t["thread"].as_u64().unwrap();
            }
        }
        assert!(of.iter().all(|&w| w == 2 || w == 3), "every packet reached a worker: {of:?}");
        of
    };
    let sym = worker_of(true);
    assert!(sym.chunks(2).all(|pair| pair[0] == pair[1]), "{sym:?}");
    assert!(sym.contains(&2) && sym.contains(&3), "flows spread over both workers: {sym:?}");
    let asym = worker_of(false);
    assert!(asym.chunks(2).any(|pair| pair[0] != pair[1]), "{asym:?}");
}

/// A traced packet the full ring refuses ends its trace with the drop, in
/// the text, the JSON fields and the pcapng comment.
#[test]
fn a_traced_packet_dropped_at_the_handoff_says_so() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pcapng = dir.path().join("t.pcapng");
    let doc = Run::new("trace-end")
        .vdev("net_null0")
        .args(["--ring-size", "16"])
        .count(100000)
        .trace(64)
        .args(["--trace-pcapng", pcapng.to_str().unwrap()])
        .run_json();
    assert_conserved(&doc);
    let rx = doc["trace"].as_array().unwrap().iter().find(|t| t["thread"] == 1).unwrap()["packets"].clone();
    let dropped: Vec<&serde_json::Value> = rx
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["packet"]["end"] == "handoffdemo-1: handoff queue congestion drops")
        .collect();
    // A burst of 32 into a ring of 16: the first burst alone loses 16.
    assert!(!dropped.is_empty(), "{rx}");
    let last = dropped[0]["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["node"], "drop");
    assert_eq!(last["text"], "handoffdemo-1: handoff queue congestion drops");
    let tshark = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcapng)
        .args(["-T", "fields", "-e", "frame.comment"])
        .output()
        .expect("tshark is installed (scripts/install-deps.sh)");
    let text = String::from_utf8(tshark.stdout).unwrap();
    assert!(
        text.lines().any(|l| l
            == "thread 1: dpdk-input handoffdemo-1 drop; end: handoffdemo-1: handoff queue congestion drops"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.ends_with("drop; end: handoffdemo-2: completed packets")), "{text}");
}
