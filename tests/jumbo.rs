//! Frames longer than one mbuf: net_pcap chains them, handoff forwards the
//! chains whole and frees every segment; `--mbuf-size` and `--max-pkt-len`
//! out of range, or beyond what a device takes, are one line and an exit code.
//! (The af_packet jumbo test and net_tap's limit are in netns_af_packet.rs.)

mod common;

use common::*;

/// Ethernet/IPv4/UDP frames of exactly `sizes` bytes.
fn frames(sizes: &[usize]) -> Vec<Vec<u8>> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let payload: Vec<u8> = (0..size - 42).map(|b| (b * 7 + i) as u8).collect();
            let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1024 + i as u16, 53);
            let mut v = Vec::with_capacity(size);
            b.write(&mut v, &payload).unwrap();
            v
        })
        .collect()
}

#[test]
fn chained_jumbo_frames_go_pcap_to_pcap_byte_exact() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("jumbo.pcap"), dir.path().join("out.pcap"));
    // Around the default 2048-byte data room, and up to a 9000 MTU frame (5 mbufs).
    let sizes: Vec<usize> = [60, 1514, 2048, 2049, 4000, 9014, 64, 9014, 3000].repeat(50);
    let sent = frames(&sizes);
    write_pcap(&input, &sent);
    let doc = Run::new("jumbo-pcap")
        .vdev(format!("net_pcap0,rx_pcap={}", input.display()))
        .vdev(format!("net_pcap1,tx_pcap={}", output.display()))
        .output("net_pcap1")
        .trace(20)
        .run_json();
    assert_conserved(&doc);
    let c = &doc["conservation"];
    assert_eq!(c["received"], sent.len() as u64, "{c}");
    assert_eq!(c["transmitted"], sent.len() as u64, "{c}");
    assert_eq!(c["mbufs_leaked"], 0, "every segment of every chain is back: {c}");
    assert_eq!(read_pcap(&output), sent, "the tx_pcap holds every frame whole, in order");
    let ifs = doc["interfaces"].as_array().unwrap();
    assert!(ifs.iter().all(|i| i.get("caveats").is_none()), "net_pcap has nothing to hide: {ifs:?}");
}

#[test]
fn a_bigger_mbuf_takes_jumbo_frames_in_one_segment() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("jumbo.pcap"), dir.path().join("out.pcap"));
    let sent = frames(&[9014, 60, 9014, 1514]);
    write_pcap(&input, &sent);
    let doc = Run::new("jumbo-mbuf")
        .vdev(format!("net_pcap0,rx_pcap={}", input.display()))
        .vdev(format!("net_pcap1,tx_pcap={}", output.display()))
        .output("net_pcap1")
        .args(["--mbuf-size", "9216", "--max-pkt-len", "9018"])
        .run_json();
    assert_conserved(&doc);
    assert_eq!(read_pcap(&output), sent);
}

fn one_line_failure(a: &[String], code: i32, wants: &[&str]) {
    let out = run(a);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{a:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    for w in wants {
        assert!(lines[0].contains(w), "'{w}' in {stderr}");
    }
}

#[test]
fn sizes_out_of_range_or_beyond_a_device_are_one_line() {
    let _g = serial();
    let base = Run::new("jumbo-flags").command_line();
    let with = |extra: &[&str]| {
        let mut a = base.clone();
        a.extend(args(extra));
        a
    };
    // clap's range checks: a command-line error, exit 2.
    for (flag, value) in [("--mbuf-size", "100"), ("--mbuf-size", "70000"), ("--max-pkt-len", "63")] {
        let out = run(&with(&["--vdev", "net_null0", flag, value, "--duration", "1"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
    // af_packet does not scatter: its frame must fit the mbuf, checked before EAL.
    one_line_failure(
        &with(&["--vdev", "net_af_packet0,iface=lo,framesz=16384,blocksz=16384", "--mbuf-size", "4096"]),
        2,
        &["net_af_packet0", "framesz=16384 needs --mbuf-size 16480 or more"],
    );
    one_line_failure(
        &with(&["--vdev", "net_af_packet0,iface=lo,framesz=3000"]),
        2,
        &["net_af_packet0", "multiple of 16"],
    );
    one_line_failure(
        &with(&["--vdev", "net_af_packet0,iface=lo", "--mbuf-size", "2176", "--max-pkt-len", "9018"]),
        2,
        &["net_af_packet0", "--max-pkt-len 9018 needs --mbuf-size"],
    );
    // A queue nobody polls would hold the flows the kernel hashes to it.
    one_line_failure(&with(&["--vdev", "net_af_packet0,iface=lo,qpairs=2"]), 2, &["qpairs=2", "1 rx lcore"]);
}
