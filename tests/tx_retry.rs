//! Tx retry and backpressure to the wire, where no hugepages are needed:
//! `--tx-retry` is checked before EAL starts, and a live `--output` port
//! beside a capture only transmits, so the replay holds and ends by itself.
//! tests/virtio_testpmd.rs drives a real peer whose tx queue fills.

mod common;

use common::*;

/// One `handoff:` line and exit 2 for each malformed `--tx-retry`.
#[test]
fn tx_retry_values_are_checked() {
    let _g = serial();
    for (bad, says) in [
        ("x", "N[,USECS]"),
        ("4,", "N[,USECS]"),
        ("4,10,1", "N[,USECS]"),
        ("-1", "N[,USECS]"),
        ("1000001", "N[,USECS]"),
        ("2000,1000", "more than 1 s"),
    ] {
        let flag = format!("--tx-retry={bad}");
        let out = run(&args(&["--no-huge", "--vdev", "net_null0", &flag, "--count", "1"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--tx-retry {bad}: {stderr}");
        assert!(stderr.contains("--tx-retry") && stderr.contains(says), "--tx-retry {bad}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// pcap -> net_null: the null port is not polled (it would feed the run
/// endless packets of its own), the run is a capture replay with
/// backpressure, and it ends by itself with everything transmitted.
#[test]
fn a_live_output_port_beside_a_capture_only_transmits() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let out = Run::new("txonly-null")
        .vdev(pcap_input(dir.path(), "in.pcap", 3000, 21))
        .vdev("net_null0")
        .output("net_null0")
        .args(["--tx-retry", "64"])
        .json()
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("reflects"), "an output-only port reflects nothing: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "input_done");
    assert_eq!(doc["conservation"]["received"], 3000);
    assert_eq!(doc["conservation"]["transmitted"], 3000);
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0, "a capture replay holds the ring");
    let null = doc["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == "net_null0").unwrap().clone();
    assert_eq!((null["rx_packets"].as_u64(), null["tx_packets"].as_u64()), (Some(0), Some(3000)));
}
