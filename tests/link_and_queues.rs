//! What a driver or a capture format imposes: raw IP and Linux cooked
//! captures go out as exact Ethernet, other non-Ethernet captures are
//! refused before EAL starts; net_tap (which needs as many tx
//! queues as rx queues) runs with two rx lcores and one output port, inside a
//! network namespace this test creates and removes; a driver's own reason
//! for refusing a configuration reaches our one line; the ring high-water
//! mark stays within the ring.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

/// An IPv4/UDP packet to port 53 without a link-layer header (what raw IP captures hold).
fn ipv4_udp(i: usize) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(1024 + i as u16, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[i as u8; 20]).unwrap();
    v
}

fn ipv6_udp(i: usize) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ipv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0xff; 16], 64)
        .udp(2048 + i as u16, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[i as u8; 30]).unwrap();
    v
}

fn write_capture(path: &Path, datalink: DataLink, packets: &[Vec<u8>]) {
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader { datalink, ..Default::default() };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(&PcapPacket::new(Duration::from_micros(i as u64), p.len() as u32, p)).unwrap();
    }
}

const SENDER: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

fn ethertype(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 4 {
        [0x08, 0x00]
    } else {
        [0x86, 0xdd]
    }
}

/// A Linux cooked (SLL, 16 bytes) record around `ip`: unicast to us from SENDER.
fn sll(ip: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1, 0, 6];
    v.extend(SENDER);
    v.extend([0, 0]);
    v.extend(ethertype(ip));
    v.extend_from_slice(ip);
    v
}

/// The same as SLL2 (20 bytes): protocol, reserved, ifindex, ARPHRD_ETHER, unicast, 6-byte address.
fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut v = ethertype(ip).to_vec();
    v.extend([0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
    v.extend(SENDER);
    v.extend([0, 0]);
    v.extend_from_slice(ip);
    v
}

fn ethernet(dst: [u8; 6], src: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut v = dst.to_vec();
    v.extend(src);
    v.extend(ethertype(ip));
    v.extend_from_slice(ip);
    v
}

/// Our one `handoff:` line of a failed run, and its exit code.
fn refused(out: &Output) -> (String, i32) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "printed a report: {}", String::from_utf8_lossy(&out.stdout));
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    assert_eq!(ours.len(), 1, "one line expected, got:\n{stderr}");
    (ours[0].to_string(), out.status.code().unwrap_or(-1))
}

#[test]
fn raw_ip_and_linux_cooked_captures_are_forwarded_as_exact_ethernet() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let ips: Vec<Vec<u8>> = (0..6).map(ipv4_udp).chain((0..4).map(ipv6_udp)).collect();
    let (us, them) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let made_up: Vec<Vec<u8>> = ips.iter().map(|p| ethernet(them, us, p)).collect();
    let from_sender: Vec<Vec<u8>> = ips.iter().map(|p| ethernet(them, SENDER, p)).collect();
    for (name, datalink, packets, expected) in [
        ("raw", DataLink::RAW, ips.clone(), &made_up),
        ("sll", DataLink::LINUX_SLL, ips.iter().map(|p| sll(p)).collect(), &from_sender),
        ("sll2", DataLink::LINUX_SLL2, ips.iter().map(|p| sll2(p)).collect(), &from_sender),
    ] {
        let input = dir.path().join(format!("{name}.pcap"));
        let output = dir.path().join(format!("{name}-out.pcap"));
        write_capture(&input, datalink, &packets);
        let before = std::fs::read(&input).unwrap();
        let out = Run::new(&format!("link-{name}"))
            .vdev(format!("net_pcap0,rx_pcap={}", input.display()))
            .vdev(format!("net_pcap1,tx_pcap={}", output.display()))
            .output("net_pcap1")
            .trace(50)
            .args(["--trace-filter", "udp port 53"])
            .json()
            .run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {:?}\n{stderr}", out.status);
        assert!(stderr.contains("get Ethernet headers for this run"), "{name}: {stderr}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_conserved(&doc);
        // Every packet is UDP to port 53 once it has an Ethernet header: the filter matches them all.
        let traced: usize =
            doc["trace"].as_array().unwrap().iter().map(|t| t["packets"].as_array().unwrap().len()).sum();
        assert!(traced >= ips.len(), "{name}: {traced} traced of {}", ips.len());
        // Byte for byte, in any order across workers.
        let mut got = read_pcap(&output);
        let mut want = expected.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{name}: the input was changed");
    }
}

#[test]
fn other_link_types_are_refused_before_eal_starts() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.pcap");
    let ips: Vec<Vec<u8>> = (0..3).map(ipv4_udp).collect();
    let null: Vec<Vec<u8>> = ips.iter().map(|p| [&[2u8, 0, 0, 0][..], p].concat()).collect();
    for (name, datalink, packets, says) in [
        ("null", DataLink::NULL, null, "link type NULL (BSD loopback)"),
        ("ppp", DataLink::PPP, ips.clone(), "link type PPP (PPP)"),
    ] {
        let input = dir.path().join(format!("{name}.pcap"));
        write_capture(&input, datalink, &packets);
        let out = Run::new(&format!("link-{name}"))
            .vdev(format!("net_pcap0,rx_pcap={}", input.display()))
            .vdev(format!("net_pcap1,tx_pcap={}", out_file.display()))
            .output("net_pcap1")
            .run();
        let (line, code) = refused(&out);
        assert_eq!(code, 1, "{line}");
        assert!(line.contains(&input.display().to_string()) && line.contains(says), "{line}");
        assert!(line.contains("not Ethernet") && line.contains("tcprewrite --dlt=enet"), "{line}");
        // Refused before EAL: no EAL log, no output file.
        assert!(!String::from_utf8_lossy(&out.stderr).contains("EAL:"), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!out_file.exists(), "{} was written", out_file.display());
    }
}

/// The `ip` tool, or None when iproute2 is missing.
fn ip_tool() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Whether this test can run here: root, `ip` and /dev/net/tun. Without them
/// the test says "skipped", except under CI (root), which must never skip.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !root {
        "needs root (network namespaces, tap interfaces)"
    } else if ip_tool().is_none() {
        "needs iproute2's ip"
    } else if !Path::new("/dev/net/tun").exists() {
        "needs /dev/net/tun"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}, and CI must run it");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

/// A network namespace of this process, deleted on drop (with the tap
/// interfaces handoff created in it), whether the test passed or panicked.
struct Netns(String);

impl Netns {
    fn create(test: &str) -> Netns {
        let name = format!("hlq-{test}-{}", std::process::id());
        let tool = ip_tool().expect("ip");
        // A leftover of a crashed run with this pid is ours: the name holds our pid.
        let _ = Command::new(&tool).args(["netns", "del", &name]).stderr(Stdio::null()).status();
        let out = Command::new(&tool).args(["netns", "add", &name]).output().expect("ip netns add");
        assert!(out.status.success(), "ip netns add {name}: {}", String::from_utf8_lossy(&out.stderr));
        Netns(name)
    }

    /// Runs handoff in the namespace, under `timeout -k`, at most `limit`.
    fn handoff(&self, a: &[String], fault: Option<&str>, limit: Duration) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &limit.as_secs().to_string()])
            .arg(ip_tool().expect("ip"))
            .args(["netns", "exec", &self.0])
            .arg(bin())
            .args(a)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = fault {
            cmd.env("HANDOFF_FAULT", f);
        }
        wait(cmd.spawn().expect("spawn timeout ip netns exec handoff"), limit + Duration::from_secs(10))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(tool) = ip_tool() {
            let _ = Command::new(tool).args(["netns", "del", &self.0]).stderr(Stdio::null()).status();
        }
    }
}

/// Tap names are at most 15 bytes: "hq" and the pid, and a letter per case.
fn tap_name(case: char) -> String {
    format!("hq{}{case}", std::process::id())
}

#[test]
fn tap_with_two_rx_lcores_and_one_output_port_starts_and_ends_cleanly() {
    if !can_run("tap_with_two_rx_lcores_and_one_output_port_starts_and_ends_cleanly") {
        return;
    }
    let _g = serial();
    let ns = Netns::create("tap");
    // (case, rx lcores, workers, output): 2 rx queues and 1 tx queue are
    // needed, then 1 and 2; tap takes only equal counts.
    for (case, rx, workers, output) in
        [('a', "0,1", "2", "net_tap0"), ('b', "0", "1,2", "net_tap0"), ('c', "0,1", "2", "drop")]
    {
        let a = Run::new(&format!("tap{case}"))
            .vdev(format!("net_tap0,iface={}", tap_name(case)))
            .args(["--rx-lcores", rx, "--worker-lcores", workers])
            .output(output)
            .duration(2)
            .json()
            .command_line();
        let out = ns.handoff(&a, None, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "case {case}: {:?}\n{stderr}", out.status);
        assert!(!stderr.lines().any(|l| l.starts_with("handoff:")), "case {case}:\n{stderr}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(doc["stopped_by"], "duration", "case {case}");
        assert_conserved(&doc);
    }
}

#[test]
#[cfg_attr(not(feature = "fault-injection"), ignore = "needs --features fault-injection (scripts/test.sh)")]
fn a_configure_failure_carries_the_drivers_reason() {
    if !can_run("a_configure_failure_carries_the_drivers_reason") {
        return;
    }
    let _g = serial();
    let ns = Netns::create("tapfail");
    // HANDOFF_FAULT=unpaired-queues configures tap as handoff once did: 2 rx, 1 tx.
    let a = Run::new("tapfail")
        .vdev(format!("net_tap0,iface={}", tap_name('f')))
        .args(["--rx-lcores", "0,1", "--worker-lcores", "2"])
        .duration(2)
        .command_line();
    let out = ns.handoff(&a, Some("unpaired-queues"), Duration::from_secs(60));
    let (line, code) = refused(&out);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("rte_eth_dev_configure failed: Operation not permitted"), "{line}");
    assert!(line.contains("number of rx queues 2 must be equal to number of tx queues 1"), "{line}");
    assert!(!line.contains("dev_configure = -1"), "ethdev only restates the return value: {line}");
}

#[test]
fn ring_high_water_mark_never_exceeds_the_ring() {
    let _g = serial();
    let doc = Run::new("highwater").vdev("net_null0").args(["--ring-size", "64"]).count(200000).run_json();
    let rings = doc["handoff"].as_array().expect("handoff rows");
    assert!(!rings.is_empty());
    for r in rings {
        let hw = r["high_water"].as_u64().unwrap();
        assert!((1..=64).contains(&hw), "high-water {hw} on a 64-index ring: {r}");
    }
}
