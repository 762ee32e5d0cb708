//! The control client (`handoff show|list`) against sockets it must not
//! trust and forwarders that misbehave: a real unprivileged user's look-alike
//! sockets, untrusted owners and modes, a wedged server, a flooding one, and
//! broken replies. Each row asserts the exit code, exactly one `handoff:`
//! line, the time taken, that nothing was asked of an untrusted socket, and
//! that nothing is left behind. Needs root (tests run as root).

mod common;
#[path = "common/users.rs"]
mod users;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use handoff::control::client::MAX_REPLY;
use users::{exe_for_anyone, TestUser, UserProcess};

/// `HANDOFF_TEST_FAKE_SERVER="<mode> <socket> <marker>"` makes `fake_server_child` a server.
const CHILD_ENV: &str = "HANDOFF_TEST_FAKE_SERVER";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Answers every request, with terminal escape sequences in every string.
    Escape,
    /// Sends one byte every 2 s (for at most 15 s a connection).
    Wedge,
    /// Streams a reply that never ends (stops past the client's cap); answers `info` normally.
    Flood,
    /// Reads the request, closes.
    Close,
    /// Answers a line that is not JSON.
    Malformed,
    /// Answers half a reply, closes.
    Cut,
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "escape" => Mode::Escape,
            "wedge" => Mode::Wedge,
            "flood" => Mode::Flood,
            "close" => Mode::Close,
            "malformed" => Mode::Malformed,
            "cut" => Mode::Cut,
            other => panic!("mode {other}"),
        }
    }
}

const ESCAPES: &str = "\\u001b]0;owned\\u0007\\u001b[2J\\u009b31m";

/// One connection: reads a request line, notes it in `marker`, answers as `mode` does.
fn answer(mut conn: UnixStream, mode: Mode, marker: &Path, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_write_timeout(Some(Duration::from_millis(500)));
    let mut line = String::new();
    let Ok(n) = BufReader::new((&conn).take(64 * 1024)).read_line(&mut line) else { return };
    if n == 0 {
        return;
    }
    let _ = std::fs::write(marker, &line);
    let info = line.contains("\"info\"");
    let info_reply = format!(
        "{{\"ok\":true,\"json\":{{\"prefix\":\"p{ESCAPES}\",\"pid\":1,\"ports\":[\"port{ESCAPES}\"],\
         \"uptime_seconds\":1.0,\"tracing\":0}}}}\n"
    );
    match mode {
        Mode::Escape if info => drop(conn.write_all(info_reply.as_bytes())),
        Mode::Escape => drop(conn.write_all(format!("{{\"ok\":true,\"text\":\"text{ESCAPES}\\n\"}}\n").as_bytes())),
        Mode::Wedge => {
            let end = Instant::now() + Duration::from_secs(15);
            'wedge: while Instant::now() < end {
                if conn.write_all(b" ").is_err() {
                    break;
                }
                for _ in 0..40 {
                    if stop.load(Ordering::Acquire) {
                        break 'wedge;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        Mode::Flood if info => drop(conn.write_all(info_reply.as_bytes())),
        Mode::Flood => {
            let _ = conn.write_all(b"{\"ok\":true,\"text\":\"");
            let chunk = vec![b'A'; 64 * 1024];
            let mut sent = 0;
            // Past the cap by 4 MiB, then it stops: a client without a cap reads a cut reply.
            while sent < MAX_REPLY + (4 << 20) && !stop.load(Ordering::Acquire) {
                match conn.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        }
        Mode::Close => {}
        Mode::Malformed => drop(conn.write_all(b"this is not JSON \x1b[2J\n")),
        Mode::Cut => drop(conn.write_all(b"{\"ok\":true,\"text\":\"cut")),
    }
}

/// Serves `listener` until `stop` or `until`, a thread per connection.
fn serve(listener: UnixListener, mode: Mode, marker: PathBuf, stop: Arc<AtomicBool>, until: Instant) {
    listener.set_nonblocking(true).unwrap();
    let mut conns = Vec::new();
    while !stop.load(Ordering::Acquire) && Instant::now() < until {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                let (marker, stop) = (marker.clone(), stop.clone());
                conns.push(std::thread::spawn(move || answer(conn, mode, &marker, &stop)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    for c in conns {
        let _ = c.join();
    }
}

/// Not a test of its own: the server a test runs as its unprivileged user
/// (this binary again, with CHILD_ENV set). Without CHILD_ENV it does nothing.
#[test]
fn fake_server_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split(' ').collect();
    let listener = UnixListener::bind(parts[1]).unwrap();
    serve(
        listener,
        Mode::parse(parts[0]),
        PathBuf::from(parts[2]),
        Arc::default(),
        Instant::now() + Duration::from_secs(90),
    );
}

/// Paths a test made, removed in reverse order on drop (files and empty
/// directories only, never recursively), so a failed test leaves nothing.
#[derive(Default)]
struct Made(Vec<PathBuf>);

impl Made {
    fn dir(&mut self, path: &Path, mode: u32) -> PathBuf {
        std::fs::create_dir(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        self.0.push(path.to_path_buf());
        path.to_path_buf()
    }

    /// A file, socket or link at `path` that is removed with the rest.
    fn note(&mut self, path: &Path) -> PathBuf {
        self.0.push(path.to_path_buf());
        path.to_path_buf()
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let is_dir = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
            let _ = if is_dir { std::fs::remove_dir(p) } else { std::fs::remove_file(p) };
        }
    }
}

/// A fake server on a thread of this (root) process; stops on drop.
struct RootServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RootServer {
    fn start(socket: &Path, marker: &Path, mode: Mode) -> RootServer {
        let listener = UnixListener::bind(socket).unwrap();
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, m) = (stop.clone(), marker.to_path_buf());
        let thread = std::thread::spawn(move || serve(listener, mode, m, s, Instant::now() + Duration::from_secs(300)));
        RootServer { stop, thread: Some(thread) }
    }
}

impl Drop for RootServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a fake server as `user`, bound in `stage` (the user's), and moves
/// its socket to `dest` (same filesystem) once it listens.
fn user_server(user: &TestUser, exe: &Path, stage: &Path, dest: &Path, mode: &str, made: &mut Made) -> UserProcess {
    let bound = stage.join("handoff.sock");
    let marker = made.note(&stage.join("asked"));
    made.note(dest);
    let spec = format!("{mode} {} {}", bound.display(), marker.display());
    let child = user.spawn(exe, &["fake_server_child", "--exact", "--nocapture"], &[(CHILD_ENV, &spec)]);
    let start = Instant::now();
    while std::fs::symlink_metadata(&bound).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "the user's fake server never bound {}", bound.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::rename(&bound, dest).unwrap_or_else(|e| panic!("move {} to {}: {e}", bound.display(), dest.display()));
    child
}

/// `handoff <args>` as a client, timed, under a limit.
fn ctl(a: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let child = Command::new(bin())
        .args(a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handoff");
    let out = wait(child, Duration::from_secs(90));
    (out, start.elapsed())
}

/// Asserts the run failed with `code` and exactly one `handoff:` line that says `says`.
fn one_line(out: &Output, code: i32, says: &str, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: not one line: {stderr}");
    assert!(stderr.starts_with("handoff: ") && stderr.contains(says), "{what}: expected '{says}' in: {stderr}");
    stderr
}

fn no_escape(out: &Output, what: &str) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{what}: a control character on {name}: {text:?}"
        );
    }
}

fn listed<'a>(doc: &'a serde_json::Value, prefix: &str) -> Option<&'a serde_json::Value> {
    doc.as_array().unwrap().iter().find(|l| l["prefix"] == prefix)
}

/// (a) An ordinary user plants a look-alike `/tmp/dpdk/P/handoff.sock`
/// that answers with escape sequences: root's client never looks there.
#[test]
fn root_never_asks_a_socket_another_user_planted() {
    let _g = serial();
    let user = TestUser::create("cca");
    let scratch = tempfile::tempdir().unwrap();
    let exe = exe_for_anyone(&std::env::current_exe().unwrap(), scratch.path());
    let pid = std::process::id();
    let prefix = format!("handoff-test-cc-planted-{pid}");
    let mut made = Made::default();
    let tmp_dpdk = Path::new("/tmp/dpdk");
    if std::fs::symlink_metadata(tmp_dpdk).is_err() {
        made.dir(tmp_dpdk, 0o700);
        user.give(tmp_dpdk);
    }
    let dir = made.dir(&tmp_dpdk.join(&prefix), 0o700);
    user.give(&dir);
    let stage = made.dir(Path::new(&format!("/tmp/handoff-test-cc-stage-{pid}")), 0o700);
    user.give(&stage);
    let socket = dir.join("handoff.sock");
    let server = user_server(&user, &exe, &stage, &socket, "escape", &mut made);

    let (out, took) = ctl(&["show", "errors", "--file-prefix", &prefix]);
    one_line(&out, 1, &format!("no running forwarder with prefix {prefix}"), "show --file-prefix");
    assert!(out.stdout.is_empty() && took < Duration::from_secs(10), "{took:?}");
    no_escape(&out, "show");
    let (out, _) = ctl(&["list", "--json", "--timeout", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    no_escape(&out, "list");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed(&doc, &prefix).is_none(), "root listed the planted socket: {doc}");
    assert!(!stage.join("asked").exists(), "root asked the planted socket");

    // The look-alike is real: asked directly, it answers with escape sequences.
    let mut conn = UnixStream::connect(&socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"{\"cmd\":\"info\"}\n").unwrap();
    let mut reply = String::new();
    BufReader::new(conn).read_line(&mut reply).unwrap();
    assert!(reply.contains("\\u001b]0;owned"), "{reply}");

    drop(server);
    drop(made);
    for p in [&socket, &dir, &stage] {
        assert!(std::fs::symlink_metadata(p).is_err(), "{} was left behind", p.display());
    }
}

/// (b) Under root's own base: a socket or directory that is not root's (or
/// that others can write, or a link), or a server run by another user, is
/// refused with one line and never sent a request; `list` shows it refused.
#[test]
fn untrusted_sockets_under_roots_base_are_refused() {
    let _g = serial();
    let user = TestUser::create("ccb");
    let scratch = tempfile::tempdir().unwrap();
    let exe = exe_for_anyone(&std::env::current_exe().unwrap(), scratch.path());
    let pid = std::process::id();
    let base = Path::new("/var/run/dpdk");
    std::fs::create_dir_all(base).unwrap();
    type Setup = fn(&TestUser, &Path, &Path, &Path, &mut Made) -> (Option<UserProcess>, Option<RootServer>);
    let rows: [(&str, Setup, &str); 6] = [
        (
            "a directory the user owns",
            |u, exe, stage, dir, made| {
                made.dir(dir, 0o700);
                u.give(dir);
                (Some(user_server(u, exe, stage, &dir.join("handoff.sock"), "escape", made)), None)
            },
            "it is owned by uid",
        ),
        (
            "a socket the user owns in root's directory",
            |u, exe, stage, dir, made| {
                made.dir(dir, 0o700);
                (Some(user_server(u, exe, stage, &dir.join("handoff.sock"), "escape", made)), None)
            },
            "handoff.sock: it is owned by uid",
        ),
        (
            "root's socket, but the user's server behind it",
            |u, exe, stage, dir, made| {
                made.dir(dir, 0o700);
                let socket = dir.join("handoff.sock");
                let p = user_server(u, exe, stage, &socket, "escape", made);
                std::os::unix::fs::lchown(&socket, Some(0), Some(0)).unwrap();
                (Some(p), None)
            },
            "the process serving it",
        ),
        (
            "a directory others can write",
            |_, _, stage, dir, made| {
                made.dir(dir, 0o700);
                let s = RootServer::start(
                    &made.note(&dir.join("handoff.sock")),
                    &made.note(&stage.join("asked")),
                    Mode::Escape,
                );
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
                (None, Some(s))
            },
            "group or others can write it (mode 0777)",
        ),
        (
            "a socket that is a symbolic link",
            |_, _, stage, dir, made| {
                made.dir(dir, 0o700);
                let real = made.note(&stage.join("real.sock"));
                let s = RootServer::start(&real, &made.note(&stage.join("asked")), Mode::Escape);
                std::os::unix::fs::symlink(&real, made.note(&dir.join("handoff.sock"))).unwrap();
                (None, Some(s))
            },
            "handoff.sock: it is a symbolic link",
        ),
        (
            "a prefix directory that is a symbolic link",
            |_, _, stage, dir, made| {
                let s = RootServer::start(
                    &made.note(&stage.join("handoff.sock")),
                    &made.note(&stage.join("asked")),
                    Mode::Escape,
                );
                std::os::unix::fs::symlink(stage, made.note(dir)).unwrap();
                (None, Some(s))
            },
            "it is a symbolic link",
        ),
    ];
    for (i, (what, setup, says)) in rows.iter().enumerate() {
        let prefix = format!("handoff-test-cc-untrusted{i}-{pid}");
        let dir = base.join(&prefix);
        let mut made = Made::default();
        // Same filesystem as the base: a socket bound there can be moved in.
        let stage = made.dir(Path::new(&format!("/run/handoff-test-cc-stage-{pid}")), 0o700);
        user.give(&stage);
        let (process, server) = setup(&user, &exe, &stage, &dir, &mut made);

        let (out, took) = ctl(&["show", "errors", "--file-prefix", &prefix]);
        one_line(&out, 1, "refusing /var/run/dpdk/", what);
        one_line(&out, 1, says, what);
        no_escape(&out, what);
        assert!(out.stdout.is_empty() && took < Duration::from_secs(10), "{what}: {took:?}");
        let (out, _) = ctl(&["list", "--json", "--timeout", "2"]);
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        no_escape(&out, what);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = listed(&doc, &prefix).unwrap_or_else(|| panic!("{what}: not listed: {doc}"));
        assert_eq!(row["state"], "refused", "{what}: {row}");
        assert!(row["reason"].as_str().unwrap().contains(says), "{what}: {row}");
        assert!(!stage.join("asked").exists(), "{what}: the client sent it a request");

        drop((process, server));
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        let noted = made.0.clone();
        drop(made);
        for p in noted {
            assert!(std::fs::symlink_metadata(&p).is_err(), "{what}: {} was left behind", p.display());
        }
    }
}

/// (c), (d) and broken replies from a trusted (root's) socket: each ends
/// with its one line, within the deadline, in bounded memory.
#[test]
fn misbehaving_forwarders_end_with_one_line_in_time() {
    let _g = serial();
    let pid = std::process::id();
    let base = Path::new("/var/run/dpdk");
    std::fs::create_dir_all(base).unwrap();
    // Address space for the client: twice the cap (a growing buffer) and 256 MiB for the
    // binary itself (it needs under 50 MiB); past that it would abort, not print the line.
    let memory_kib = (2 * MAX_REPLY + (256 << 20)) / 1024;
    let cap_line = format!("sent a reply over {MAX_REPLY} bytes");
    // Mode, extra flags, exit code, the line says, seconds taken at least and below.
    type Row<'a> = (Mode, &'a [&'a str], i32, &'a str, f64, f64);
    let rows: [Row; 8] = [
        (Mode::Wedge, &[], 1, "did not answer within 5 s", 4.8, 9.0),
        (Mode::Wedge, &["--timeout", "1"], 1, "did not answer within 1 s", 0.9, 4.0),
        (Mode::Wedge, &["--timeout", "1.5"], 1, "did not answer within 1.5 s", 1.4, 4.5),
        (Mode::Flood, &["--timeout", "60"], 1, &cap_line, 0.0, 55.0),
        (Mode::Close, &[], 1, "closed the connection without answering", 0.0, 4.0),
        (Mode::Malformed, &[], 1, "sent a malformed reply", 0.0, 4.0),
        (Mode::Cut, &[], 1, "sent a malformed reply (it ends after", 0.0, 4.0),
        (Mode::Escape, &[], 0, "", 0.0, 4.0),
    ];
    for (mode, extra, code, says, min_s, max_s) in rows {
        let what = format!("{mode:?} {extra:?}");
        let prefix = format!("handoff-test-cc-{}-{pid}", format!("{mode:?}").to_lowercase());
        let mut made = Made::default();
        let dir = made.dir(&base.join(&prefix), 0o700);
        let socket = made.note(&dir.join("handoff.sock"));
        let server = RootServer::start(&socket, &made.note(&dir.join("asked")), mode);

        let mut a = vec!["show", "errors", "--file-prefix", &prefix];
        a.extend_from_slice(extra);
        let script = format!("ulimit -v {memory_kib} && exec \"$0\" \"$@\"");
        let exe = bin();
        let mut args = vec!["-c", &script, exe.to_str().unwrap()];
        args.extend(a.iter().copied());
        let start = Instant::now();
        let child = Command::new("sh")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait(child, Duration::from_secs(90));
        let took = start.elapsed().as_secs_f64();
        if code == 0 {
            assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with("text\\x1b]0;owned\\x07\\x1b[2J\\u{9b}31m"), "{what}: {text:?}");
        } else {
            let line = one_line(&out, code, says, &what);
            assert!(line.contains(&prefix) && !line.contains("os error"), "{what}: {line}");
        }
        no_escape(&out, &what);
        assert!((min_s..max_s).contains(&took), "{what}: took {took:.1} s, expected {min_s}-{max_s} s");

        if mode == Mode::Wedge && extra.is_empty() {
            // list asks every forwarder at once: one deadline for all, and says why.
            let start = Instant::now();
            let (out, _) = ctl(&["list", "--json", "--timeout", "1"]);
            assert!(start.elapsed() < Duration::from_secs(5), "list took {:?}", start.elapsed());
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let row = listed(&doc, &prefix).unwrap_or_else(|| panic!("not listed: {doc}"));
            assert_eq!(row["state"], "not_answering", "{row}");
            let (out, _) = ctl(&["list", "--timeout", "1"]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.lines().any(|l| l.starts_with(&prefix) && l.contains("not answering")), "{text}");
        }
        drop(server);
        let noted = made.0.clone();
        drop(made);
        for p in noted {
            assert!(std::fs::symlink_metadata(&p).is_err(), "{what}: {} was left behind", p.display());
        }
    }
}

/// `list` shows what a (trusted) forwarder says with its control characters escaped.
#[test]
fn list_escapes_what_a_forwarder_says() {
    let _g = serial();
    let prefix = format!("handoff-test-cc-listesc-{}", std::process::id());
    let mut made = Made::default();
    std::fs::create_dir_all("/var/run/dpdk").unwrap();
    let dir = made.dir(&Path::new("/var/run/dpdk").join(&prefix), 0o700);
    let server = RootServer::start(&made.note(&dir.join("handoff.sock")), &made.note(&dir.join("asked")), Mode::Escape);
    for json in [false, true] {
        let a: &[&str] = if json { &["list", "--json", "--timeout", "2"] } else { &["list", "--timeout", "2"] };
        let (out, _) = ctl(a);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        no_escape(&out, "list");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("port\\\\x1b]0;owned") || text.contains("port\\x1b]0;owned"), "{text}");
    }
    drop(server);
    drop(made);
    assert!(std::fs::symlink_metadata(&dir).is_err());
}

/// A forwarder whose connection queue stays full (nobody accepts) is busy:
/// the connect itself is bounded by the deadline.
#[test]
fn a_full_connection_queue_is_busy() {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let _g = serial();
    let prefix = format!("handoff-test-cc-busy-{}", std::process::id());
    let mut made = Made::default();
    std::fs::create_dir_all("/var/run/dpdk").unwrap();
    let dir = made.dir(&Path::new("/var/run/dpdk").join(&prefix), 0o700);
    let socket = made.note(&dir.join("handoff.sock"));
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Fill its accept queue: non-blocking connects until one would wait.
    let addr = SocketAddrUnix::new(&socket).unwrap();
    let mut queued = Vec::new();
    loop {
        let fd =
            rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::NONBLOCK, None).unwrap();
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => queued.push(fd),
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("connect: {e}"),
        }
        assert!(queued.len() < 100_000, "the accept queue never filled");
    }
    let (out, took) = ctl(&["show", "errors", "--file-prefix", &prefix, "--timeout", "1"]);
    one_line(&out, 1, &format!("forwarder {prefix} is busy: its connection queue stayed full for 1 s"), "busy");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
    let (out, _) = ctl(&["list", "--json", "--timeout", "1"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed(&doc, &prefix).map(|l| &l["state"]), Some(&serde_json::json!("busy")), "{doc}");
    drop((queued, listener));
    drop(made);
    assert!(std::fs::symlink_metadata(&dir).is_err(), "{} was left behind", dir.display());
}

/// An ordinary user's client looks only in its own base (EAL's: here
/// `$XDG_RUNTIME_DIR/dpdk`), talks to its own forwarder, never sees root's,
/// and refuses a base that another user owns.
#[test]
fn an_ordinary_user_looks_only_in_its_own_base() {
    let _g = serial();
    let user = TestUser::create("ccu");
    let scratch = tempfile::tempdir().unwrap();
    let test_exe = exe_for_anyone(&std::env::current_exe().unwrap(), scratch.path());
    let handoff = exe_for_anyone(&bin(), scratch.path());
    let pid = std::process::id();
    let prefix = format!("handoff-test-cc-own-{pid}");
    let mut made = Made::default();
    let xdg = made.dir(Path::new(&format!("/run/handoff-test-cc-xdg-{pid}")), 0o700);
    user.give(&xdg);
    let base = made.dir(&xdg.join("dpdk"), 0o700);
    user.give(&base);
    let dir = made.dir(&base.join(&prefix), 0o700);
    user.give(&dir);
    let stage = made.dir(Path::new(&format!("/run/handoff-test-cc-stage-{pid}")), 0o700);
    user.give(&stage);
    let server = user_server(&user, &test_exe, &stage, &dir.join("handoff.sock"), "escape", &mut made);
    let env = [("XDG_RUNTIME_DIR", xdg.to_str().unwrap())];
    let limit = Duration::from_secs(30);

    let out = user.run(&handoff, &["show", "errors", "--file-prefix", &prefix], &env, limit);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    no_escape(&out, "the user's own forwarder");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("text\\x1b]0;owned"), "{out:?}");
    let out = user.run(&handoff, &["list", "--json"], &env, limit);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = doc.as_array().unwrap();
    assert!(all.len() == 1 && all[0]["prefix"] == prefix.as_str() && all[0]["state"] == "running", "{doc}");
    std::fs::remove_file(stage.join("asked")).unwrap();
    // Without XDG_RUNTIME_DIR EAL (and the client) use /tmp/dpdk: nothing of root's either.
    let out = user.run(&handoff, &["show", "errors", "--file-prefix", &prefix], &[], limit);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    // A base that another user owns is refused, by show and by list.
    std::os::unix::fs::lchown(&base, Some(user.uid + 1), None).unwrap();
    let out = user.run(&handoff, &["show", "errors", "--file-prefix", &prefix], &env, limit);
    one_line(&out, 1, &format!("refusing {}: it is owned by uid {}", base.display(), user.uid + 1), "others' base");
    let out = user.run(&handoff, &["list"], &env, limit);
    one_line(&out, 1, &format!("refusing {}", base.display()), "list in others' base");
    assert!(!stage.join("asked").exists(), "a refused forwarder was sent a request");

    drop(server);
    drop(made);
    for p in [&xdg, &stage] {
        assert!(std::fs::symlink_metadata(p).is_err(), "{} was left behind", p.display());
    }
}

/// `--timeout` is checked like every number: out of range is exit 2.
#[test]
fn timeout_is_range_checked() {
    for a in [
        &["show", "errors", "--timeout", "0"][..],
        &["show", "errors", "--timeout", "3601"],
        &["show", "errors", "--timeout", "nan"],
        &["trace", "add", "1", "--timeout=-1"],
        &["clear", "trace", "--timeout", "inf"],
        &["list", "--timeout", "0.01"],
    ] {
        let (out, took) = ctl(a);
        one_line(&out, 2, "--timeout", &format!("{a:?}"));
        assert!(took < Duration::from_secs(10));
    }
}
