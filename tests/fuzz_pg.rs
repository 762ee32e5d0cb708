//! Mutation fuzzer for the packet-generator script reader, on stable Rust.
//!
//! Seeds (the repo's script and scripts that use every keyword) are mutated
//! with a fixed-seed `fastrand`: byte flips, insertions, deletions, token
//! splices, truncations, numbers swapped for huge / negative / zero values.
//! For every input: `pg::parse_str` does not panic, each error is one line
//! naming a line of the script, and a script that parses is planned and,
//! when small, written, never past the script cap on disk and never with a
//! panic.
//!
//! About 3 s by default so CI stays fast; `HANDOFF_FUZZ_SECS=600` runs
//! longer, `HANDOFF_FUZZ_SEED=N` explores other inputs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use handoff::pg;

const DEFAULT_SECS: f64 = 3.0;
const DEFAULT_SEED: u64 = 0x5eed_f022;
/// Plans bigger than this are only planned, not written: keeps each
/// iteration to milliseconds (the product caps are tested elsewhere).
const WRITE_BUDGET: u64 = 256 << 10;
/// Failing inputs shown in the report.
const SHOW: usize = 5;

const SEEDS: &[&str] = &[
    include_str!("../dpdk-config/pg_input_script"),
    // Every stanza keyword, braces and one-line forms, comments, enable.
    "# all keywords\n\
     packet-generator new {\n\
       name full\n\
       limit 1e3\n\
       size 64-128\n\
       interface eth0\n\
       node handoffdemo-1\n\
       worker 1\n\
       rate 10k\n\
       maxframe 32\n\
       buffer-size 2048\n\
       data {\n\
         IP4: 00:01:02:03:04:05 -> 1.2.3\n\
         UDP: 192.168.1.10 -> 192.168.2.10 ttl 9 tos 0x10\n\
         UDP: 1234 -> 2345\n\
         incrementing 30\n\
       }\n\
     }\n\
     packet-generator new name oneline limit 4 size 60+90 node ethernet-input data { hex 0xdeadbeef }\n\
     packet-generator enable\n",
    // TCP with flags, random sizes, rate with M suffix, dpdk-input node.
    "packet-generator new {\n\
       name tcp\n\
       limit 16\n\
       size 80+120\n\
       rate 1.5M\n\
       node dpdk-input\n\
       interface eth1\n\
       data {\n\
         IP4: 1.2.3 -> 4.5.6\n\
         TCP: 10.0.0.1 -> 10.0.0.2 tos 4\n\
         TCP: 80 -> 8080 SYN ACK PSH FIN RST URG ECE CWR\n\
         hex 0x0102030405\n\
       }\n\
     }\n",
    // ICMP over IPv4 and IPv6, hop-limit, id / seq, glued arrows.
    "packet-generator new { name icmp4 limit 3 size 64 data {\n\
       IP: 1.2.3->4.5.6\n\
       ICMP: 1.1.1.1->2.2.2.2\n\
       ICMP echo_request id 7 seq 9\n\
       incrementing 4 } }\n\
     packet-generator new { name icmp6 size 70-72 interface eth1 data {\n\
       IP6: 1.2.3 -> 4.5.6\n\
       ICMP6: 2001:db8::1 -> 2001:db8::2 hop-limit 3\n\
       ICMP6 echo_reply id 1 seq 2 } }\n\
     packet-generator new { name udp6 limit 2 size 100-101 data {\n\
       UDP: ::1 -> ::2 hop_limit 5\n\
       UDP: 53 -> 5353 } }\n",
    // A pcap replay (file made by the harness) next to a data stream.
    "packet-generator new {\n\
       name replay\n\
       limit 7\n\
       interface eth0\n\
       node ethernet-input\n\
       pcap in.pcap\n\
     }\n\
     packet-generator new { name rest pcap in.pcap }\n\
     packet-generator new { name eth limit 2 size 20 data { IP: 1.2.3 -> 4.5.6 hex 0x4500 } }\n",
];

/// Numbers that sit on or past an edge somewhere.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-0",
    "13",
    "255",
    "256",
    "9000",
    "9001",
    "65535",
    "65536",
    "1000000",
    "1000001",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e6",
    "1e19",
    "1e308",
    "1.5",
    "0x",
    "0xffffffffffffffff",
    "nan",
    "inf",
    "-inf",
    "10k",
    "5G",
];

/// Words that steer the grammar somewhere.
const WORDS: &[&str] = &[
    "packet-generator",
    "new",
    "{",
    "}",
    "\n",
    "#",
    "->",
    "-",
    "+",
    "data",
    "limit",
    "size",
    "pcap",
    "name",
    "interface",
    "in.pcap",
    "x",
    "IP4:",
    "UDP:",
    "ICMP",
    "incrementing",
    "hex",
    "é",
    "\u{0}",
    "\r",
    "\t",
];

struct Rng(fastrand::Rng);

impl Rng {
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.0.usize(..v.len())]
    }
}

/// Byte ranges of whitespace-separated words.
fn words(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &c) in b.iter().enumerate() {
        match (c.is_ascii_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, b.len()));
    }
    out
}

/// Byte ranges of digit runs.
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let r = &mut rng.0;
    let len = input.len();
    match r.u8(..10) {
        // Flip bits of one byte.
        0 if len > 0 => {
            let i = r.usize(..len);
            input[i] ^= 1 << r.u8(..8);
        }
        // Insert random bytes.
        1 => {
            let at = r.usize(..=len);
            let n = r.usize(1..8);
            let bytes: Vec<u8> = (0..n).map(|_| r.u8(..)).collect();
            input.splice(at..at, bytes);
        }
        // Delete a range.
        2 if len > 0 => {
            let at = r.usize(..len);
            let n = r.usize(1..=(len - at).min(32));
            input.drain(at..at + n);
        }
        // Truncate.
        3 if len > 0 => input.truncate(r.usize(..len)),
        // Swap a number for an edge value.
        4 | 5 => {
            let nums = numbers(input);
            if !nums.is_empty() {
                let (s, e) = nums[r.usize(..nums.len())];
                let v = rng.pick(NUMBERS);
                input.splice(s..e, v.bytes());
            }
        }
        // Splice a word from a seed (or a grammar word) over a word.
        6 | 7 => {
            let ws = words(input);
            let word: Vec<u8> = if r.bool() {
                let seed = SEEDS[r.usize(..SEEDS.len())].as_bytes();
                let sw = words(seed);
                let (s, e) = sw[r.usize(..sw.len())];
                seed[s..e].to_vec()
            } else {
                rng.pick(WORDS).as_bytes().to_vec()
            };
            if ws.is_empty() || rng.0.bool() {
                let at = rng.0.usize(..=input.len());
                let mut w = word;
                w.push(b' ');
                input.splice(at..at, w);
            } else {
                let (s, e) = ws[rng.0.usize(..ws.len())];
                input.splice(s..e, word);
            }
        }
        // Duplicate a chunk (more stanzas, more streams on one interface).
        8 if len > 0 => {
            let at = r.usize(..len);
            let n = r.usize(1..=(len - at));
            let chunk = input[at..at + n].to_vec();
            let to = r.usize(..=len);
            input.splice(to..to, chunk);
        }
        // Join two seeds.
        _ => {
            let seed = SEEDS[r.usize(..SEEDS.len())].as_bytes();
            input.push(b'\n');
            input.extend_from_slice(seed);
        }
    }
}

/// A classic pcap with three Ethernet-sized packets, for `pcap in.pcap`.
fn tiny_pcap() -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    // The version is two u16s: 2, 4.
    b[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for (i, n) in [60u32, 70, 81].into_iter().enumerate() {
        for v in [0, i as u32, n, n] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend(std::iter::repeat(i as u8 + 1).take(n as usize));
    }
    b
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn one_line(msg: &str) -> bool {
    !msg.is_empty() && !msg.contains(['\n', '\r'])
}

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reached {
    ParseError,
    PlanError,
    Planned,
    Written,
}

/// Checks one input; returns how far it got, or what went wrong.
fn check(text: &str, base: &Path, out: &Path) -> Result<Reached, String> {
    let parsed = catch_unwind(|| pg::parse_str(text, "fuzz.pg", base)).map_err(|_| "parse_str panicked".to_string())?;
    let streams = match parsed {
        Err(e) => {
            let msg = e.to_string();
            let lines = text.lines().count().max(1);
            let line = e.line().ok_or_else(|| format!("error without a line: {msg}"))?;
            if !(1..=lines).contains(&line) {
                return Err(format!("line {line} of a {lines}-line script: {msg}"));
            }
            if !one_line(&msg) || !msg.starts_with(&format!("fuzz.pg:{line}: ")) {
                return Err(format!("badly shaped error: {msg:?}"));
            }
            return Ok(Reached::ParseError);
        }
        Ok(s) => s,
    };
    let planned = catch_unwind(AssertUnwindSafe(|| {
        pg::plan_inputs(&streams, out).map(|p| (p.bytes(), p.packets(), p.files().to_vec()))
    }))
    .map_err(|_| "plan_inputs panicked".to_string())?;
    let (bytes, packets, files) = match planned {
        Err(e) if one_line(&e.to_string()) => return Ok(Reached::PlanError),
        Err(e) => return Err(format!("badly shaped plan error: {:?}", e.to_string())),
        Ok(p) => p,
    };
    if bytes > pg::MAX_SCRIPT_BYTES || packets > pg::MAX_PACKETS_PER_SCRIPT {
        return Err(format!("plan of {packets} packets / {bytes} bytes is over the caps"));
    }
    if files.iter().map(|f| f.bytes).sum::<u64>() != bytes {
        return Err("file sizes do not add up to the plan".to_string());
    }
    if bytes > WRITE_BUDGET {
        return Ok(Reached::Planned);
    }
    let written = catch_unwind(AssertUnwindSafe(|| pg::write_inputs(&streams, out)))
        .map_err(|_| "write_inputs panicked".to_string())?;
    let on_disk: u64 = std::fs::read_dir(out)
        .map_err(|e| e.to_string())?
        .map(|e| e.and_then(|e| e.metadata()).map(|m| m.len()).unwrap_or(0))
        .sum();
    let res = match written {
        Err(e) if !one_line(&e.to_string()) => Err(format!("badly shaped write error: {:?}", e.to_string())),
        Err(_) if on_disk > 0 => Err(format!("failed write left {on_disk} bytes behind")),
        Err(_) => Ok(Reached::PlanError),
        Ok(w) if w != files => Err("written files differ from the plan".to_string()),
        Ok(_) if on_disk != bytes => Err(format!("{on_disk} bytes on disk, {bytes} planned")),
        Ok(_) => Ok(Reached::Written),
    };
    for e in std::fs::read_dir(out).map_err(|e| e.to_string())?.flatten() {
        let _ = std::fs::remove_file(e.path());
    }
    res
}

#[test]
fn fuzz_pg_scripts() {
    let secs: f64 = env_or("HANDOFF_FUZZ_SECS", DEFAULT_SECS);
    let seed: u64 = env_or("HANDOFF_FUZZ_SEED", DEFAULT_SEED);
    let budget = Duration::from_secs_f64(secs.max(0.0));
    let base = tempfile::tempdir().expect("tempdir");
    std::fs::write(base.path().join("in.pcap"), tiny_pcap()).expect("write pcap");
    let out = tempfile::tempdir().expect("tempdir");

    // The seeds themselves must be valid and must write.
    for s in SEEDS {
        pg::parse_str(s, "seed.pg", base.path()).unwrap_or_else(|e| panic!("seed does not parse: {e}"));
        let reached = check(s, base.path(), out.path()).unwrap_or_else(|e| panic!("seed: {e}"));
        assert_eq!(reached, Reached::Written, "seed:\n{s}");
    }

    // Panics are caught and reported below; keep stderr for the report.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(fastrand::Rng::with_seed(seed));
    let start = Instant::now();
    let mut runs = 0u64;
    // Inputs per Reached, in its order.
    let mut reached = [0u64; 4];
    let mut failures: Vec<(String, String)> = Vec::new();
    while start.elapsed() < budget {
        let mut input = SEEDS[rng.0.usize(..SEEDS.len())].as_bytes().to_vec();
        // Mostly one mutation, so that many inputs still parse and reach
        // planning and writing; sometimes a pile of them.
        let n = if rng.0.u8(..4) == 0 { rng.0.usize(2..=6) } else { 1 };
        for _ in 0..n {
            mutate(&mut rng, &mut input);
        }
        let text = String::from_utf8_lossy(&input);
        match check(&text, base.path(), out.path()) {
            Ok(r) => reached[r as usize] += 1,
            Err(why) => failures.push((why, text.into_owned())),
        }
        runs += 1;
    }
    std::panic::set_hook(hook);
    let [parse_err, plan_err, planned, written] = reached;
    eprintln!(
        "fuzz_pg: {runs} inputs in {:.1} s (seed {seed:#x}): {parse_err} parse errors, {plan_err} plan/write errors, \
         {planned} planned only, {written} written",
        start.elapsed().as_secs_f64()
    );
    for (why, text) in failures.iter().take(SHOW) {
        eprintln!("--- {why}\n{text:?}");
    }
    assert!(failures.is_empty(), "{} of {runs} inputs failed (first {SHOW} above)", failures.len());
    assert!(runs > 0 || budget.is_zero());
}
