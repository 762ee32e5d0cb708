//! Port pairs (`--output A:B`) with the tracer on and a port in no pair:
//! each traced packet's path says where it went (interface-output on the
//! pair's tx port, or error-drop and drop for an unpaired rx port), the
//! per-pair counts match the ports' tx counters, and every packet is
//! accounted for.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// The worker-side traces, each with the rx port of the packet it continues
/// (by the rx thread's trace index in its first record).
fn worker_traces(doc: &Value) -> Vec<(u64, Value)> {
    let traces = doc["trace"].as_array().unwrap();
    let rx = traces.iter().find(|t| t["thread"] == 1).unwrap()["packets"].as_array().unwrap().clone();
    traces
        .iter()
        .filter(|t| t["thread"].as_u64().unwrap() >= 2)
        .flat_map(|t| t["packets"].as_array().unwrap().clone())
        .map(|p| {
            let first = p["records"][0]["text"].as_str().unwrap().to_string();
            let index: usize = first.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{first}"));
            let rx_port = rx[index]["packet"]["rx_port"].as_u64().unwrap_or_else(|| panic!("{}", rx[index]));
            (rx_port, p)
        })
        .collect()
}

fn nodes(p: &Value) -> Vec<&str> {
    p["records"].as_array().unwrap().iter().map(|r| r["node"].as_str().unwrap()).collect()
}

fn interface<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

/// Three capture files, `--output 0:1`: port 0's packets leave by port 1,
/// byte for byte; ports 1 and 2 are in no pair, so theirs end in error-drop.
/// Every packet is traced, and each trace says which way it went.
#[test]
fn pairs_with_an_unpaired_port_trace_each_way() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).display().to_string();
    let (a, b, c) = (random_packets(50, 31), random_packets(30, 32), random_packets(20, 33));
    write_pcap(&dir.path().join("a.pcap"), &a);
    write_pcap(&dir.path().join("b.pcap"), &b);
    write_pcap(&dir.path().join("c.pcap"), &c);
    let doc = Run::new("pairs-unpaired")
        .vdev(format!("net_pcap0,rx_pcap={}", d("a.pcap")))
        .vdev(format!("net_pcap1,rx_pcap={},tx_pcap={}", d("b.pcap"), d("out1.pcap")))
        .vdev(format!("net_pcap2,rx_pcap={}", d("c.pcap")))
        .output("0:1")
        .trace(100)
        .run_json();

    assert_conserved(&doc);
    let cons = &doc["conservation"];
    assert_eq!((cons["received"].as_u64(), cons["transmitted"].as_u64()), (Some(100), Some(50)), "{cons}");
    assert_eq!(cons["dropped"], 50, "{cons}");
    assert_eq!(read_pcap(&dir.path().join("out1.pcap")), a, "port 0's packets leave by port 1, unchanged");

    // One pair, with its count; the unpaired ports have none.
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(
        (pairs[0]["rx_interface"].as_str(), pairs[0]["tx_interface"].as_str()),
        (Some("net_pcap0"), Some("net_pcap1"))
    );
    assert_eq!((pairs[0]["packets"].as_u64(), pairs[0]["refused"].as_u64()), (Some(50), Some(0)), "{pairs:?}");
    assert_eq!(interface(&doc, "net_pcap1")["tx_packets"], 50);
    for name in ["net_pcap0", "net_pcap2"] {
        assert_eq!(interface(&doc, name)["tx_packets"], 0, "{name} transmits nothing");
    }
    // What no pair takes is dropped through error-drop (counted on the worker).
    assert_eq!(error_count(&doc, 2, "completed packets"), 50);
    assert_eq!(node(&doc, 2, "interface-output").unwrap()["vectors"], 50);
    assert_eq!(node(&doc, 2, "error-drop").unwrap()["vectors"], 50);
    assert_eq!(node(&doc, 2, "drop").unwrap()["vectors"], 50);

    // Every packet traced on both sides; each worker trace ends its own way.
    let rx = doc["trace"].as_array().unwrap().iter().find(|t| t["thread"] == 1).unwrap()["packets"].clone();
    assert_eq!(rx.as_array().unwrap().len(), 100);
    let traced = worker_traces(&doc);
    assert_eq!(traced.len(), 100);
    let mut per_port: BTreeMap<u64, usize> = BTreeMap::new();
    for (rx_port, p) in &traced {
        *per_port.entry(*rx_port).or_default() += 1;
        if *rx_port == 0 {
            assert_eq!(nodes(p), ["handoff_trace", "handoffdemo-2", "interface-output"], "{p}");
            assert_eq!(p["records"][2]["text"], "net_pcap1 tx queue 0", "{p}");
            assert_eq!(p["packet"]["end"], "transmitted", "{p}");
            assert_eq!(
                (p["packet"]["tx_port"].as_u64(), p["packet"]["tx_interface"].as_str()),
                (Some(1), Some("net_pcap1"))
            );
        } else {
            assert_eq!(nodes(p), ["handoff_trace", "handoffdemo-2", "error-drop", "drop"], "port {rx_port}: {p}");
            assert_eq!(p["packet"]["end"], "handoffdemo-2: completed packets", "{p}");
            assert!(p["packet"].get("tx_port").is_none(), "an unpaired packet leaves by no port: {p}");
        }
    }
    assert_eq!(per_port, BTreeMap::from([(0, 50), (1, 30), (2, 20)]));
}

/// Live ports: `--output 0:1,1:0` with a third port in no pair. Each
/// direction's traces leave by its partner, the third port's are dropped,
/// and each pair's count is what its tx port sent.
#[test]
fn live_pairs_beside_an_unpaired_port_trace_and_count_each_pair() {
    let _g = serial();
    // One rx lcore polls the three ports in turn, one full burst of 32 per
    // frame (`--frame 32`; a 256-packet frame would be port 0's alone): the
    // first 96 packets traced cover every port.
    let doc = Run::new("pairs-live")
        .vdev("net_null0")
        .vdev("net_null1")
        .vdev("net_null2")
        .args(["--frame", "32"])
        .output("0:1,1:0")
        .trace(96)
        .duration(1)
        .run_json();

    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "duration");
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    let mut sent = 0;
    for (p, rx, tx) in [(&pairs[0], "net_null0", "net_null1"), (&pairs[1], "net_null1", "net_null0")] {
        assert_eq!((p["rx_interface"].as_str(), p["tx_interface"].as_str()), (Some(rx), Some(tx)), "{p}");
        let packets = p["packets"].as_u64().unwrap();
        assert!(packets > 0, "{p}");
        assert_eq!(interface(&doc, tx)["tx_packets"].as_u64(), Some(packets), "{tx} sent what pair {rx}:{tx} counts");
        sent += packets;
    }
    assert_eq!(interface(&doc, "net_null2")["tx_packets"], 0);
    assert_eq!(doc["conservation"]["transmitted"].as_u64(), Some(sent));

    let mut per_port: BTreeMap<u64, usize> = BTreeMap::new();
    for (rx_port, p) in worker_traces(&doc) {
        *per_port.entry(rx_port).or_default() += 1;
        let ends_at = match rx_port {
            0 => Some("net_null1"),
            1 => Some("net_null0"),
            _ => None,
        };
        match ends_at {
            Some(tx) => {
                assert_eq!(nodes(&p), ["handoff_trace", "handoffdemo-2", "interface-output"], "{p}");
                assert_eq!(p["packet"]["tx_interface"], tx, "{p}");
            }
            None => {
                assert_eq!(nodes(&p), ["handoff_trace", "handoffdemo-2", "error-drop", "drop"], "{p}");
                assert_eq!(p["packet"]["end"], "handoffdemo-2: completed packets", "{p}");
            }
        }
    }
    assert_eq!(per_port.keys().copied().collect::<Vec<_>>(), [0, 1, 2], "every port traced: {per_port:?}");
}
