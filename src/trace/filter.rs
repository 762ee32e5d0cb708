//! `--trace-filter`: a pcap-filter expression (`udp port 53`) compiled by
//! libpcap to BPF, run on each candidate packet while tracing is armed.
//!
//! libpcap's optimiser grows steeply with the expression's length (800
//! `or` terms took 12 s, 40 KB did not end in 200 s), so every compile a
//! user can ask for is bounded: at most `MAX_FILTER_BYTES`, and done on a
//! helper thread waited on for `COMPILE_DEADLINE`. A compile past it is
//! refused and its thread left detached: it ends on its own or with the
//! process, and never delays the run's end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

/// Longest filter accepted (a real one is a few dozen bytes).
pub const MAX_FILTER_BYTES: usize = 4096;
/// Longest a filter may take to compile.
pub const COMPILE_DEADLINE: Duration = Duration::from_secs(2);
/// Compile threads that may run at once, refused ones still running
/// included: a client cannot pile up detached compiles.
const MAX_COMPILING: usize = 2;

static COMPILING: AtomicUsize = AtomicUsize::new(0);

/// One of the `MAX_COMPILING` slots, given back when dropped (a panic included).
struct Compiling;

impl Compiling {
    fn take() -> Option<Compiling> {
        if COMPILING.fetch_add(1, Ordering::AcqRel) >= MAX_COMPILING {
            COMPILING.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Compiling)
    }
}

impl Drop for Compiling {
    fn drop(&mut self) {
        COMPILING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Compiles `expr` for Ethernet frames; the error is libpcap's own message.
/// Unbounded: callers with a user's expression use `compile_bounded`.
pub fn compile(expr: &str) -> Result<pcap::BpfProgram> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| anyhow!("libpcap: {e}"))?;
    dead.compile(expr, true).map_err(|e| anyhow!("bad --trace-filter '{expr}': {e}"))
}

/// `copies` compiles of `expr` (a program per rx lcore: they cannot be
/// shared), refused when too long, or when they take longer than
/// `deadline`; waited on in 100 ms slices, giving up early once `give_up`
/// says so (the run stops).
pub fn compile_bounded(
    expr: &str,
    copies: usize,
    deadline: Duration,
    give_up: &dyn Fn() -> bool,
) -> Result<Vec<pcap::BpfProgram>> {
    if expr.len() > MAX_FILTER_BYTES {
        bail!("the trace filter is {} bytes; at most {MAX_FILTER_BYTES} are accepted", expr.len());
    }
    let slot =
        Compiling::take().ok_or_else(|| anyhow!("earlier trace filters are still compiling; try again later"))?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    let owned = expr.to_string();
    std::thread::Builder::new()
        .name("handoff-filter".into())
        .spawn(move || {
            let got: Result<Vec<pcap::BpfProgram>> = (0..copies).map(|_| compile(&owned)).collect();
            drop(slot);
            // Nobody listens any more when the deadline passed: the programs go.
            let _ = tx.send(got);
        })
        .map_err(|e| anyhow!("cannot start a thread to compile the trace filter: {e}"))?;
    let start = Instant::now();
    loop {
        let slice = Duration::from_millis(100).min(deadline.saturating_sub(start.elapsed()));
        match rx.recv_timeout(slice) {
            Ok(got) => return got,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => bail!("the trace filter's compile failed"),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        if give_up() {
            bail!("the run is stopping");
        }
        if start.elapsed() >= deadline {
            bail!("the trace filter took longer than {} s to compile; simplify it", deadline.as_secs_f64());
        }
    }
}

/// `compile_bounded` for one program, with the default deadline.
pub fn check(expr: &str) -> Result<pcap::BpfProgram> {
    let mut v = compile_bounded(expr, 1, COMPILE_DEADLINE, &|| false)?;
    v.pop().ok_or_else(|| anyhow!("the trace filter's compile gave nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp(dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, dport)
            .write(&mut v, &[0; 8])
            .unwrap();
        v
    }

    #[test]
    fn matches_like_tcpdump() {
        let f = compile("udp port 53").unwrap();
        assert!(f.filter(&udp(53)));
        assert!(!f.filter(&udp(54)));
        assert!(!f.filter(&[0u8; 20]));
        assert!(!f.filter(&[]));
    }

    fn ors(n: usize) -> String {
        (0..n).map(|i| format!("udp port {}", 1000 + i)).collect::<Vec<_>>().join(" or ")
    }

    #[test]
    fn too_long_is_refused_at_once() {
        let start = Instant::now();
        let e = check(&ors(800)).err().expect("refused").to_string();
        assert_eq!(e, "the trace filter is 13596 bytes; at most 4096 are accepted");
        assert!(start.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn slow_compile_is_refused_at_the_deadline() {
        // About 150 ms here (libpcap's optimiser); refused at 20 ms.
        let slow = ors(240);
        assert!(slow.len() <= MAX_FILTER_BYTES);
        let start = Instant::now();
        let e = compile_bounded(&slow, 1, Duration::from_millis(20), &|| false).err().expect("refused").to_string();
        assert!(e.contains("took longer than 0.02 s to compile; simplify it"), "{e}");
        assert!(start.elapsed() < Duration::from_millis(120), "{:?}", start.elapsed());
        // The compile left behind ends on its own; one in time gives its copies.
        let got = compile_bounded("udp port 53", 3, COMPILE_DEADLINE, &|| false).expect("compiles");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = compile("udp prot 53").err().expect("a syntax error").to_string();
        assert!(e.contains("bad --trace-filter 'udp prot 53'"), "{e}");
    }
}
