//! The control socket's server never holds the run: clients that never let
//! go, idle clients, one client too many, huge trace filters and repeated
//! `trace add` (issue 13, points 3 and 4). Each row asserts the exit code,
//! the one line and the time the run took.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// `handoff <args>` under `timeout -k`, so nothing outlives the test.
fn handoff(a: &[String], limit_s: u32) -> Child {
    Command::new("timeout")
        .args(["--foreground", "-k", "5", &limit_s.to_string()])
        .arg(bin())
        .args(a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn timeout handoff")
}

/// A client command, its output.
fn ctl(a: &[&str]) -> Output {
    wait(handoff(&args(a), 30), Duration::from_secs(40))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn prefix(test: &str) -> String {
    format!("handoff-test-ctlsrv-{test}-{}", std::process::id())
}

fn socket(prefix: &str) -> PathBuf {
    PathBuf::from("/var/run/dpdk").join(prefix).join("handoff.sock")
}

/// A forwarder on net_null0 for `duration` seconds (more flags in `extra`).
fn forwarder(prefix: &str, duration: &str, extra: &[&str]) -> Child {
    let mut a = args(&["--no-huge", "--file-prefix", prefix, "--vdev", "net_null0", "--duration", duration]);
    a.extend(args(extra));
    handoff(&a, 120)
}

/// A raw connection to the socket: one JSON line each way.
struct Conn(BufReader<UnixStream>);

impl Conn {
    fn open(prefix: &str) -> std::io::Result<Conn> {
        let c = UnixStream::connect(socket(prefix))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn(BufReader::new(c)))
    }

    fn ask(&mut self, request: &str) -> std::io::Result<serde_json::Value> {
        self.0.get_mut().write_all(format!("{request}\n").as_bytes())?;
        self.reply()
    }

    fn reply(&mut self) -> std::io::Result<serde_json::Value> {
        let mut line = String::new();
        if self.0.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        serde_json::from_str(&line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Waits (bounded) until the forwarder answers `info`; returns its pid.
fn wait_for_socket(prefix: &str) -> u32 {
    let start = Instant::now();
    loop {
        if let Ok(reply) = Conn::open(prefix).and_then(|mut c| c.ask(r#"{"cmd":"info"}"#)) {
            return reply["json"]["pid"].as_u64().expect("info has the pid") as u32;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the control socket of {prefix} never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The forwarder's resident memory in MB.
fn rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb / 1024
}

/// The run ended by its --duration, with its report, exit 0, within `limit`
/// of `since` (when it first answered), and its socket is gone.
fn ended_on_time(child: Child, prefix: &str, since: Instant, limit: Duration) -> Output {
    let out = wait(child, Duration::from_secs(60));
    let took = since.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < limit, "the run ended {took:?} after it first answered (limit {limit:?}): {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dpdk-input"), "no report: {}", stderr(&out));
    assert!(!socket(prefix).exists(), "the control socket outlived the run");
    out
}

fn needs_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "{test} needs root (/var/run/dpdk); the suite runs as root");
    root
}

/// A monitoring script that keeps its connection and asks `info` every 3 s
/// (it once kept a --duration 5 run alive for 44 s): the run ends on time.
#[test]
fn a_client_that_never_lets_go_does_not_hold_the_run() {
    let _g = serial();
    needs_root("a_client_that_never_lets_go_does_not_hold_the_run");
    let p = prefix("clinging");
    let child = forwarder(&p, "3", &[]);
    wait_for_socket(&p);
    let since = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let (p2, done2) = (p.clone(), done.clone());
    let script = std::thread::spawn(move || {
        let mut conn = Conn::open(&p2).unwrap();
        let mut answers = 0;
        // Bounded: 20 rounds at most; the server closes it when the run stops.
        for _ in 0..20 {
            match conn.ask(r#"{"cmd":"info"}"#) {
                Ok(r) if r["ok"] == true => answers += 1,
                _ => return (answers, Instant::now()),
            }
            for _ in 0..30 {
                if done2.load(Ordering::Acquire) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if done2.load(Ordering::Acquire) {
                // Still connected: the server hung up on its own?
                let mut b = [0u8; 1];
                let closed = matches!(conn.0.get_mut().read(&mut b), Ok(0));
                return (if closed { answers } else { 1000 + answers }, Instant::now());
            }
        }
        (answers, Instant::now())
    });
    ended_on_time(child, &p, since, Duration::from_secs(3 + 3));
    done.store(true, Ordering::Release);
    let (answers, _) = script.join().unwrap();
    assert!((1..1000).contains(&answers), "the client got {answers} answers (1000+: never closed by the server)");
}

/// Clients do not wait on each other: with idle connections held (one with
/// half a request), another gets its answers at once; one client more than
/// 16 gets a one-line error; the run still ends on time.
#[test]
fn clients_do_not_wait_on_each_other_and_are_capped() {
    let _g = serial();
    needs_root("clients_do_not_wait_on_each_other_and_are_capped");
    let p = prefix("concurrent");
    let child = forwarder(&p, "10", &[]);
    wait_for_socket(&p);
    let since = Instant::now();
    let idle = Conn::open(&p).unwrap();
    let mut half = Conn::open(&p).unwrap();
    half.0.get_mut().write_all(br#"{"cmd":"sh"#).unwrap();
    // One that asks and asks and never reads: its thread blocks writing.
    let mut deaf = Conn::open(&p).unwrap();
    deaf.0.get_mut().set_nonblocking(true).unwrap();
    let ask = r#"{"cmd":"show","what":"runtime","json":true}"#.to_string() + "\n";
    let mut sent = 0;
    while sent < 2000 && deaf.0.get_mut().write_all(ask.as_bytes()).is_ok() {
        sent += 1;
    }

    let t = Instant::now();
    let mut busy = Conn::open(&p).unwrap();
    for _ in 0..5 {
        assert_eq!(busy.ask(r#"{"cmd":"show","what":"errors"}"#).unwrap()["ok"], true);
    }
    let out = ctl(&["show", "runtime", "--file-prefix", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(5), "answers took {:?} beside idle clients", t.elapsed());

    // 16 at once: idle, half, deaf, busy and 12 more; the 17th is refused in one line.
    let mut held: Vec<Conn> = (0..12).map(|_| Conn::open(&p).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = Conn::open(&p).unwrap();
    let refused = extra.reply().expect("a line for the 17th client");
    assert_eq!(refused["ok"], false, "{refused}");
    let why = refused["error"].as_str().unwrap();
    assert!(why.starts_with("16 clients are connected already") && !why.contains('\n'), "{why}");
    assert!(extra.reply().is_err(), "the 17th connection stays open");
    // One goes, and there is room again.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(Conn::open(&p).unwrap().ask(r#"{"cmd":"info"}"#).unwrap()["ok"], true);

    ended_on_time(child, &p, since, Duration::from_secs(10 + 3));
    drop((idle, half, deaf, busy, held));
}

fn ors(n: usize) -> String {
    (0..n).map(|i| format!("udp port {}", 1000 + i)).collect::<Vec<_>>().join(" or ")
}

/// 800 `or` terms held a run 12 s, 40 KB for ever: refused in one line, at
/// once, at start, by the client and by the server; the run ends on time.
#[test]
fn huge_trace_filters_are_refused_in_one_line() {
    let _g = serial();
    needs_root("huge_trace_filters_are_refused_in_one_line");
    let (ors800, big) = (ors(800), format!("udp port 53 or {}", "(udp) or ".repeat(4500) + "udp"));
    assert!(ors800.len() > 12_000 && big.len() > 40_000);
    for f in [&ors800, &big] {
        let p = prefix("bigfilter-start");
        let t = Instant::now();
        let a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--duration", "3", "--trace", "5"]);
        let out = wait(handoff(&[a, args(&["--trace-filter", f])].concat(), 60), Duration::from_secs(60));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err, format!("handoff: the trace filter is {} bytes; at most 4096 are accepted\n", f.len()));
        assert!(t.elapsed() < Duration::from_secs(5), "refused after {:?}", t.elapsed());
    }

    let p = prefix("bigfilter-live");
    let child = forwarder(&p, "3", &[]);
    wait_for_socket(&p);
    let since = Instant::now();
    for f in [&ors800, &big] {
        let t = Instant::now();
        let out = ctl(&["trace", "add", "10", "--filter", f, "--file-prefix", &p]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err, format!("handoff: the trace filter is {} bytes; at most 4096 are accepted\n", f.len()));
        // Straight on the socket (no client check): the server refuses it too.
        let request = serde_json::json!({"cmd": "trace_add", "count": 10, "filter": f}).to_string();
        let reply = Conn::open(&p).unwrap().ask(&request).unwrap();
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["error"], format!("the trace filter is {} bytes; at most 4096 are accepted", f.len()));
        assert!(t.elapsed() < Duration::from_secs(3), "refused after {:?}", t.elapsed());
    }
    // A good filter still arms the tracer.
    let ok = ctl(&["trace", "add", "10", "--filter", "udp or not udp", "--file-prefix", &p]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    ended_on_time(child, &p, since, Duration::from_secs(3 + 3));
}

/// 30 x `trace add 100000` once took a forwarder to 1.84 GB, and `show
/// trace` then past 9.4 GB: now each thread holds at most 100000 traces,
/// the rest counted dropped and shown, and `show trace` renders 50.
#[test]
fn repeated_trace_add_keeps_memory_bounded() {
    let _g = serial();
    needs_root("repeated_trace_add_keeps_memory_bounded");
    let p = prefix("traceadd");
    let child = forwarder(&p, "20", &["--show", "errors,trace"]);
    let pid = wait_for_socket(&p);
    let since = Instant::now();
    let first = rss_mb(pid);
    let mut conn = Conn::open(&p).unwrap();
    let mut peak = first;
    let mut last = serde_json::Value::Null;
    for _ in 0..30 {
        last = conn.ask(r#"{"cmd":"trace_add","count":100000}"#).unwrap();
        assert_eq!(last["ok"], true, "{last}");
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss_mb(pid));
    }
    // The reply says so once a buffer is full.
    let said = last["text"].as_str().unwrap();
    assert!(said.contains("trace buffer full on thread") && said.contains("(100000 packets each)"), "{said}");
    let text = ctl(&["show", "trace", "--file-prefix", &p]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    peak = peak.max(rss_mb(pid));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.len() < 1 << 20, "show trace printed {} bytes", text.len());
    assert!(text.contains("Limiting display to 50 packets"), "{}", &text[..text.len().min(2000)]);
    assert!(text.contains(" traces dropped (cap 100000 per thread)\n"), "{}", &text[text.len().saturating_sub(2000)..]);
    let doc: serde_json::Value =
        serde_json::from_slice(&ctl(&["show", "trace", "--json", "--file-prefix", &p]).stdout).unwrap();
    let rx = &doc[1];
    assert_eq!(rx["packets"].as_array().unwrap().len(), 50, "{}", rx["held"]);
    assert_eq!(rx["held"], 100_000);
    assert!(rx["dropped"].as_u64().unwrap() > 0, "{}", rx["dropped"]);
    peak = peak.max(rss_mb(pid));
    assert!(peak < 400, "the forwarder grew from {first} MB to {peak} MB");
    eprintln!("rss: {first} MB at start, {peak} MB at most");
    drop(conn);
    // The end-of-run report keeps the same cap, and prints 50 per thread.
    let out = ended_on_time(child, &p, since, Duration::from_secs(20 + 4));
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.len() < 1 << 20, "the report is {} bytes", report.len());
    assert_eq!(report.matches("Limiting display to 50 packets").count(), 2, "{}", &report[..report.len().min(3000)]);
    assert_eq!(report.matches(" traces dropped (cap 100000 per thread)\n").count(), 2);
}

/// `show trace` prints at most --trace-display packets per thread, or
/// `--max N`; `--max` is for `show trace` only.
#[test]
fn show_trace_prints_at_most_trace_display() {
    let _g = serial();
    needs_root("show_trace_prints_at_most_trace_display");
    let p = prefix("display");
    let child = forwarder(&p, "8", &["--trace-display", "3"]);
    wait_for_socket(&p);
    let since = Instant::now();
    let armed = ctl(&["trace", "add", "10", "--file-prefix", &p]);
    assert_eq!(armed.status.code(), Some(0), "{}", stderr(&armed));
    let shown = |extra: &[&str]| {
        let out = ctl(&[&["show", "trace", "--file-prefix", &p], extra].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    // Both threads hold their 10 (a busy machine may take a while).
    let held = |doc: &serde_json::Value, t: usize| doc[t]["held"].as_u64().unwrap();
    let waited = Instant::now();
    loop {
        let doc: serde_json::Value = serde_json::from_str(&shown(&["--json"])).unwrap();
        if held(&doc, 1) == 10 && held(&doc, 2) == 10 {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(5), "never traced 10 per thread: {doc}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = shown(&[]);
    // Two data-path threads, 3 packets each.
    assert_eq!(text.matches("\nPacket ").count(), 6, "{text}");
    assert!(!text.contains("Packet 4\n"), "{text}");
    assert_eq!(text.matches("Limiting display to 3 packets. To display more specify max.").count(), 2, "{text}");
    let text = shown(&["--max", "7"]);
    assert_eq!(text.matches("\nPacket ").count(), 14, "{text}");
    let doc: serde_json::Value = serde_json::from_str(&shown(&["--json"])).unwrap();
    assert_eq!((doc[1]["packets"].as_array().unwrap().len(), doc[1]["held"].as_u64()), (3, Some(10)), "{doc}");
    assert_eq!(doc[1]["dropped"], 0);
    let bad = ctl(&["show", "runtime", "--max", "3", "--file-prefix", &p]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(stderr(&bad), "handoff: --max is for show trace only\n");
    ended_on_time(child, &p, since, Duration::from_secs(8 + 3));
}
