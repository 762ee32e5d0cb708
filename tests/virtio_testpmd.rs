//! A real peer: dpdk-testpmd on the vhost-user side of handoff's
//! virtio-user port, both on hugepages (root; CI runs it). virtio-user is
//! the first DMA-style PMD handoff runs on: its pool must have real IOVAs,
//! and a capture replayed into it must arrive whole (a full tx queue is
//! retried, not dropped). testpmd's vhost port is the server (it makes the
//! socket); handoff's virtio-user connects to it.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// 2 MB pages this file reserves: 256 MB for each process and room to spare.
const HUGEPAGES: u64 = 512;
const NR_HUGEPAGES: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
const HUGE_MOUNT: &str = "/dev/hugepages";
/// Both processes float over the machine's (two) CPUs.
const TESTPMD_LCORES: &str = "0@(0,1),1@(0,1)";

fn testpmd_found() -> bool {
    Command::new("dpdk-testpmd").arg("--version").stdin(Stdio::null()).output().is_ok()
}

/// Whether this test can run here. Without root or dpdk-testpmd it is
/// skipped with a message, except under CI, which must run it.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let why = if unsafe { libc::geteuid() } != 0 {
        "needs root (hugepages)"
    } else if !testpmd_found() {
        "needs dpdk-testpmd on PATH"
    } else {
        return true;
    };
    assert!(std::env::var_os("CI").is_none(), "{test}: {why}, and CI must run it");
    eprintln!("{test}: skipped: {why}");
    false
}

/// 2 MB hugepages for one test, given back on drop: nr_hugepages returns to
/// what it was, a hugetlbfs mount this guard made is unmounted, and page
/// files and runtime directories left under this test's EAL prefixes are
/// removed (testpmd leaves both behind).
struct Hugepages {
    before: u64,
    mount: PathBuf,
    mounted_here: bool,
    made_dir: bool,
    prefixes: Vec<String>,
}

fn hugetlbfs_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).find_map(|f| {
        (f.len() > 3 && f[2] == "hugetlbfs" && !f[3].contains("pagesize=1G")).then(|| PathBuf::from(f[1]))
    })
}

impl Hugepages {
    fn reserve(pages: u64, prefixes: &[&str]) -> Hugepages {
        let before: u64 = std::fs::read_to_string(NR_HUGEPAGES).unwrap().trim().parse().unwrap();
        let mut guard = Hugepages {
            before,
            mount: PathBuf::from(HUGE_MOUNT),
            mounted_here: false,
            made_dir: false,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        };
        std::fs::write(NR_HUGEPAGES, (before + pages).to_string()).unwrap();
        let now: u64 = std::fs::read_to_string(NR_HUGEPAGES).unwrap().trim().parse().unwrap();
        assert!(now >= before + pages, "only {now} of {} hugepages could be reserved", before + pages);
        match hugetlbfs_mount() {
            Some(m) => guard.mount = m,
            None => {
                if !guard.mount.exists() {
                    std::fs::create_dir(&guard.mount).unwrap();
                    guard.made_dir = true;
                }
                let st = Command::new("mount")
                    .args(["-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", HUGE_MOUNT])
                    .status()
                    .unwrap();
                assert!(st.success(), "cannot mount hugetlbfs on {HUGE_MOUNT}");
                guard.mounted_here = true;
            }
        }
        guard
    }
}

impl Drop for Hugepages {
    fn drop(&mut self) {
        if let Ok(dir) = std::fs::read_dir(&self.mount) {
            for e in dir.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if self.prefixes.iter().any(|p| name.starts_with(&format!("{p}map_"))) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for p in &self.prefixes {
            let dir = PathBuf::from(format!("/var/run/dpdk/{p}"));
            if dir.exists() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        if self.mounted_here {
            let _ = Command::new("umount").arg(&self.mount).status();
        }
        if self.made_dir {
            let _ = std::fs::remove_dir(&self.mount);
        }
        let _ = std::fs::write(NR_HUGEPAGES, self.before.to_string());
    }
}

/// A process under `timeout -k`, its output gathered by threads; on drop
/// (a failed test) it is told to stop (timeout passes SIGTERM on) and reaped.
struct Proc {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn gather(pipe: Option<impl Read + Send + 'static>, into: Arc<Mutex<Vec<u8>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut p) = pipe else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = p.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Proc {
    fn spawn(limit_secs: u32, program: &Path, args: &[String]) -> Proc {
        // --foreground: otherwise timeout passes a signal on to its child and
        // then again to its whole process group, and handoff sees two SIGINTs.
        let mut child = Command::new("timeout")
            .args(["--foreground", "-k", "5", &limit_secs.to_string()])
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn under timeout");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let readers = vec![gather(child.stdout.take(), stdout.clone()), gather(child.stderr.take(), stderr.clone())];
        Proc { stdin: child.stdin.take(), child: Some(child), stdout, stderr, readers }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).and_then(|_| stdin.flush()).expect("write to stdin");
    }

    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill has no memory preconditions; the pid is our own child, not yet reaped.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// Waits at most `limit` for stdout to contain `text` (or the process to end).
    fn wait_for_output(&mut self, text: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.stdout_text().contains(text) {
                return true;
            }
            if self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some()) {
                std::thread::sleep(Duration::from_millis(100));
                return self.stdout_text().contains(text);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits at most `limit` for the process to end; returns its exit code,
    /// None when it had to be stopped (SIGTERM, which timeout passes on and
    /// follows with SIGKILL 5 s later; SIGKILL to timeout itself last).
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        self.stdin.take();
        let mut child = self.child.take()?;
        let ended = |child: &mut Child, limit: Duration| {
            let start = Instant::now();
            loop {
                if let Some(s) = child.try_wait().expect("try_wait") {
                    return Some(s);
                }
                if start.elapsed() > limit {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let status = ended(&mut child, limit);
        if status.is_none() {
            // SAFETY: kill has no memory preconditions; the pid is our child, not yet reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            if ended(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        status.map(|s| s.code().unwrap_or(-1))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.wait(Duration::ZERO);
    }
}

/// Waits (bounded) for a path to appear.
fn wait_for_path(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// testpmd as the vhost-user server on `sock`, with extra vdevs and its own arguments.
fn testpmd(prefix: &str, sock: &Path, vdevs: &[String], app: &[&str]) -> Proc {
    let mut a = args(&["--lcores", TESTPMD_LCORES, "--no-pci", "--file-prefix", prefix, "-m", "256"]);
    a.extend(["--vdev".to_string(), format!("net_vhost0,iface={},queues=1", sock.display())]);
    for v in vdevs {
        a.extend(["--vdev".to_string(), v.clone()]);
    }
    a.push("--".into());
    a.extend(args(&["--nb-cores=1", "--rxq=1", "--txq=1"]));
    a.extend(args(app));
    // Line-buffered: testpmd's statistics reach the pipe as it prints them.
    a.insert(0, "dpdk-testpmd".into());
    a.insert(0, "-oL".into());
    let tp = Proc::spawn(50, Path::new("stdbuf"), &a);
    assert!(wait_for_path(sock, Duration::from_secs(20)), "testpmd made no vhost-user socket {}", sock.display());
    tp
}

/// The counters of testpmd's last "Accumulated forward statistics" block: (RX-packets, TX-packets).
fn testpmd_totals(out: &str) -> (u64, u64) {
    let block = out.rsplit("Accumulated forward statistics").next().unwrap_or("");
    let field = |name: &str| -> u64 {
        let at = block.find(name).unwrap_or_else(|| panic!("no {name} in testpmd's statistics:\n{out}"));
        block[at + name.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    (field("RX-packets:"), field("TX-packets:"))
}

/// One port's counters in testpmd's "Forward statistics for port N" block: (RX-packets, TX-packets).
fn testpmd_port(out: &str, port: u16) -> (u64, u64) {
    let head = format!("Forward statistics for port {port}");
    let block = out.rsplit(&head).next().unwrap_or("");
    let field = |name: &str| -> u64 {
        let at = block.find(name).unwrap_or_else(|| panic!("no {name} for port {port} in testpmd's output:\n{out}"));
        block[at + name.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    (field("RX-packets:"), field("TX-packets:"))
}

fn handoff_args(prefix: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&["--file-prefix", prefix, "-m", "256", "--json"]);
    a.extend(args(extra));
    // vhost-user maps at most 8 memory regions: one file for all of EAL's memory.
    a.extend(args(&["--", "--single-file-segments"]));
    a
}

fn json_of(p: &Proc, code: Option<i32>) -> serde_json::Value {
    let (stdout, stderr) = (p.stdout_text(), p.stderr_text());
    assert_eq!(code, Some(0), "handoff failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
}

/// testpmd txonly into handoff: handoff receives exactly what testpmd sent.
#[test]
fn testpmd_txonly_into_handoff_counts_match() {
    if !can_run("testpmd_txonly_into_handoff_counts_match") {
        return;
    }
    let _g = serial();
    let started = Instant::now();
    let pid = std::process::id();
    let (tp_prefix, ho_prefix) = (format!("tp{pid}tx"), format!("handoff-test-vu-tx-{pid}"));
    let _pages = Hugepages::reserve(HUGEPAGES, &[&tp_prefix, &ho_prefix]);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("vhost.sock");

    let mut tp = testpmd(&tp_prefix, &sock, &[], &["-i", "--forward-mode=txonly"]);
    let vdev = format!("net_virtio_user0,path={},queues=1", sock.display());
    let mut ho = Proc::spawn(50, &bin(), &handoff_args(&ho_prefix, &["--vdev", &vdev]));
    let control = PathBuf::from(format!("/var/run/dpdk/{ho_prefix}/handoff.sock"));
    assert!(wait_for_path(&control, Duration::from_secs(20)), "handoff did not start:\n{}", ho.stderr_text());

    tp.send("start\n");
    std::thread::sleep(Duration::from_secs(2));
    tp.send("stop\n");
    assert!(
        tp.wait_for_output("Accumulated forward statistics", Duration::from_secs(15)),
        "testpmd did not stop:\n{}\n{}",
        tp.stdout_text(),
        tp.stderr_text()
    );
    // handoff polls on: what is left in the ring is received before it stops.
    std::thread::sleep(Duration::from_millis(500));
    ho.signal(libc::SIGINT);
    let code = ho.wait(Duration::from_secs(20));
    tp.send("quit\n");
    let tp_code = tp.wait(Duration::from_secs(15));
    let tp_out = tp.stdout_text();
    let doc = json_of(&ho, code);
    eprintln!("testpmd txonly test: {:.1} s", started.elapsed().as_secs_f64());

    assert_eq!(tp_code, Some(0), "testpmd:\n{tp_out}\n{}", tp.stderr_text());
    let (_, sent) = testpmd_totals(&tp_out);
    assert!(sent >= 1000, "testpmd sent only {sent} packets:\n{tp_out}");
    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "signal");
    assert_eq!(doc["conservation"]["received"], sent, "handoff must receive what testpmd sent");
    let virtio = &doc["interfaces"][0];
    assert_eq!(virtio["name"], "net_virtio_user0");
    assert_eq!(virtio["rx_packets"], sent);
}

/// A capture through handoff into virtio-user, forwarded by testpmd to a
/// tx_pcap: with default flags every packet arrives, byte for byte, in order.
#[test]
fn capture_through_virtio_user_arrives_whole() {
    if !can_run("capture_through_virtio_user_arrives_whole") {
        return;
    }
    let _g = serial();
    let started = Instant::now();
    let pid = std::process::id();
    let (tp_prefix, ho_prefix) = (format!("tp{pid}cap"), format!("handoff-test-vu-cap-{pid}"));
    let _pages = Hugepages::reserve(HUGEPAGES, &[&tp_prefix, &ho_prefix]);
    let dir = tempfile::tempdir().unwrap();
    let (sock, input, output) =
        (dir.path().join("vhost.sock"), dir.path().join("in.pcap"), dir.path().join("out.pcap"));
    let packets = random_packets(9000, 14);
    write_pcap(&input, &packets);

    let to_pcap = format!("net_pcap0,tx_pcap={}", output.display());
    let mut tp = testpmd(&tp_prefix, &sock, &[to_pcap], &["--forward-mode=io", "--auto-start"]);
    let (rx, tx) = (
        format!("net_pcap0,rx_pcap={}", input.display()),
        format!("net_virtio_user0,path={},queues=1", sock.display()),
    );
    let mut ho = Proc::spawn(
        50,
        &bin(),
        &handoff_args(&ho_prefix, &["--vdev", &rx, "--vdev", &tx, "--output", "net_virtio_user0", "--trace", "8"]),
    );
    let code = ho.wait(Duration::from_secs(40));
    // Enter stops testpmd's forwarding, prints its statistics and closes the tx_pcap.
    tp.send("\n");
    let tp_code = tp.wait(Duration::from_secs(15));
    let tp_out = tp.stdout_text();
    let doc = json_of(&ho, code);
    eprintln!("capture through virtio-user test: {:.1} s", started.elapsed().as_secs_f64());

    assert_eq!(tp_code, Some(0), "testpmd:\n{tp_out}\n{}", tp.stderr_text());
    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "input_done");
    let c = &doc["conservation"];
    assert_eq!((c["received"].as_u64(), c["transmitted"].as_u64()), (Some(9000), Some(9000)), "{c}");
    assert_eq!(error_count(&doc, 2, "tx queue full drops"), 0);
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0);
    let ifs = doc["interfaces"].as_array().unwrap();
    let virtio = ifs.iter().find(|i| i["name"] == "net_virtio_user0").unwrap();
    assert_eq!((virtio["tx_packets"].as_u64(), virtio["rx_packets"].as_u64()), (Some(9000), Some(0)));
    assert_eq!(testpmd_port(&tp_out, 0).0, 9000, "testpmd's vhost port must receive every packet:\n{tp_out}");
    let got = read_pcap(&output);
    assert_eq!(got.len(), packets.len(), "packets in testpmd's tx_pcap");
    assert!(got == packets, "testpmd's tx_pcap differs from the input");

    // The pool of a DMA-style port: real IOVAs (a packed pool's read 0x7f).
    let mut seen = 0;
    for t in doc["trace"].as_array().unwrap() {
        for p in t["packets"].as_array().unwrap() {
            for r in p["records"].as_array().unwrap().iter().filter(|r| r["node"] == "dpdk-input") {
                let text = r["text"].as_str().unwrap();
                let hex = text.split("phys_addr 0x").nth(1).and_then(|s| s.split_whitespace().next()).unwrap();
                let iova = u64::from_str_radix(hex, 16).unwrap();
                assert!(iova != 0x7f && iova != 0 && iova != u64::MAX, "phys_addr 0x{hex} is no IOVA:\n{text}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 8, "traced packets");
}

/// A peer that never reads (testpmd connected but not forwarding): with
/// default flags the capture stalls on the full tx queue, nothing is dropped
/// until --duration stops the run, and the packets then held are counted and
/// freed. With --tx-retry the retries are bounded and the rest is dropped.
/// Port pairs hold the same way (with --backpressure: the virtio-user port
/// is then polled too, a live input). While held, both lcores still answer
/// the control socket (the rx lcore's full ring no longer spins it deaf).
#[test]
fn a_peer_that_does_not_read_stalls_until_stop_or_retries_run_out() {
    if !can_run("a_peer_that_does_not_read_stalls_until_stop_or_retries_run_out") {
        return;
    }
    let _g = serial();
    let started = Instant::now();
    let pid = std::process::id();
    let prefixes = [
        format!("tp{pid}st"),
        format!("handoff-test-vu-st-{pid}"),
        format!("handoff-test-vu-re-{pid}"),
        format!("handoff-test-vu-pa-{pid}"),
    ];
    let _pages = Hugepages::reserve(HUGEPAGES, &prefixes.iter().map(String::as_str).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcap");
    write_pcap(&input, &random_packets(9000, 15));
    let rx = format!("net_pcap0,rx_pcap={}", input.display());

    let mut runs = Vec::new();
    let cases: [&[&str]; 3] = [
        &["--output", "net_virtio_user0", "--duration", "4"],
        &["--output", "net_virtio_user0", "--tx-retry", "4,10"],
        &["--output", "0:1", "--backpressure", "--duration", "2"],
    ];
    for (i, extra) in cases.into_iter().enumerate() {
        let sock = dir.path().join(format!("vhost{i}.sock"));
        // Interactive and never started: the vhost side takes nothing off the ring.
        let mut tp = testpmd(&prefixes[0], &sock, &[], &["-i"]);
        let tx = format!("net_virtio_user0,path={},queues=1", sock.display());
        let mut a = vec!["--vdev", &rx, "--vdev", &tx];
        a.extend_from_slice(extra);
        let mut ho = Proc::spawn(50, &bin(), &handoff_args(&prefixes[1 + i], &a));
        if i == 0 {
            // Held by then: the tx queue, the ring and rx are full.
            std::thread::sleep(Duration::from_millis(1500));
            let out = ctl(&["trace", "add", "5", "--file-prefix", &prefixes[1]]);
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("tracing 5 packets") && !text.contains("did not answer"), "{text}");
        }
        let code = ho.wait(Duration::from_secs(40));
        tp.send("quit\n");
        let _ = tp.wait(Duration::from_secs(15));
        runs.push(json_of(&ho, code));
    }
    eprintln!("stalled peer test: {:.1} s", started.elapsed().as_secs_f64());

    let held = &runs[0];
    assert_conserved(held);
    assert_eq!(held["stopped_by"], "duration");
    let c = &held["conservation"];
    let (received, sent) = (c["received"].as_u64().unwrap(), c["transmitted"].as_u64().unwrap());
    assert!(sent > 0 && sent < received, "{c}");
    assert_eq!(error_count(held, 2, "tx queue full drops"), 0, "nothing dropped before the stop");
    assert!(error_count(held, 2, "tx held at stop drops") > 0);
    assert!(error_count(held, 2, "tx stalls") > 0 && error_count(held, 2, "tx retries") > 0);

    let bounded = &runs[1];
    assert_conserved(bounded);
    assert_eq!(bounded["stopped_by"], "input_done");
    let c = &bounded["conservation"];
    let refused = error_count(bounded, 2, "tx queue full drops");
    assert_eq!(c["received"], 9000);
    assert_eq!(c["transmitted"].as_u64().unwrap() + refused, 9000, "{c}");
    assert!(refused > 0);
    assert_eq!(error_count(bounded, 2, "tx held at stop drops"), 0);
    let stalls = error_count(bounded, 2, "tx stalls");
    assert_eq!(error_count(bounded, 2, "tx retries"), 4 * stalls, "4 retries for each partial send");
    // Each retry is an interface-output call beside the one per burst.
    let calls = |name: &str| node(bounded, 2, name).unwrap()["calls"].as_u64().unwrap();
    assert_eq!(calls("interface-output"), calls("handoffdemo-2") + 4 * stalls);

    let pairs = &runs[2];
    assert_conserved(pairs);
    assert_eq!(pairs["stopped_by"], "duration");
    let at_stop = error_count(pairs, 2, "tx held at stop drops");
    assert!(at_stop > 0);
    assert_eq!(error_count(pairs, 2, "tx queue full drops"), 0, "nothing dropped before the stop");
    let pair = &pairs["pairs"][0];
    assert_eq!((pair["rx_port"].as_u64(), pair["tx_port"].as_u64()), (Some(0), Some(1)));
    assert_eq!(pair["refused"], at_stop);
    assert_eq!(pair["packets"], pairs["conservation"]["transmitted"]);
}
