//! `handoff show|trace|clear|list`: finds running forwarders by their
//! control sockets and asks them, one JSON line each way.
//!
//! It looks only where EAL puts this user's runtime directories (root:
//! `/var/run/dpdk`; others: `$XDG_RUNTIME_DIR/dpdk` or `/tmp/dpdk`), trusts a
//! socket only as `trust` says, and bounds every exchange: one deadline for
//! connect, request and the whole reply, and a cap on the reply's size.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rustix::io::Errno;
use serde::Serialize;

use crate::dpdk::runtime_files::{prefix_problem, runtime_base, CONTROL_SOCKET};
use crate::pipeline::live::MAX_LIVE_TRACE;

use super::protocol::{Info, Request, Response};
use super::trust::{self, sanitize, sanitize_field, Kind, Verdict};

/// The whole exchange with a forwarder (`--timeout`): a trace request waits on lcores.
pub const DEFAULT_TIMEOUT_SECS: f64 = 5.0;
/// `--timeout`'s range, in seconds.
pub const TIMEOUT_SECS: (f64, f64) = (0.1, 3600.0);

/// Largest reply accepted. The largest legitimate one is `show trace --json`
/// after `trace add 100000` (MAX_LIVE_TRACE) on an rx and a worker thread:
/// 200,000 traced packets, each about 1 KiB as JSON (a 128-byte hex dump and
/// its records; measured), about 200 MB.
pub const MAX_REPLY: usize = 256 << 20;
const _: () = assert!(MAX_REPLY >= 2 * MAX_LIVE_TRACE as usize * 1280);

/// One deadline for everything a command asks.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        Deadline { at: Instant::now() + timeout, timeout }
    }

    /// Time left (at least 1 ms: a zero socket timeout means none), or None once past.
    fn left(&self) -> Option<Duration> {
        let left = self.at.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then(|| left.max(Duration::from_millis(1)))
    }

    fn secs(&self) -> String {
        format!("{}", (self.timeout.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

/// Each way asking a forwarder can fail, as the line the user reads.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("forwarder {prefix} is not running: nothing listens on {socket} (a stopped or killed run's socket)")]
    Stopped { prefix: String, socket: String },
    #[error("forwarder {prefix} is busy: its connection queue stayed full for {secs} s")]
    Busy { prefix: String, secs: String },
    #[error("forwarder {prefix} did not answer within {secs} s")]
    NoAnswer { prefix: String, secs: String },
    #[error("forwarder {prefix} sent a reply over {MAX_REPLY} bytes (the client's limit)")]
    TooLarge { prefix: String },
    #[error("forwarder {prefix} closed the connection without answering")]
    Closed { prefix: String },
    #[error("forwarder {prefix} sent a malformed reply ({why})")]
    Malformed { prefix: String, why: String },
    #[error("refusing {path}: {why}")]
    Untrusted { path: String, why: String },
    #[error("forwarder {prefix}: {socket}: {error}")]
    Io { prefix: String, socket: String, error: std::io::Error },
}

impl AskError {
    /// How `handoff list` shows a forwarder this happened with.
    pub fn state(&self) -> State {
        match self {
            AskError::Stopped { .. } => State::Stopped,
            AskError::Busy { .. } => State::Busy,
            AskError::NoAnswer { .. } => State::NotAnswering,
            AskError::Untrusted { .. } => State::Refused,
            AskError::TooLarge { .. } | AskError::Closed { .. } | AskError::Malformed { .. } | AskError::Io { .. } => {
                State::Failed
            }
        }
    }
}

/// A control socket found under the runtime base, checked or not yet.
#[derive(Clone, Debug)]
pub struct Target {
    pub prefix: String,
    pub socket: PathBuf,
}

/// Where EAL puts this user's runtime directories: root looks only at
/// root's, anyone else only at their own (DPDK 22.11 eal_create_runtime_dir).
pub fn base() -> PathBuf {
    runtime_base()
}

fn untrusted(path: &Path, why: String) -> AskError {
    AskError::Untrusted { path: sanitize_field(&path.display().to_string()).into_owned(), why }
}

/// Checks `path` (a Kind); Ok(false) when it does not exist.
fn checked(path: &Path, kind: Kind, me: u32) -> Result<bool, AskError> {
    match trust::check_path(path, kind, me) {
        Verdict::Missing => Ok(false),
        Verdict::Trusted => Ok(true),
        Verdict::Untrusted(why) => Err(untrusted(path, why)),
    }
}

/// Connects within the deadline; an EAGAIN past it is a full accept queue.
fn connect(t: &Target, deadline: &Deadline) -> Result<UnixStream, AskError> {
    use rustix::net::{sockopt, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let io = |error: std::io::Error| AskError::Io {
        prefix: t.prefix.clone(),
        socket: t.socket.display().to_string(),
        error,
    };
    let no_answer = || AskError::NoAnswer { prefix: t.prefix.clone(), secs: deadline.secs() };
    let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| io(e.into()))?;
    let left = deadline.left().ok_or_else(no_answer)?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, Some(left)).map_err(|e| io(e.into()))?;
    let addr = SocketAddrUnix::new(&t.socket).map_err(|e| io(e.into()))?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok(UnixStream::from(fd)),
        // The socket went between the check and here: the run just ended.
        Err(Errno::CONNREFUSED) | Err(Errno::NOENT) => {
            Err(AskError::Stopped { prefix: t.prefix.clone(), socket: t.socket.display().to_string() })
        }
        Err(Errno::AGAIN) => Err(AskError::Busy { prefix: t.prefix.clone(), secs: deadline.secs() }),
        Err(e) => Err(io(e.into())),
    }
}

/// Sends `request` and reads one reply line, all before the deadline and
/// at most MAX_REPLY bytes of it.
fn exchange(t: &Target, conn: &mut UnixStream, request: &Request, deadline: &Deadline) -> Result<Vec<u8>, AskError> {
    use std::io::ErrorKind;
    let prefix = || t.prefix.clone();
    let no_answer = || AskError::NoAnswer { prefix: prefix(), secs: deadline.secs() };
    let io = |error: std::io::Error| match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => no_answer(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => AskError::Closed { prefix: prefix() },
        _ => AskError::Io { prefix: prefix(), socket: t.socket.display().to_string(), error },
    };
    let mut line = serde_json::to_vec(request).expect("a request serializes");
    line.push(b'\n');
    let mut unsent = &line[..];
    while !unsent.is_empty() {
        conn.set_write_timeout(Some(deadline.left().ok_or_else(no_answer)?)).map_err(io)?;
        match conn.write(unsent) {
            Ok(0) => return Err(AskError::Closed { prefix: prefix() }),
            Ok(n) => unsent = &unsent[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut reply = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        conn.set_read_timeout(Some(deadline.left().ok_or_else(no_answer)?)).map_err(io)?;
        let n = match conn.read(&mut chunk) {
            Ok(0) if reply.is_empty() => return Err(AskError::Closed { prefix: prefix() }),
            Ok(0) => {
                let why = format!("it ends after {} bytes, without a newline", reply.len());
                return Err(AskError::Malformed { prefix: prefix(), why });
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        let got = &chunk[..n];
        let end = got.iter().position(|&b| b == b'\n');
        let take = end.unwrap_or(n);
        if reply.len() + take > MAX_REPLY {
            return Err(AskError::TooLarge { prefix: prefix() });
        }
        reply.extend_from_slice(&got[..take]);
        if end.is_some() {
            return Ok(reply);
        }
    }
}

/// Asks the forwarder behind `t` (its paths checked first, its server's
/// credentials after connecting), within `deadline`.
pub fn ask(t: &Target, request: &Request, deadline: &Deadline) -> Result<Response, AskError> {
    let me = trust::caller_uid();
    let stopped = || AskError::Stopped { prefix: t.prefix.clone(), socket: t.socket.display().to_string() };
    // From the base down: each directory, then the socket.
    let dir = t.socket.parent().unwrap_or(&t.socket);
    for (path, kind) in [(dir.parent().unwrap_or(dir), Kind::Dir), (dir, Kind::Dir), (&t.socket, Kind::Socket)] {
        if !checked(path, kind, me)? {
            return Err(stopped());
        }
    }
    let mut conn = connect(t, deadline)?;
    if let Some(why) = trust::peer_problem(&conn, me) {
        return Err(untrusted(&t.socket, why));
    }
    let reply = exchange(t, &mut conn, request, deadline)?;
    serde_json::from_slice(&reply).map_err(|e| AskError::Malformed {
        prefix: t.prefix.clone(),
        // Never the reply's own text: it may hold anything.
        why: format!("{:?} error at byte {} of its JSON", e.classify(), e.column()).to_lowercase(),
    })
}

/// How `handoff list` found a forwarder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// It answered.
    Running,
    /// Its accept queue stayed full until the deadline.
    Busy,
    /// Connected, but no whole reply before the deadline (busy with other clients, or wedged).
    NotAnswering,
    /// Nothing listens on its socket: a stopped or killed run's.
    Stopped,
    /// The client would not talk to it: a path or its server is not yours or root's.
    Refused,
    /// It answered something unusable (too large, malformed, closed).
    Failed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Busy => "busy",
            State::NotAnswering => "not answering",
            State::Stopped => "stopped",
            State::Refused => "refused",
            State::Failed => "failed",
        }
    }
}

/// One forwarder as `handoff list` shows it: what it said, or why it could not be asked.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    pub socket: PathBuf,
    pub prefix: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<u32>,
}

impl Listed {
    fn failed(t: &Target, state: State, reason: String) -> Listed {
        Listed {
            socket: t.socket.clone(),
            prefix: t.prefix.clone(),
            state,
            reason: Some(reason),
            pid: None,
            ports: None,
            uptime_seconds: None,
            tracing: None,
        }
    }
}

/// Asks one forwarder for its `info`.
fn list_one(t: &Target, deadline: &Deadline) -> Listed {
    let reply = match ask(t, &Request::Info, deadline) {
        Ok(r) => r,
        Err(e) => return Listed::failed(t, e.state(), e.to_string()),
    };
    if !reply.ok {
        let why = sanitize_field(reply.error.as_deref().unwrap_or("it refused")).into_owned();
        return Listed::failed(t, State::Failed, format!("forwarder {}: {why}", t.prefix));
    }
    match reply.json.map(serde_json::from_value::<Info>) {
        Some(Ok(info)) => Listed {
            socket: t.socket.clone(),
            prefix: t.prefix.clone(),
            state: State::Running,
            reason: None,
            pid: Some(info.pid),
            ports: Some(info.ports.iter().map(|p| sanitize_field(p).into_owned()).collect()),
            uptime_seconds: Some(info.uptime_seconds),
            tracing: Some(info.tracing),
        },
        _ => Listed::failed(t, State::Failed, format!("forwarder {} sent a malformed reply (no info)", t.prefix)),
    }
}

/// Every forwarder under this user's base, running or not, by prefix. All
/// are asked at once, so the whole list ends within one deadline (one per
/// 64 forwarders).
pub fn list(deadline: &Deadline) -> Result<Vec<Listed>> {
    let base = base();
    if !checked(&base, Kind::Dir, trust::caller_uid())? {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&base).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", base.display()))?;
    let mut targets: Vec<(Target, Option<&'static str>)> = Vec::new();
    for e in entries.flatten() {
        let socket = e.path().join(CONTROL_SOCKET);
        // Only directories that hold a control socket (of any kind) are forwarders'.
        if std::fs::symlink_metadata(&socket).is_err() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let problem = prefix_problem(&name);
        targets.push((Target { prefix: sanitize_field(&name).into_owned(), socket }, problem));
    }
    targets.sort_by(|a, b| a.0.prefix.cmp(&b.0.prefix));
    let mut listed = Vec::with_capacity(targets.len());
    // At most 64 threads at a time; past 64 forwarders each group has a deadline of its own.
    for (i, group) in targets.chunks(64).enumerate() {
        let group_deadline = if i == 0 { *deadline } else { Deadline::after(deadline.timeout) };
        let deadline = &group_deadline;
        std::thread::scope(|s| {
            let asks: Vec<_> = group
                .iter()
                .map(|(t, problem)| {
                    s.spawn(move || match problem {
                        Some(why) => Listed::failed(t, State::Refused, format!("its name {why}")),
                        None => list_one(t, deadline),
                    })
                })
                .collect();
            listed.extend(asks.into_iter().map(|a| a.join().expect("list thread")));
        });
    }
    Ok(listed)
}

/// The forwarder to ask: the one with `prefix`, or the only one running.
pub fn pick(prefix: Option<&str>, deadline: &Deadline) -> Result<Target> {
    let base = base();
    if let Some(p) = prefix {
        if let Some(why) = prefix_problem(p) {
            bail!("--file-prefix '{}' {why}", sanitize_field(p));
        }
        let t = Target { prefix: p.to_string(), socket: base.join(p).join(CONTROL_SOCKET) };
        let me = trust::caller_uid();
        let dir = base.join(p);
        for (path, kind) in [(&base, Kind::Dir), (&dir, Kind::Dir), (&t.socket, Kind::Socket)] {
            if !checked(path, kind, me)? {
                bail!(
                    "no running forwarder with prefix {p} (no {}; this user's forwarders are in {})",
                    t.socket.display(),
                    base.display()
                );
            }
        }
        return Ok(t);
    }
    let all = list(deadline)?;
    let (running, others): (Vec<Listed>, Vec<Listed>) = all.into_iter().partition(|l| l.state == State::Running);
    match running.len() {
        0 => {
            let not: Vec<String> = others.iter().map(|l| format!("{} {}", l.prefix, l.state.name())).collect();
            let tail = if not.is_empty() { format!("; could not ask: {}", not.join(", ")) } else { String::new() };
            bail!("no running forwarder found in {} (handoff list shows them){tail}", base.display())
        }
        1 => Ok(Target { prefix: running[0].prefix.clone(), socket: running[0].socket.clone() }),
        n => {
            let names: Vec<String> =
                running.iter().map(|l| format!("{} (pid {})", l.prefix, l.pid.unwrap_or_default())).collect();
            bail!("{n} forwarders are running, pick one with --file-prefix: {}", names.join(", "))
        }
    }
}

/// Asks the picked forwarder within `timeout` (the whole command); returns
/// what to print (text, or JSON pretty-printed), control characters escaped.
pub fn run(prefix: Option<&str>, request: &Request, timeout: Duration) -> Result<String> {
    let deadline = Deadline::after(timeout);
    let target = pick(prefix, &deadline)?;
    let reply = ask(&target, request, &deadline)?;
    if !reply.ok {
        bail!("{}", sanitize_field(reply.error.as_deref().unwrap_or("the forwarder refused the request")));
    }
    if let Some(mut json) = reply.json {
        trust::sanitize_json(&mut json);
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    Ok(sanitize(&reply.text.unwrap_or_default()).into_owned())
}

/// `handoff list`: prefix, pid, uptime, state and ports of each forwarder
/// (for one that could not be asked, why).
pub fn list_text(listed: &[Listed]) -> String {
    let mut out = format!("{:<32} {:>8} {:>10}  {:<13}  {}\n", "Prefix", "Pid", "Uptime(s)", "State", "Ports");
    for l in listed {
        let (pid, uptime) = match (l.pid, l.uptime_seconds) {
            (Some(p), Some(u)) => (p.to_string(), format!("{u:.1}")),
            _ => ("-".to_string(), "-".to_string()),
        };
        let last = match &l.reason {
            Some(why) => why.clone(),
            None => l.ports.as_deref().unwrap_or_default().join(","),
        };
        out.push_str(&format!("{:<32} {pid:>8} {uptime:>10}  {:<13}  {last}\n", l.prefix, l.state.name()));
    }
    out
}
