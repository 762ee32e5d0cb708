//! `--metrics`: the OpenMetrics endpoint of a running forwarder, parsed by
//! the reference OpenMetrics parser (Python's prometheus_client, Debian's
//! python3-prometheus-client), and held to the control socket's rules: a
//! client that never sends its request, or never lets go, does not hold
//! the run.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP exchange; returns (status line, body).
fn http(port: u16, request: &str) -> Option<(String, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A server may answer (and stop reading) before a too-long request is all sent.
    let _ = c.write_all(request.as_bytes());
    let mut reply = String::new();
    c.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

fn scrape(port: u16) -> Option<(String, String)> {
    http(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Waits (bounded) for the endpoint to answer.
fn wait_for(port: u16) -> String {
    let start = Instant::now();
    loop {
        if let Some((status, body)) = scrape(port) {
            assert_eq!(status, "HTTP/1.1 200 OK");
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the metrics endpoint never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The exposition through the reference parser: one line per sample,
/// `name{labels} value`, or the parser's error.
fn parse_openmetrics(text: &str) -> Result<Vec<String>, String> {
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}={v}' for k, v in sorted(s.labels.items()))
        print(f"{family.type} {s.name}{{{labels}}} {s.value}")
"#;
    // Debian's interpreter, where python3-prometheus-client installs (a pyenv python3 may shadow it).
    let mut child = Command::new("timeout")
        .args(["-k", "2", "30", "/usr/bin/python3", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/install-deps.sh installs python3-prometheus-client)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect())
}

fn value(samples: &[String], prefix: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.starts_with(prefix))
        .unwrap_or_else(|| panic!("no sample {prefix} in:\n{}", samples.join("\n")))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn metrics_parse_as_openmetrics_and_count_the_run() {
    let _g = serial();
    let port = free_port();
    let run = Run::new("metrics")
        .vdev("net_null0")
        .duration(4)
        .json()
        .args(["--metrics", &format!("127.0.0.1:{port}")])
        .limit(Duration::from_secs(30));
    let child = run.spawn();
    wait_for(port);
    std::thread::sleep(Duration::from_millis(500));
    let (_, body) = scrape(port).expect("a scrape");
    assert!(body.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    let samples = parse_openmetrics(&body).unwrap_or_else(|e| panic!("not OpenMetrics: {e}\n{body}"));
    assert!(value(&samples, "counter handoff_port_rx_packets_total{port=net_null0}") > 0.0);
    assert!(value(&samples, "counter handoff_node_vectors_total{node=dpdk-input,thread=1}") > 0.0);
    assert!(value(&samples, "counter handoff_node_clocks_total{node=handoffdemo-2,thread=2}") >= 0.0);
    assert!(value(&samples, "counter handoff_received_total{}") > 0.0);
    value(&samples, "counter handoff_errors_total{node=handoffdemo-2,reason=completed packets,thread=2}");
    value(&samples, "counter handoff_ring_enqueued_total{ring=handoff_0_0}");
    value(&samples, "gauge handoff_ring_high_water{ring=handoff_0_0}");
    value(&samples, "gauge handoff_in_flight{}");
    let p99 = value(&samples, "gauge handoff_ring_wait_seconds{quantile=0.99,ring=handoff_0_0}");
    let max = value(&samples, "gauge handoff_ring_wait_seconds{quantile=1,ring=handoff_0_0}");
    assert!(p99 > 0.0 && p99 <= max && max < 60.0, "wait p99 {p99} s, max {max} s");

    // What is not a scrape gets a status, never the counters.
    assert_eq!(http(port, "GET / HTTP/1.1\r\n\r\n").unwrap().0, "HTTP/1.1 404 Not Found");
    assert_eq!(http(port, "POST /metrics HTTP/1.1\r\n\r\n").unwrap().0, "HTTP/1.1 405 Method Not Allowed");
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(http(port, &huge).map(|r| r.0), Some("HTTP/1.1 431 Request Header Fields Too Large".into()));

    let out = run.wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_conserved(&doc);
    // The run's end closed the endpoint.
    assert!(scrape(port).is_none(), "the endpoint outlived the run");
}

#[test]
fn a_client_that_never_asks_does_not_hold_the_run() {
    let _g = serial();
    let port = free_port();
    let run = Run::new("metrics-idle")
        .vdev("net_null0")
        .duration(3)
        .args(["--metrics", &port.to_string()])
        .limit(Duration::from_secs(30));
    let start = Instant::now();
    let child = run.spawn();
    wait_for(port);
    // Half a request, then silence; and more clients than the server takes.
    let mut idle: Vec<TcpStream> = (0..12).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    for c in &mut idle {
        let _ = c.write_all(b"GET /met");
    }
    let out = run.wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(10), "the run took {:?}", start.elapsed());
}

#[test]
fn bad_and_taken_addresses_are_one_line() {
    let _g = serial();
    let out = Run::new("metrics-bad").vdev("net_null0").duration(1).args(["--metrics", "localhost:http"]).run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("handoff:")).count(), 1, "{err}");

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let run = Run::new("metrics-taken").vdev("net_null0").duration(1).args(["--metrics", &format!("127.0.0.1:{port}")]);
    let out = run.run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
    assert!(!run.runtime_dir().exists());
}
