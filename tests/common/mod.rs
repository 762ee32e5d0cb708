//! Shared helpers for the integration tests: they spawn the real binary on
//! virtual devices, one at a time, each with its own EAL --file-prefix.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

mod run;
#[allow(unused_imports)]
pub use run::*;

/// Busy-polling lcores on a 2-CPU machine: run one forwarder at a time.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_handoff"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// EAL arguments for a test run without hugepages, its runtime files under a
/// unique prefix (`Run` builds the whole run).
pub fn eal_base(test: &str) -> Vec<String> {
    Run::new(test).command_line()
}

pub fn spawn(args: &[String]) -> Child {
    spawn_env(args, &[])
}

/// Spawns with extra environment variables (the HANDOFF_FAULT test hook).
pub fn spawn_env(args: &[String], env: &[(&str, &str)]) -> Child {
    Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handoff")
}

/// Reads a pipe to its end on a thread of its own, so a child that writes
/// more than a pipe buffer never blocks on us.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for `child` at most `limit`, killing it past that (and failing).
pub fn wait(mut child: Child, limit: Duration) -> Output {
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    match status {
        Some(status) => Output { status, stdout, stderr },
        None => panic!(
            "handoff did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

pub fn run(args: &[String]) -> Output {
    wait(spawn(args), Duration::from_secs(60))
}

pub fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Runs with --json, asserts success, returns the document.
pub fn run_json(a: &[String]) -> serde_json::Value {
    let mut a = a.to_vec();
    a.push("--json".into());
    let out = run(&a);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "handoff {a:?} failed: {:?}\nstderr:\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}\nstderr:\n{stderr}", String::from_utf8_lossy(&out.stdout)))
}

/// Ethernet/IPv4/UDP packets of random sizes in [60, 1514], from a fixed seed.
pub fn random_packets(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let size = rng.usize(60..=1514);
            let payload = vec![(i % 251) as u8; size - 42];
            let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 0, 0, 1], [10, 0, (i % 250) as u8, 2], 64)
                .udp(1024 + (i % 1000) as u16, 53);
            let mut v = Vec::with_capacity(size);
            b.write(&mut v, &payload).unwrap();
            v
        })
        .collect()
}

/// Writes `n` random packets (from `seed`) to `dir/name`; returns the
/// `--vdev` value that reads them.
pub fn pcap_input(dir: &Path, name: &str, n: usize, seed: u64) -> String {
    let path = dir.join(name);
    write_pcap(&path, &random_packets(n, seed));
    format!("net_pcap0,rx_pcap={}", path.display())
}

pub fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(&PcapPacket::new(Duration::from_micros(i as u64), p.len() as u32, p)).unwrap();
    }
}

pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.into_owned());
    }
    out
}

/// The count of an error counter on a thread, 0 when absent.
pub fn error_count(doc: &serde_json::Value, thread: u64, reason: &str) -> u64 {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["thread"] == thread && e["reason"] == reason)
        .map(|e| e["count"].as_u64().unwrap())
        .sum()
}

pub fn node<'a>(doc: &'a serde_json::Value, thread: u64, name: &str) -> Option<&'a serde_json::Value> {
    doc["runtime"].as_array().unwrap().iter().find(|t| t["thread"] == thread)?["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
}

pub fn assert_conserved(doc: &serde_json::Value) {
    let c = &doc["conservation"];
    assert_eq!(c["ok"], true, "conservation failed: {c}");
    assert_eq!(c["in_flight"], 0);
    assert_eq!(c["mbufs_leaked"], 0);
    assert_eq!(c["received"].as_u64().unwrap(), c["transmitted"].as_u64().unwrap() + c["dropped"].as_u64().unwrap());
}
