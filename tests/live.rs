//! While a run goes on: DPDK telemetry answers `/handoff/*` for
//! dpdk-telemetry.py (SPEC section 7).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Asks dpdk-telemetry.py the commands, retrying (bounded) until the socket is up.
fn telemetry(prefix: &str, commands: &[&str]) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let mut child = Command::new("dpdk-telemetry.py")
            .args(["-f", prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dpdk-telemetry.py (package dpdk) is installed");
        let input: String = commands.iter().map(|c| format!("{c}\n")).collect();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = wait(child, Duration::from_secs(10));
        let docs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|d: &serde_json::Value| commands.iter().any(|c| d.get(*c).is_some()))
            .collect();
        if docs.len() == commands.len() {
            return docs;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "telemetry did not answer: {docs:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn telemetry_answers_handoff_commands_while_running() {
    let _g = serial();
    let run = Run::new("telemetry").vdev("net_null0").duration(4).json().limit(Duration::from_secs(30));
    let prefix = run.prefix().to_string();
    let child = run.spawn();
    std::thread::sleep(Duration::from_millis(800));
    let docs = telemetry(&prefix, &["/handoff/errors", "/handoff/runtime", "/handoff/interfaces"]);
    let errors = &docs[0]["/handoff/errors"];
    assert!(errors["1/handoffdemo_1/packets_handed_off_processed"].as_u64().unwrap() > 0, "{errors}");
    assert!(errors["2/handoffdemo_2/completed_packets"].as_u64().unwrap() > 0, "{errors}");
    let runtime = &docs[1]["/handoff/runtime"];
    assert!(runtime["1/dpdk_input/vectors"].as_u64().unwrap() > 0, "{runtime}");
    assert!(runtime["2/drop/calls"].as_u64().unwrap() > 0, "{runtime}");
    let interfaces = &docs[2]["/handoff/interfaces"];
    assert!(interfaces["net_null0/rx_packets"].as_u64().unwrap() > 0, "{interfaces}");

    let out = run.wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_conserved(&doc);
}

#[test]
fn stats_interval_prints_a_line_of_rates_per_interval() {
    let _g = serial();
    let out =
        Run::new("stats").vdev("net_null0").duration(2.2).args(["--stats-interval", "0.5", "--show", "errors"]).run();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff: rx ")).collect();
    assert!((3..=5).contains(&lines.len()), "one line per 0.5 s over 2.2 s:\n{stderr}");
    assert!(lines.iter().all(|l| l.contains(" pps") && l.contains("in flight")), "{lines:?}");
}

#[test]
fn stats_interval_shows_ports_and_rings_apart() {
    let _g = serial();
    let out = Run::new("stats-ports")
        .vdev("net_null0")
        .duration(1.2)
        .args(["--stats-interval", "0.5", "--ring-size", "16", "--show", "errors"])
        .run();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // In a pipe: plain lines, no escape sequences.
    assert!(!stderr.contains('\x1b'), "{stderr}");
    let port: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:   port net_null0: rx ")).collect();
    let ring: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("handoff:   ring handoff_0_0: congestion drops ")).collect();
    assert!((2..=3).contains(&port.len()) && port.len() == ring.len(), "{stderr}");
    assert!(port[0].contains(" pps ") && port[0].contains(" bps, tx "), "{stderr}");
    assert!(ring[0].contains("occupancy "), "{stderr}");
}

#[test]
fn show_xstats_lists_the_pmds_extended_statistics() {
    let _g = serial();
    let run = Run::new("xstats").vdev("net_null0").count(1000);
    let doc = run.run_json();
    assert_eq!(doc["interfaces"][0]["xstats"]["rx_good_packets"], 1000, "{}", doc["interfaces"]);
    let out = run.clone().args(["--show", "xstats"]).run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.trim_start().starts_with("rx_good_packets") && l.ends_with(" 1000")), "{text}");
}
