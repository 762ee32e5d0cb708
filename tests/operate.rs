//! Operating a running forwarder like VPP's vppctl: `handoff show`,
//! `trace add`, `clear`, `list`, over the control socket in the run's
//! runtime directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// `handoff <args>` as a client, under a timeout.
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

fn ctl_json(a: &[&str]) -> serde_json::Value {
    let mut a = a.to_vec();
    a.push("--json");
    serde_json::from_str(&ctl_ok(&a)).unwrap()
}

/// Waits (bounded) until the forwarder with `prefix` answers.
fn wait_for_socket(prefix: &str) {
    let start = Instant::now();
    while !ctl(&["show", "errors", "--file-prefix", prefix]).status.success() {
        assert!(start.elapsed() < Duration::from_secs(15), "the control socket of {prefix} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn vectors(runtime: &serde_json::Value, thread: u64, node: &str) -> u64 {
    runtime
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["thread"] == thread)
        .and_then(|t| t["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node))
        .map(|n| n["vectors"].as_u64().unwrap())
        .unwrap_or(0)
}

fn count(errors: &serde_json::Value, reason: &str) -> u64 {
    errors.as_array().unwrap().iter().filter(|e| e["reason"] == reason).map(|e| e["count"].as_u64().unwrap()).sum()
}

#[test]
fn live_show_trace_clear_and_handoff_percentiles() {
    let _g = serial();
    // Backpressure: at full rate a drop-on-congestion ring drops whole
    // bursts, and the 4 traced packets (one burst) would end at the handoff
    // as often as the worker falls behind.
    let run =
        Run::new("operate").vdev("net_null0").arg("--backpressure").duration(8).json().limit(Duration::from_secs(30));
    let p = run.prefix();
    let child = run.spawn();
    wait_for_socket(p);

    // Only the owner reaches it: 0600 in EAL's 0700 directory.
    let sock = PathBuf::from("/var/run/dpdk").join(p).join("handoff.sock");
    if sock.exists() {
        assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(sock.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    let list = ctl_ok(&["list"]);
    assert!(list.lines().any(|l| l.starts_with(p) && l.contains("net_null0")), "{list}");

    // show runtime: VPP's text, counters growing.
    let text = ctl_ok(&["show", "runtime", "--file-prefix", p]);
    assert!(text.starts_with("Thread 1 handoff_wk_0 (lcore 0)\nTime "), "{text}");
    assert!(text.contains("dpdk-input") && text.contains("polling") && text.contains("Vectors/Call"), "{text}");
    let first = vectors(&ctl_json(&["show", "runtime", "--file-prefix", p]), 1, "dpdk-input");
    std::thread::sleep(Duration::from_millis(300));
    let second = vectors(&ctl_json(&["show", "runtime", "--file-prefix", p]), 1, "dpdk-input");
    assert!(second > first && first > 0, "dpdk-input vectors {first} then {second}");
    let errors = ctl_ok(&["show", "errors", "--file-prefix", p]);
    assert!(errors.contains("packets handed off processed"), "{errors}");
    let interfaces = ctl_ok(&["show", "interfaces", "--file-prefix", p]);
    assert!(interfaces.contains("net_null0") && interfaces.contains("rx packets"), "{interfaces}");

    // A live trace, in --trace's format.
    let armed = ctl_ok(&["trace", "add", "4", "--file-prefix", p]);
    assert!(armed.contains("tracing 4 packets"), "{armed}");
    std::thread::sleep(Duration::from_millis(200));
    let trace = ctl_ok(&["show", "trace", "--file-prefix", p]);
    assert!(
        trace.contains("------------------- Start of thread 1 handoff_wk_0 -------------------\nPacket 1\n\n"),
        "{trace}"
    );
    assert!(trace.contains(": dpdk-input\n  net_null0 rx queue 0\n"), "{trace}");
    assert!(trace.contains("HANDED-OFF: from thread 1 trace index 0"), "{trace}");
    let doc = ctl_json(&["show", "trace", "--file-prefix", p]);
    let threads = doc.as_array().unwrap();
    let nodes = |p: &serde_json::Value| -> Vec<String> {
        p["records"].as_array().unwrap().iter().map(|r| r["node"].as_str().unwrap().to_string()).collect()
    };
    let (rx, wk) = (threads[1]["packets"].as_array().unwrap(), threads[2]["packets"].as_array().unwrap());
    assert_eq!((rx.len(), wk.len()), (4, 4), "{doc}");
    assert_eq!(nodes(&rx[0]), ["dpdk-input", "handoffdemo-1"]);
    assert_eq!(nodes(&wk[3]), ["handoff_trace", "handoffdemo-2", "error-drop", "drop"]);
    assert_eq!(rx[0]["packet"]["rx_interface"], "net_null0");
    assert_eq!(rx[0]["packet"]["length"], 64);
    assert_eq!(wk[3]["packet"]["end"], "handoffdemo-2: completed packets");
    // A bad filter never reaches the forwarder: a command-line error.
    let bad = ctl(&["trace", "add", "4", "--filter", "not a (filter", "--file-prefix", p]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    let cleared = ctl_ok(&["clear", "trace", "--file-prefix", p]);
    assert!(cleared.contains("cleared"));
    let trace = ctl_ok(&["show", "trace", "--file-prefix", p]);
    assert!(!trace.contains("Packet 1"), "{trace}");

    // clear errors and runtime: counters start again from zero.
    let before = count(&ctl_json(&["show", "errors", "--file-prefix", p]), "packets handed off processed");
    ctl_ok(&["clear", "errors", "--file-prefix", p]);
    ctl_ok(&["clear", "runtime", "--file-prefix", p]);
    let after = count(&ctl_json(&["show", "errors", "--file-prefix", p]), "packets handed off processed");
    assert!(after < before, "errors not cleared: {before} then {after}");
    let runtime = ctl_json(&["show", "runtime", "--file-prefix", p]);
    assert!(runtime[0]["time"].as_f64().unwrap() < 2.0, "runtime not cleared: {runtime}");

    // show handoff: per ring counters and wait percentiles.
    let handoff = ctl_json(&["show", "handoff", "--file-prefix", p]);
    let ring = &handoff[0];
    assert_eq!(ring["ring"], "handoff_0_0");
    let w = &ring["wait_ns"];
    let q = |k: &str| w[k].as_u64().unwrap();
    assert!(q("samples") > 0 && q("p50") > 0, "{ring}");
    assert!(q("p50") <= q("p99") && q("p99") <= q("p99_9") && q("p99_9") <= q("max"), "{ring}");
    assert!(ring["high_water"].as_u64().unwrap() > 0, "{ring}");
    let text = ctl_ok(&["show", "handoff", "--file-prefix", p]);
    assert!(text.starts_with("Ring ") && text.contains("handoff_0_0"), "{text}");

    let out = run.wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The end-of-run report keeps whole-run totals: conservation holds after clears.
    assert_conserved(&doc);
    assert!(doc["handoff"][0]["wait_ns"]["samples"].as_u64().unwrap() > 0, "{}", doc["handoff"]);
    assert!(!sock.exists(), "the control socket outlived the run");
    let gone = ctl(&["show", "runtime", "--file-prefix", p]);
    assert_eq!(gone.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(stderr.starts_with("handoff: no running forwarder with prefix") && stderr.lines().count() == 1, "{stderr}");
}

/// A socket nobody answers on (a killed forwarder's) is listed as stopped, never silently left out.
#[test]
fn list_reports_stale_sockets_as_stopped() {
    let _g = serial();
    let prefix = format!("handoff-test-stale-{}", std::process::id());
    let dir = PathBuf::from("/var/run/dpdk").join(&prefix);
    std::fs::create_dir_all(&dir).expect("tests run as root: /var/run/dpdk must be writable");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    drop(std::os::unix::net::UnixListener::bind(dir.join("handoff.sock")).unwrap());
    let out = ctl(&["list", "--json"]);
    let text = ctl(&["list"]);
    let _ = std::fs::remove_file(dir.join("handoff.sock"));
    let _ = std::fs::remove_dir(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stale = found.as_array().unwrap().iter().find(|f| f["prefix"] == prefix.as_str());
    assert_eq!(stale.map(|s| &s["state"]), Some(&serde_json::json!("stopped")), "{found}");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.lines().any(|l| l.starts_with(&prefix) && l.contains("stopped")), "{text}");
}
