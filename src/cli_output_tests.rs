//! `--output` resolved once, before EAL starts, into devices by index.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{resolve_output, tx_only_port};
use crate::devices::{FiniteInput, NamedDevices};
use crate::pipeline::OutputChoice;

/// A PCI NIC, a null port, a pcap replay and a tx-only pcap, in port id order.
fn named() -> NamedDevices {
    let input = FiniteInput { file: PathBuf::from("in.pcap"), packets: 3 };
    NamedDevices {
        names: ["01:00.0", "net_null0", "net_pcap0", "net_pcap1"].map(String::from).to_vec(),
        finite: BTreeMap::from([("net_pcap0".to_string(), vec![input]), ("net_pcap1".to_string(), vec![])]),
        all_inputs_finite: false,
    }
}

#[test]
fn ports_resolve_to_device_indices_by_id_or_name() {
    let n = named();
    assert_eq!(resolve_output("drop", &n).unwrap(), OutputChoice::Drop);
    assert_eq!(resolve_output("3", &n).unwrap(), OutputChoice::Port(3));
    assert_eq!(resolve_output("net_pcap1", &n).unwrap(), OutputChoice::Port(3));
    // A PCI device by its short or full address.
    assert_eq!(resolve_output("01:00.0", &n).unwrap(), OutputChoice::Port(0));
    assert_eq!(resolve_output("0000:01:00.0", &n).unwrap(), OutputChoice::Port(0));
    let e = resolve_output("4", &n).unwrap_err().to_string();
    assert!(e.contains("there are 4 ports (ids 0-3)"), "{e}");
    let e = resolve_output("net_pcap9", &n).unwrap_err().to_string();
    assert!(e.contains("unknown port 'net_pcap9'"), "{e}");
}

#[test]
fn pairs_resolve_once_and_each_rx_port_pairs_once() {
    let n = named();
    assert_eq!(resolve_output("1:2,2:1", &n).unwrap(), OutputChoice::Pairs(vec![(1, 2), (2, 1)]));
    // A PCI address's own colons: the split that names two ports wins.
    assert_eq!(resolve_output("0000:01:00.0:net_null0", &n).unwrap(), OutputChoice::Pairs(vec![(0, 1)]));
    // Two pairs may share a tx port.
    assert_eq!(resolve_output("1:3,2:3", &n).unwrap(), OutputChoice::Pairs(vec![(1, 3), (2, 3)]));
    // One device by id and by name is still one rx port.
    let e = resolve_output("1:2,net_null0:3", &n).unwrap_err().to_string();
    assert!(e.contains("rx side of two pairs"), "{e}");
    let e = resolve_output("1:7", &n).unwrap_err().to_string();
    assert!(e.contains("not a pair of known ports"), "{e}");
}

#[test]
fn a_live_output_beside_other_inputs_only_transmits() {
    let n = named();
    // net_null0 is live and others receive: not polled.
    assert_eq!(tx_only_port(&OutputChoice::Port(1), &n), Some(1));
    // A capture file is not live.
    assert_eq!(tx_only_port(&OutputChoice::Port(3), &n), None);
    assert_eq!(tx_only_port(&OutputChoice::Pairs(vec![(1, 2)]), &n), None);
}
