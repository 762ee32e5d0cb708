//! The reference run (SPEC section 1): the seed's packet-generator script
//! through the binary must print `show errors`, `show runtime` and
//! `show trace` that line up with the seed's own text (tests/golden/
//! seed_show.txt, copied from shared/seed/handoffdemo.md).
//!
//! Masked, because they must differ: times and clocks (and the rates made
//! from the time), thread names (vpp_* -> ours), the input node's name
//! (pg-input -> dpdk-input), the interface's name (local0 -> net_pcap0),
//! VPP's own unix-epoll-input node, and the input record's source-specific
//! lines: the seed's pg-input prints `stream x, ...`, our dpdk-input prints
//! VPP's dpdk-input lines (interface + rx queue, `buffer 0x..:` prefix,
//! PKT MBUF, header decode). The buffer line and hex dump must match exactly.

mod common;

use common::*;

const SEED: &str = include_str!("golden/seed_show.txt");

fn is_time_header(line: &str) -> Option<&str> {
    // `HH:MM:SS:UUUUUU: node`
    let (time, node) = line.split_once(": ")?;
    let ok = time.len() == 15 && time.chars().all(|c| c.is_ascii_digit() || c == ':');
    ok.then_some(node)
}

fn is_hex_line(line: &str) -> bool {
    let t = line.trim_start();
    t.len() > 10 && t.as_bytes()[8] == b':' && t[..8].chars().all(|c| c.is_ascii_hexdigit())
}

fn mask_rate(tok: &str) -> String {
    // Nonzero rates come from the run's time; zero must stay zero.
    let (num, tail) = tok.split_at(tok.find(',').unwrap_or(tok.len()));
    if num == "0.0000e0" {
        tok.to_string()
    } else {
        format!("RATE{tail}")
    }
}

/// The text with every must-differ field masked, one entry per line.
fn normalise(text: &str) -> Vec<String> {
    let text = text.replace("vpp_main", "main").replace("vpp_wk_0", "handoff_wk_0").replace("vpp_wk_1", "handoff_wk_1");
    let mut out: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut in_input_record = false;
    let flush = |rows: &mut Vec<String>, out: &mut Vec<String>| {
        rows.sort();
        out.append(rows);
    };
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Runtime rows: name state calls vectors suspends clocks vectors/call.
        if cols.len() == 7 && ["active", "polling", "disabled"].contains(&cols[1]) {
            if cols[0] == "unix-epoll-input" {
                continue;
            }
            let name = if cols[0] == "pg-input" || cols[0] == "dpdk-input" { "INPUT" } else { cols[0] };
            rows.push(format!("{name} {} {} {} {} CLOCKS {}", cols[1], cols[2], cols[3], cols[4], cols[6]));
            continue;
        }
        flush(&mut rows, &mut out);
        if line.starts_with("Time ") {
            let rest = line.split_once(", ").map(|x| x.1).unwrap_or("");
            out.push(format!("Time T, {rest}"));
            continue;
        }
        if line.trim_start().starts_with("vector rates in") {
            let masked: Vec<String> = line
                .split_whitespace()
                .map(|t| {
                    if t.contains('e') && t.chars().next().unwrap().is_ascii_digit() {
                        mask_rate(t)
                    } else {
                        t.to_string()
                    }
                })
                .collect();
            out.push(masked.join(" "));
            continue;
        }
        if let Some(node) = is_time_header(line) {
            let node = if node == "pg-input" || node == "dpdk-input" { "INPUT" } else { node };
            in_input_record = node == "INPUT";
            out.push(format!("TIME: {node}"));
            continue;
        }
        if in_input_record && line.starts_with("  ") {
            let t = line.trim_start();
            if let Some(buffer_line) = t.split_once(": current data").map(|(_, r)| format!("current data{r}")) {
                out.push(format!("  {buffer_line}"));
            } else if t.starts_with("current data") || is_hex_line(line) {
                out.push(line.to_string());
            }
            continue;
        }
        if let Some(rest) = line.trim_start().strip_prefix("rx:") {
            let _ = rest;
            out.push("  rx:INTERFACE".into());
            continue;
        }
        out.push(line.trim_end().to_string());
    }
    flush(&mut rows, &mut out);
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

#[test]
fn seed_demo_lines_up_with_the_seed() {
    let _g = serial();
    let script = repo().join("dpdk-config/pg_input_script");
    let out = Run::new("golden").args(["--pg", script.to_str().unwrap()]).trace(100).run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr:\n{stderr}");
    let ours = String::from_utf8(out.stdout).unwrap();

    let (want, got) = (normalise(SEED), normalise(&ours));
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            g,
            w,
            "line {} differs\n--- ours (masked) ---\n{}\n--- seed (masked) ---\n{}",
            i + 1,
            got.join("\n"),
            want.join("\n")
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "line counts differ\n--- ours ---\n{}\n--- seed ---\n{}",
        got.join("\n"),
        want.join("\n")
    );

    // Unmasked facts: the errors section is the seed's, byte for byte.
    let seed_errors: String = SEED.lines().take(3).map(|l| format!("{l}\n")).collect();
    assert!(ours.starts_with(&seed_errors), "errors differ:\n{ours}");
    // Five trace handles 0x1000000..0x1000004 and indices 0..4 across the handoff.
    for i in 0..5 {
        assert!(ours.contains(&format!("trace handle 0x100000{i}")));
        assert!(ours.contains(&format!("HANDED-OFF: from thread 1 trace index {i}")));
    }
}

#[test]
fn no_input_runs_the_embedded_seed_demo() {
    let _g = serial();
    let out = Run::new("demo").run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr:\n{stderr}");
    assert!(stderr.contains("running the seed demo"), "stderr:\n{stderr}");
    let ours = String::from_utf8(out.stdout).unwrap();
    assert_eq!(normalise(&ours), normalise(SEED));
}

#[test]
fn trace_json_follows_packets_across_the_handoff() {
    let _g = serial();
    let script = repo().join("dpdk-config/pg_input_script");
    let doc = Run::new("tracejson").args(["--pg", script.to_str().unwrap()]).trace(3).run_json();
    assert_conserved(&doc);
    let threads = doc["trace"].as_array().unwrap();
    assert_eq!(threads.len(), 3);
    assert!(threads[0]["packets"].as_array().unwrap().is_empty());
    let rx = threads[1]["packets"].as_array().unwrap();
    let wk = threads[2]["packets"].as_array().unwrap();
    assert_eq!((rx.len(), wk.len()), (3, 3), "only the first 3 packets are traced");
    let nodes = |p: &serde_json::Value| -> Vec<String> {
        p["records"].as_array().unwrap().iter().map(|r| r["node"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(nodes(&rx[0]), ["dpdk-input", "handoffdemo-1"]);
    assert_eq!(nodes(&wk[2]), ["handoff_trace", "handoffdemo-2", "error-drop", "drop"]);
    assert_eq!(wk[2]["records"][0]["text"], "HANDED-OFF: from thread 1 trace index 2");
    assert_eq!(wk[2]["records"][0]["time"], wk[2]["records"][1]["time"]);
    let input = rx[0]["records"][0]["text"].as_str().unwrap();
    assert!(input.contains("00000000: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d0000"), "{input}");
}
