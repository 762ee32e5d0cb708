//! `handoff show|trace|clear|list`: finds running forwarders by their
//! control sockets and asks them, one JSON line each way.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::dpdk::runtime_files::{prefix_problem, runtime_base, CONTROL_SOCKET};

use super::protocol::{Info, Request, Response};

/// How long a forwarder may take to answer (a trace request waits on lcores).
const ANSWER: Duration = Duration::from_secs(5);

/// One running forwarder, as `handoff list` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Found {
    pub socket: PathBuf,
    #[serde(flatten)]
    pub info: Info,
}

/// Where runtime directories may be: root's, this user's, and EAL's fallback.
fn bases() -> Vec<PathBuf> {
    let mut b = vec![PathBuf::from("/var/run/dpdk"), runtime_base()];
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        b.push(PathBuf::from(x).join("dpdk"));
    }
    b.push(PathBuf::from("/tmp/dpdk"));
    b.sort();
    b.dedup();
    b
}

/// Sends one request on `socket`, returns the reply.
pub fn ask(socket: &Path, request: &Request) -> Result<Response> {
    let mut conn = UnixStream::connect(socket).with_context(|| format!("cannot connect to {}", socket.display()))?;
    conn.set_read_timeout(Some(ANSWER))?;
    conn.set_write_timeout(Some(ANSWER))?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    conn.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(conn).read_line(&mut reply).with_context(|| format!("no answer from {}", socket.display()))?;
    serde_json::from_str(&reply).with_context(|| format!("a bad answer from {}", socket.display()))
}

/// Every forwarder that answers, by prefix; stale sockets (a killed run) are skipped.
pub fn list() -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for base in bases() {
        let Ok(entries) = std::fs::read_dir(&base) else { continue };
        for e in entries.flatten() {
            let socket = e.path().join(CONTROL_SOCKET);
            if !socket.exists() || found.iter().any(|f| f.socket == socket) {
                continue;
            }
            let Ok(reply) = ask(&socket, &Request::Info) else { continue };
            let Some(info) = reply.json.and_then(|j| serde_json::from_value::<Info>(j).ok()) else { continue };
            found.push(Found { socket, info });
        }
    }
    found.sort_by(|a, b| a.info.prefix.cmp(&b.info.prefix));
    found
}

/// The forwarder to ask: the one with `prefix`, or the only one running.
pub fn pick(prefix: Option<&str>) -> Result<PathBuf> {
    if let Some(p) = prefix {
        if let Some(why) = prefix_problem(p) {
            bail!("--file-prefix '{p}' {why}");
        }
        return bases()
            .into_iter()
            .map(|b| b.join(p).join(CONTROL_SOCKET))
            .find(|s| s.exists())
            .ok_or_else(|| anyhow!("no running forwarder with prefix {p} (no {CONTROL_SOCKET} for it)"));
    }
    let found = list();
    match found.len() {
        0 => bail!("no running forwarder found (handoff list shows them; only their owner can reach them)"),
        1 => Ok(found[0].socket.clone()),
        _ => {
            let names: Vec<String> = found.iter().map(|f| format!("{} (pid {})", f.info.prefix, f.info.pid)).collect();
            bail!("{} forwarders are running, pick one with --file-prefix: {}", found.len(), names.join(", "))
        }
    }
}

/// Asks the picked forwarder; returns what to print (text, or JSON pretty-printed).
pub fn run(prefix: Option<&str>, request: &Request) -> Result<String> {
    let socket = pick(prefix)?;
    let reply = ask(&socket, request)?;
    if !reply.ok {
        bail!("{}", reply.error.unwrap_or_else(|| "the forwarder refused the request".into()));
    }
    if let Some(json) = reply.json {
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    Ok(reply.text.unwrap_or_default())
}

/// `handoff list`: prefix, pid, ports and uptime of each running forwarder.
pub fn list_text(found: &[Found]) -> String {
    let mut out = format!("{:<32} {:>8} {:>10}  {}\n", "Prefix", "Pid", "Uptime(s)", "Ports");
    for f in found {
        out.push_str(&format!(
            "{:<32} {:>8} {:>10.1}  {}\n",
            f.info.prefix,
            f.info.pid,
            f.info.uptime_seconds,
            f.info.ports.join(",")
        ));
    }
    out
}
