//! The foundation end to end: net_pcap and net_null vdevs through rx lcore 0
//! -> rte_ring -> worker lcore 2, every packet and mbuf accounted for.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn random_capture_is_fully_accounted() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap_input(dir.path(), "random.pcap", 3000, 7);
    let doc = Run::new("random").vdev(&input).run_json();

    assert_conserved(&doc);
    let c = &doc["conservation"];
    assert_eq!(c["received"], 3000);
    assert_eq!(c["dropped"], 3000);
    assert_eq!(error_count(&doc, 1, "packets handed off processed"), 3000);
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0);
    assert_eq!(error_count(&doc, 2, "completed packets"), 3000);

    let rt = doc["runtime"].as_array().unwrap();
    assert_eq!(rt.len(), 2);
    assert_eq!((rt[0]["thread"].as_u64(), rt[0]["lcore"].as_u64()), (Some(1), Some(0)));
    assert_eq!(rt[0]["name"], "handoff_wk_0");
    assert_eq!((rt[1]["thread"].as_u64(), rt[1]["lcore"].as_u64()), (Some(2), Some(2)));
    let input = node(&doc, 1, "dpdk-input").expect("dpdk-input ran");
    assert_eq!(input["vectors"], 3000);
    assert_eq!(input["state"], "disabled");
    assert_eq!(node(&doc, 1, "handoffdemo-1").unwrap()["vectors"], 3000);
    for n in ["handoffdemo-2", "error-drop", "drop"] {
        let node = node(&doc, 2, n).unwrap_or_else(|| panic!("{n} ran on thread 2"));
        assert_eq!(node["vectors"], 3000, "{n}");
        assert_eq!(node["state"], "active");
    }
    assert!(node(&doc, 1, "handoffdemo-2").is_none(), "handoffdemo-2 belongs to thread 2");
    let ifs = doc["interfaces"].as_array().unwrap();
    assert_eq!(ifs[0]["name"], "net_pcap0");
    assert_eq!(ifs[0]["rx_packets"], 3000);
    assert!(doc["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["stopped_by"], "input_done");
}

#[test]
fn tiny_ring_on_net_null_counts_congestion_and_leaks_nothing() {
    let _g = serial();
    let doc =
        Run::new("congestion").vdev("net_null0").args(["--ring-size", "16", "--burst", "64"]).duration(1).run_json();
    assert_conserved(&doc);
    let received = doc["conservation"]["received"].as_u64().unwrap();
    let handed = error_count(&doc, 1, "packets handed off processed");
    let congestion = error_count(&doc, 1, "handoff queue congestion drops");
    assert!(congestion > 0, "a 16-entry ring at full rate must overflow");
    assert_eq!(handed + congestion, received);
    assert_eq!(error_count(&doc, 2, "completed packets"), handed);
    assert_eq!(doc["stopped_by"], "duration");
}

#[test]
fn backpressure_holds_instead_of_dropping() {
    let _g = serial();
    let doc = Run::new("backpressure")
        .vdev("net_null0")
        .args(["--ring-size", "16", "--backpressure"])
        .count(200000)
        .run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 200000);
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0);
    assert_eq!(error_count(&doc, 2, "completed packets"), 200000);
    assert_eq!(doc["stopped_by"], "count_reached");
}

#[test]
fn count_stops_at_exactly_n_packets() {
    let _g = serial();
    let doc = Run::new("count").vdev("net_null0").count(1000).args(["--burst", "64"]).run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 1000);
    assert_eq!(node(&doc, 1, "dpdk-input").unwrap()["vectors"], 1000);
}

#[test]
fn sigint_stops_gracefully_with_a_report() {
    let _g = serial();
    let run = Run::new("sigint").vdev("net_null0").json().limit(Duration::from_secs(30));
    let child = run.spawn();
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = run.wait(child);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_conserved(&doc);
    assert!(doc["conservation"]["received"].as_u64().unwrap() > 0);
    assert_eq!(doc["stopped_by"], "signal");
    assert_eq!(doc["signal"], "SIGINT");
}

#[test]
fn output_port_transmits_every_packet_unchanged() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let packets = random_packets(500, 11);
    write_pcap(&input, &packets);
    let doc = Run::new("output")
        .vdev(format!("net_pcap0,rx_pcap={}", input.display()))
        .vdev(format!("net_pcap1,tx_pcap={}", output.display()))
        .output("net_pcap1")
        .run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["transmitted"], 500);
    assert_eq!(node(&doc, 2, "interface-output").unwrap()["vectors"], 500);
    assert_eq!(read_pcap(&output), packets);
}

#[test]
fn text_report_has_the_seed_layout() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap_input(dir.path(), "few.pcap", 20, 3);
    let out = Run::new("text").vdev(&input).args(["--show", "errors,runtime,interfaces"]).run();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("   Count                    Node                  Reason\n"), "{text}");
    assert!(text.contains("        20              handoffdemo-1             packets handed off processed"));
    assert!(text.contains("Thread 1 handoff_wk_0 (lcore 0)"));
    assert!(text.contains("Thread 2 handoff_wk_1 (lcore 2)"));
    assert!(text.contains("net_pcap0"));
}

/// The check itself must catch what it guards against: an mbuf that never
/// returns, and a packet that vanishes uncounted (HANDOFF_FAULT test hook).
#[test]
#[cfg_attr(not(feature = "fault-injection"), ignore = "needs --features fault-injection (scripts/test.sh)")]
fn conservation_check_catches_leaks_and_lost_packets() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap_input(dir.path(), "fault.pcap", 100, 5);
    for (fault, expect) in [("leak-mbuf", "1 mbufs not back in the pool"), ("lose-packet", "(1 unaccounted)")] {
        let out = Run::new(&format!("fault-{fault}")).vdev(&input).json().env("HANDOFF_FAULT", fault).run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{fault}: stderr:\n{stderr}");
        let line = stderr.lines().find(|l| l.starts_with("handoff: conservation check failed")).unwrap_or_else(|| {
            panic!("{fault}: no conservation line in:\n{stderr}");
        });
        assert!(line.contains(expect), "{fault}: {line}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["conservation"]["ok"], false);
    }
}

#[test]
fn two_rx_lcores_and_two_workers_share_the_load() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a_pcap, b_pcap) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    write_pcap(&a_pcap, &random_packets(1000, 1));
    write_pcap(&b_pcap, &random_packets(1500, 2));
    let doc = Run::new("nxm")
        .vdev(format!("net_pcap0,rx_pcap={},rx_pcap={}", a_pcap.display(), b_pcap.display()))
        .args(["--rx-lcores", "0,1", "--worker-lcores", "2,3"])
        .run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 2500);
    // Each rx lcore polls one queue (one file); each worker gets part of the flows.
    let rx: Vec<u64> = (1..=2).map(|t| node(&doc, t, "dpdk-input").unwrap()["vectors"].as_u64().unwrap()).collect();
    assert_eq!(rx.iter().sum::<u64>(), 2500);
    assert!(rx.contains(&1000) && rx.contains(&1500), "{rx:?}");
    let done: Vec<u64> = (3..=4).map(|t| error_count(&doc, t, "completed packets")).collect();
    assert_eq!(done.iter().sum::<u64>(), 2500);
    assert!(done.iter().all(|&d| d > 250), "flows spread over both workers: {done:?}");
    let lcores: Vec<u64> = doc["runtime"].as_array().unwrap().iter().map(|t| t["lcore"].as_u64().unwrap()).collect();
    assert_eq!(lcores, [0, 1, 2, 3]);
}

/// A pool too small for the input: net_pcap drops what finds no mbuf
/// (rx_nombuf). The run still ends by itself, but a file is not a wire: a
/// packet of it that never reached dpdk-input fails the run, and the line
/// names the file, both counts and the cause.
#[test]
fn finite_input_short_of_its_file_fails_the_run() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap_input(dir.path(), "dry.pcap", 3000, 13);
    // 64 mbufs and 256-packet bursts: the first burst alone runs the pool dry.
    for attempt in 0..2 {
        let out =
            Run::new(&format!("dry{attempt}")).vdev(&input).args(["--mbufs", "64", "--burst", "256"]).json().run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is printed");
        let received = doc["conservation"]["received"].as_u64().unwrap();
        let nombuf = doc["interfaces"][0]["rx_nombuf"].as_u64().unwrap();
        assert_eq!(received + nombuf, 3000, "every packet of the file is received or counted as rx_nombuf");
        assert_eq!(doc["stopped_by"], "input_done");
        assert!(nombuf > 0, "the pool ran dry");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let line = stderr.lines().find(|l| l.starts_with("handoff: conservation check failed")).unwrap_or("");
        assert!(
            line.contains("dry.pcap")
                && line.contains("3000")
                && line.contains(&received.to_string())
                && line.contains("--mbufs"),
            "{stderr}"
        );
        assert_eq!(doc["conservation"]["ok"], false);
        assert_eq!(doc["conservation"]["files"][0]["expected_packets"], 3000);
    }
}

/// A worker that panics is contained: the run stops instead of hanging,
/// says which lcore failed and exits non-zero, with no panic text but ours.
#[test]
#[cfg_attr(not(feature = "fault-injection"), ignore = "needs --features fault-injection (scripts/test.sh)")]
fn a_panicking_worker_ends_the_run_with_a_clear_failure() {
    let _g = serial();
    let out = Run::new("panic")
        .vdev("net_null0")
        .json()
        .env("HANDOFF_FAULT", "panic-worker")
        .limit(Duration::from_secs(30))
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("handoff: the run failed") && stderr.contains("lcore 2: panicked: injected fault"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Nothing stranded: the dead worker's ring was emptied and freed.
    assert_eq!(doc["conservation"]["mbufs_leaked"], 0, "{}", doc["conservation"]);
}

/// The CI profile from dpdk-config/ loads as EAL arguments (its own
/// --file-prefix is overridden by the later one the test gives).
#[test]
fn eal_profile_from_dpdk_config_runs() {
    let _g = serial();
    let profile = repo().join("dpdk-config/ci.eal");
    let doc =
        Run::new("profile").args(["--eal-config", profile.to_str().unwrap()]).vdev("net_null0").count(5000).run_json();
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["received"], 5000);
}

/// `--output 0:1,1:0` over two capture files: each file's packets end in the
/// other port's tx_pcap, unchanged; unknown ports in a pair are refused.
#[test]
fn port_pairs_send_each_ports_packets_out_of_its_partner() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (random_packets(50, 1), random_packets(30, 2));
    write_pcap(&dir.path().join("a.pcap"), &a);
    write_pcap(&dir.path().join("b.pcap"), &b);
    let d = |n: &str| dir.path().join(n).display().to_string();
    let doc = Run::new("pairs")
        .vdev(format!("net_pcap0,rx_pcap={},tx_pcap={}", d("a.pcap"), d("a_out.pcap")))
        .vdev(format!("net_pcap1,rx_pcap={},tx_pcap={}", d("b.pcap"), d("b_out.pcap")))
        .output("0:net_pcap1,net_pcap1:0")
        .run_json();
    assert_conserved(&doc);
    assert_eq!(read_pcap(&dir.path().join("b_out.pcap")), a);
    assert_eq!(read_pcap(&dir.path().join("a_out.pcap")), b);
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs[0]["packets"], 50, "{pairs:?}");
    assert_eq!(pairs[1]["packets"], 30, "{pairs:?}");

    let out = Run::new("pairs-bad").vdev("net_null0").vdev("net_null1").output("0:7").count(10).run();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("handoff: --output 0:7: '0:7' is not a pair of known ports"), "{stderr}");
}
