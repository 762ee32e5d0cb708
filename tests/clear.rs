//! `handoff clear runtime|errors|interfaces` on a running forwarder with
//! port pairs: each zeroes what its `show` sections print (the snapshot
//! minus a baseline), leaves the others alone, and never touches the
//! end-of-run report's whole-run numbers.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn ctl(a: &[&str]) -> Output {
    let child = Command::new(bin())
        .args(a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handoff");
    wait(child, Duration::from_secs(20))
}

fn ctl_ok(a: &[&str]) -> String {
    let out = ctl(a);
    assert!(out.status.success(), "handoff {a:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn show(what: &str, prefix: &str) -> Value {
    serde_json::from_str(&ctl_ok(&["show", what, "--json", "--file-prefix", prefix])).unwrap()
}

fn sum(rows: &Value, key: &str) -> u64 {
    rows.as_array().unwrap().iter().map(|r| r[key].as_u64().unwrap()).sum()
}

fn error_sum(errors: &Value, reason: &str) -> u64 {
    errors.as_array().unwrap().iter().filter(|e| e["reason"] == reason).map(|e| e["count"].as_u64().unwrap()).sum()
}

fn vectors(runtime: &Value, node: &str) -> u64 {
    let threads = runtime.as_array().unwrap();
    threads
        .iter()
        .flat_map(|t| t["nodes"].as_array().unwrap())
        .filter(|n| n["name"] == node)
        .map(|n| n["vectors"].as_u64().unwrap())
        .sum()
}

/// `handoff_port_rx_packets_total` over every port, from `GET /metrics`.
fn metrics_rx_packets(port: u16) -> u64 {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("the metrics endpoint");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    let samples = reply.lines().filter(|l| l.starts_with("handoff_port_rx_packets_total{"));
    samples.map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum()
}

#[test]
fn clear_interfaces_zeroes_interfaces_and_pairs_and_nothing_else() {
    let _g = serial();
    let prefix = format!("handoff-test-clear-{}", std::process::id());
    let p = prefix.as_str();
    let metrics = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_at = format!("127.0.0.1:{metrics}");
    let run = ["--no-huge", "--file-prefix", p, "--vdev", "net_null0", "--vdev", "net_null1"];
    let rest = ["--output", "0:1,1:0", "--duration", "10", "--json", "--metrics", &metrics_at];
    let child = spawn(&args(&[&run[..], &rest[..]].concat()));
    let start = Instant::now();
    while !ctl(&["show", "errors", "--file-prefix", p]).status.success() {
        assert!(start.elapsed() < Duration::from_secs(15), "the control socket of {p} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Long enough that what a clear leaves (one client's round trip) is far less.
    std::thread::sleep(Duration::from_secs(2));

    let (ifaces, pairs) = (show("interfaces", p), show("pairs", p));
    let runtime = show("runtime", p);
    let (rx, tx, sent) = (sum(&ifaces, "rx_packets"), sum(&ifaces, "tx_packets"), sum(&pairs, "packets"));
    assert!(rx > 0 && tx > 0 && sent > 0, "{ifaces} {pairs}");
    assert_eq!(pairs.as_array().unwrap().len(), 2, "{pairs}");

    assert_eq!(ctl_ok(&["clear", "interfaces", "--file-prefix", p]), "interfaces cleared\n");
    let (ifaces2, pairs2) = (show("interfaces", p), show("pairs", p));
    let (rx2, tx2, sent2) = (sum(&ifaces2, "rx_packets"), sum(&ifaces2, "tx_packets"), sum(&pairs2, "packets"));
    assert!(
        rx2 < rx && tx2 < tx && sent2 < sent,
        "not cleared: rx {rx} -> {rx2}, tx {tx} -> {tx2}, pairs {sent} -> {sent2}"
    );
    // The metrics stay raw: Prometheus counters only grow.
    assert!(metrics_rx_packets(metrics) > rx, "metrics rx_packets went back after clear interfaces");
    // Runtime and errors go on counting the whole run.
    let runtime2 = show("runtime", p);
    assert!(vectors(&runtime2, "dpdk-input") > vectors(&runtime, "dpdk-input"), "{runtime2}");

    // clear errors: show errors restarts, and the pairs' refused packets
    // (their tx drops) with it, so the two sections agree.
    let handed = error_sum(&show("errors", p), "packets handed off processed");
    ctl_ok(&["clear", "errors", "--file-prefix", p]);
    // Pairs first: what they refused by then is in the tx drops read after.
    let (pairs3, errors3) = (show("pairs", p), show("errors", p));
    assert!(error_sum(&errors3, "packets handed off processed") < handed, "{errors3}");
    let tx_drops = error_sum(&errors3, "tx queue full drops") + error_sum(&errors3, "tx held at stop drops");
    assert!(sum(&pairs3, "refused") <= tx_drops, "{pairs3} {errors3}");
    // Pairs' packets are interface counters: clear errors leaves them counting.
    assert!(sum(&pairs3, "packets") >= sent2, "{pairs3}");

    // Every section answers after the clears, text and JSON.
    ctl_ok(&["clear", "runtime", "--file-prefix", p]);
    for what in ["errors", "runtime", "interfaces", "xstats", "trace", "handoff", "pairs"] {
        assert!(!ctl_ok(&["show", what, "--file-prefix", p]).is_empty(), "show {what}");
        assert!(show(what, p).is_array(), "show {what} --json");
    }
    let xstats = ctl_ok(&["show", "xstats", "--file-prefix", p]);
    assert!(xstats.contains("net_null0") && xstats.contains("net_null1"), "{xstats}");

    // The end-of-run report covers the whole run: nothing cleared there.
    let out = wait(child, Duration::from_secs(40));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_conserved(&doc);
    assert!(sum(&doc["pairs"], "packets") > sent, "{}", doc["pairs"]);
    assert!(sum(&doc["interfaces"], "rx_packets") > rx, "{}", doc["interfaces"]);
    assert!(error_sum(&doc["errors"], "packets handed off processed") > handed, "{}", doc["errors"]);
}
