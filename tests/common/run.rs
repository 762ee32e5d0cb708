//! One builder for the set-up every integration test repeats: the binary
//! without hugepages under a file prefix of the test's own (name + pid), a
//! bounded wait, and the checks made after it ends.
//!
//! ```ignore
//! let doc = Run::new("count").vdev("net_null0").count(1000).arg("--burst").arg("64").run_json();
//! let line = Run::new("bad").args(["--ring-size", "3"]).fails(2);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take before it is killed and the test fails.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(60);
/// How long a forwarder may take to answer on its control socket.
pub const CONTROL_WAIT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Run {
    prefix: String,
    args: Vec<String>,
    eal: Vec<String>,
    env: Vec<(String, String)>,
    json: bool,
    limit: Duration,
}

impl Run {
    /// `--no-huge --file-prefix handoff-test-<test>-<pid>` (as `eal_base`).
    pub fn new(test: &str) -> Run {
        Run {
            prefix: format!("handoff-test-{test}-{}", std::process::id()),
            args: Vec::new(),
            eal: Vec::new(),
            env: Vec::new(),
            json: false,
            limit: DEFAULT_LIMIT,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// EAL's runtime directory for this run's prefix.
    pub fn runtime_dir(&self) -> PathBuf {
        runtime_dir(&self.prefix)
    }

    pub fn arg(mut self, a: impl Into<String>) -> Run {
        self.args.push(a.into());
        self
    }

    pub fn args<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Run {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn vdev(self, v: impl Into<String>) -> Run {
        self.arg("--vdev").arg(v)
    }

    pub fn duration(self, secs: impl ToString) -> Run {
        self.arg("--duration").arg(secs.to_string())
    }

    pub fn count(self, n: u64) -> Run {
        self.arg("--count").arg(n.to_string())
    }

    pub fn trace(self, n: u32) -> Run {
        self.arg("--trace").arg(n.to_string())
    }

    pub fn output(self, o: impl Into<String>) -> Run {
        self.arg("--output").arg(o)
    }

    /// `--json` (placed before any EAL arguments after `--`).
    pub fn json(mut self) -> Run {
        self.json = true;
        self
    }

    /// EAL arguments after `--`.
    pub fn eal<S: Into<String>>(mut self, a: impl IntoIterator<Item = S>) -> Run {
        self.eal.extend(a.into_iter().map(Into::into));
        self
    }

    /// An environment variable for the child (e.g. the HANDOFF_FAULT hook).
    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long `run` waits before killing the child (and failing).
    pub fn limit(mut self, limit: Duration) -> Run {
        self.limit = limit;
        self
    }

    /// The whole command line given to handoff.
    pub fn command_line(&self) -> Vec<String> {
        let mut a = vec!["--no-huge".to_string(), "--file-prefix".to_string(), self.prefix.clone()];
        a.extend(self.args.iter().cloned());
        if self.json {
            a.push("--json".into());
        }
        if !self.eal.is_empty() {
            a.push("--".into());
            a.extend(self.eal.iter().cloned());
        }
        a
    }

    /// Starts handoff under `timeout -k`, so it cannot outlive the test even
    /// if the test dies. `--foreground`: a signal sent to the child reaches
    /// handoff once (otherwise timeout repeats it to its process group, and
    /// a second SIGINT aborts the run).
    pub fn spawn(&self) -> Child {
        Command::new("timeout")
            .args(["--foreground", "-k", "5", &self.limit.as_secs().max(1).to_string()])
            .arg(super::bin())
            .args(self.command_line())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn timeout handoff")
    }

    /// Waits for a child this run spawned (bounded: `timeout` ends it past
    /// the limit with status 124), then checks that it left nothing behind.
    pub fn wait(&self, child: Child) -> Output {
        let out = super::wait(child, self.limit + Duration::from_secs(10));
        self.assert_left_nothing();
        out
    }

    /// The forwarder's control socket.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir().join("handoff.sock")
    }

    /// Waits (bounded) until the forwarder answers `info` on its control
    /// socket; returns its pid.
    pub fn wait_for_control(&self) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(pid) = info_pid(&self.socket()) {
                return pid;
            }
            assert!(start.elapsed() < CONTROL_WAIT, "the control socket of {} never answered", self.prefix);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `handoff <client args> --file-prefix <this run's>`, bounded.
    pub fn ctl(&self, a: &[&str]) -> Output {
        let mut argv: Vec<&str> = a.to_vec();
        argv.extend(["--file-prefix", &self.prefix]);
        ctl(&argv)
    }

    /// Runs to the end (at most the limit); nothing may be left behind.
    pub fn run(&self) -> Output {
        self.wait(self.spawn())
    }

    /// Runs with `--json`, asserts success, returns the document.
    pub fn run_json(&self) -> serde_json::Value {
        let run = self.clone().json();
        let out = run.run();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "handoff {:?} failed: {:?}\nstderr:\n{stderr}", run.command_line(), out.status);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}\nstderr:\n{stderr}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Runs, asserts a clean failure (one `handoff:` line, no report),
    /// returns that line.
    pub fn one_line(&self) -> String {
        one_handoff_line(&self.run(), &format!("{:?}", self.command_line()))
    }

    /// As `one_line`, with exit status `code` (2: the command line, 1: the run).
    pub fn fails(&self, code: i32) -> String {
        let out = self.run();
        let line = one_handoff_line(&out, &format!("{:?}", self.command_line()));
        assert_eq!(out.status.code(), Some(code), "{line}");
        line
    }

    /// The runtime directory under this run's prefix is gone.
    pub fn assert_left_nothing(&self) {
        let dir = self.runtime_dir();
        assert!(std::fs::symlink_metadata(&dir).is_err(), "left behind: {}", dir.display());
    }
}

/// EAL's runtime directory for a prefix, where handoff (as this user) puts it.
pub fn runtime_dir(prefix: &str) -> PathBuf {
    handoff::dpdk::runtime_files::runtime_base().join(prefix)
}

/// A clean failure: non-zero exit, no panic, no report on stdout, and
/// exactly one `handoff:` line on stderr, which is returned.
pub fn one_handoff_line(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} should fail; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{what} panicked:\n{stderr}");
    assert!(out.stdout.is_empty(), "{what} printed a report: {}", String::from_utf8_lossy(&out.stdout));
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    assert_eq!(ours.len(), 1, "{what} should say one line, said:\n{stderr}");
    ours[0].to_string()
}

/// The pid an `info` request on `socket` answers with, if it answers.
fn info_pid(socket: &std::path::Path) -> Option<u32> {
    let conn = UnixStream::connect(socket).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    conn.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    (&conn).write_all(b"{\"cmd\":\"info\"}\n").ok()?;
    let mut line = String::new();
    BufReader::new(conn).take(1 << 20).read_line(&mut line).ok()?;
    let reply: serde_json::Value = serde_json::from_str(&line).ok()?;
    reply["json"]["pid"].as_u64().map(|p| p as u32)
}

/// A client command (`show`, `trace add`, `list`, ...), under `timeout -k`.
pub fn ctl(a: &[&str]) -> Output {
    let child = Command::new("timeout")
        .args(["-k", "5", "30"])
        .arg(super::bin())
        .args(a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn timeout handoff");
    super::wait(child, Duration::from_secs(40))
}
