//! mac-rewrite through real frames: pcap files in, `--output` pcap files
//! out, every frame's MACs checked byte by byte, with one port and with
//! port pairs; its trace record; bad `--eth-peer` values.

mod common;

use std::path::Path;

use common::*;

/// `count` frames whose addresses differ per frame: dst ..:1x, src ..:2x.
fn frames(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut p = random_packets(count, seed);
    for (i, f) in p.iter_mut().enumerate() {
        f[5] = 0x10 | (i % 16) as u8;
        f[11] = 0x20 | (i % 16) as u8;
    }
    p
}

fn pcap(dir: &Path, name: &str, packets: &[Vec<u8>]) -> String {
    let path = dir.join(name);
    write_pcap(&path, packets);
    path.display().to_string()
}

fn mac_text(m: &[u8]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[test]
fn mac_swap_swaps_every_frame_and_traces_it() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let sent = frames(300, 21);
    let input = pcap(dir.path(), "in.pcap", &sent);
    let out = dir.path().join("out.pcap");
    let mut a = eal_base("macswap");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={input}"),
        "--vdev",
        &format!("net_pcap1,tx_pcap={}", out.display()),
        "--output",
        "net_pcap1",
        "--mac-swap",
        "--trace",
        "3",
    ]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    let got = read_pcap(&out);
    assert_eq!(got.len(), sent.len());
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!((&g[..6], &g[6..12]), (&s[6..12], &s[..6]));
        assert_eq!(&g[12..], &s[12..]);
    }
    assert_eq!(node(&doc, 2, "mac-rewrite").unwrap()["vectors"], 300);
    let wk = doc["trace"][2]["packets"].as_array().unwrap();
    assert_eq!(wk.len(), 3);
    for (p, s) in wk.iter().zip(&sent) {
        let names: Vec<&str> = p["records"].as_array().unwrap().iter().map(|r| r["node"].as_str().unwrap()).collect();
        assert_eq!(names, ["handoff_trace", "handoffdemo-2", "mac-rewrite", "interface-output"]);
        let (dst, src) = (mac_text(&s[..6]), mac_text(&s[6..12]));
        assert_eq!(p["records"][2]["text"], format!("MAC-REWRITE: {src} -> {dst} becomes {dst} -> {src}"));
    }
}

#[test]
fn eth_peer_sets_the_peer_and_the_ports_own_address() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let sent = frames(200, 22);
    let input = pcap(dir.path(), "in.pcap", &sent);
    let out = dir.path().join("out.pcap");
    let mut a = eal_base("ethpeer");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={input}"),
        "--vdev",
        &format!("net_pcap1,tx_pcap={}", out.display()),
        "--output",
        "net_pcap1",
        "--eth-peer",
        "net_pcap1,02:00:00:00:00:a1",
    ]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    let got = read_pcap(&out);
    assert_eq!(got.len(), sent.len());
    // The source is net_pcap1's own address: one address, not the frames'.
    let own = got[0][6..12].to_vec();
    assert!(sent.iter().all(|s| s[6..12] != own[..]), "{own:02x?}");
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(&g[..6], &[2, 0, 0, 0, 0, 0xa1]);
        assert_eq!(&g[6..12], &own[..]);
        assert_eq!(&g[12..], &s[12..]);
    }
}

/// Pairs: each frame gets the peer of the port it leaves by. Port 2 has no
/// partner: its frames go to error-drop, which counts only them, and
/// interface-output is one call per pair's part.
#[test]
fn eth_peer_with_pairs_rewrites_by_the_tx_port() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (in0, in1, in2) = (frames(150, 23), frames(120, 24), frames(40, 25));
    let (out0, out1) = (dir.path().join("out0.pcap"), dir.path().join("out1.pcap"));
    let mut a = eal_base("ethpeer-pairs");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={},tx_pcap={}", pcap(dir.path(), "in0.pcap", &in0), out0.display()),
        "--vdev",
        &format!("net_pcap1,rx_pcap={},tx_pcap={}", pcap(dir.path(), "in1.pcap", &in1), out1.display()),
        "--vdev",
        &format!("net_pcap2,rx_pcap={}", pcap(dir.path(), "in2.pcap", &in2)),
        "--output",
        "0:1,1:0",
        "--eth-peer",
        "0,02:00:00:00:00:a0",
        "--eth-peer",
        "1,02:00:00:00:00:a1",
    ]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    let (got0, got1) = (read_pcap(&out0), read_pcap(&out1));
    assert_eq!((got0.len(), got1.len()), (in1.len(), in0.len()));
    for (got, sent, peer) in [(&got1, &in0, 0xa1), (&got0, &in1, 0xa0)] {
        for (g, s) in got.iter().zip(sent) {
            assert_eq!(&g[..6], &[2, 0, 0, 0, 0, peer]);
            assert_eq!(&g[12..], &s[12..]);
        }
    }
    assert_ne!(got0[0][6..12], got1[0][6..12], "each port sends from its own address");
    assert_eq!(node(&doc, 2, "mac-rewrite").unwrap()["vectors"], 310);
    assert_eq!(node(&doc, 2, "interface-output").unwrap()["vectors"], 270);
    assert_eq!(node(&doc, 2, "error-drop").unwrap()["vectors"], 40);
    assert_eq!(node(&doc, 2, "drop").unwrap()["vectors"], 40);
    assert_eq!(error_count(&doc, 2, "completed packets"), 40);
}

#[test]
fn bad_eth_peer_is_one_line_and_exit_2() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap(dir.path(), "in.pcap", &frames(5, 26));
    for (peer, says) in [
        ("net_pcap7,02:00:00:00:00:01", "unknown port 'net_pcap7'"),
        ("0,02:00:00:00:01", "is not PORT,MAC"),
        ("0,zz:00:00:00:00:01", "is not PORT,MAC"),
        ("02:00:00:00:00:01", "is not PORT,MAC"),
    ] {
        let mut a = eal_base("bad-peer");
        a.extend(args(&["--vdev", &format!("net_pcap0,rx_pcap={input}"), "--eth-peer", peer]));
        let out = run(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{peer}: {err}");
        assert!(err.contains(says), "{peer}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{peer}: {err}");
    }
    let mut a = eal_base("bad-peer");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={input}"),
        "--mac-swap",
        "--eth-peer",
        "0,02:00:00:00:00:01",
    ]));
    assert_eq!(run(&a).status.code(), Some(2));
}
