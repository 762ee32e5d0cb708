//! A mutation fuzzer for the pcap counter, on stable Rust: seed captures in
//! every format libpcap reads, mutated by a fixed-seed `fastrand`, each fed
//! to `capture_totals`. It must never panic, hang or balloon in memory, and
//! must answer totals or one line naming the file.
//!
//! About 3 s by default; `HANDOFF_FUZZ_SECS=600` runs longer and
//! `HANDOFF_FUZZ_SEED=N` changes the seed (each failure prints both).

#[path = "common/captures.rs"]
mod captures;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use captures::*;
use handoff::input::capture_totals;

fn seeds() -> Vec<(&'static str, Built)> {
    let mixed =
        || vec![Rec::full(0, 60), Rec::cut(1, 1514, 96), Rec::full(2, 342), Rec { caplen: 0, len: 60, data: vec![] }];
    vec![
        ("pcap-usec", pcap(USEC, false, 65535, &mixed())),
        ("pcap-nsec", pcap(NSEC, false, 65535, &mixed())),
        ("pcap-modified", pcap(MODIFIED, false, 65535, &mixed())),
        ("pcap-big-endian", pcap(USEC, true, 65535, &mixed())),
        ("pcap-nsec-big-endian", pcap(NSEC, true, 262144, &mixed())),
        ("pcap-snaplen-96", pcap(USEC, false, 96, &[Rec::cut(0, 1514, 96), Rec::cut(1, 60, 96), Rec::cut(2, 200, 96)])),
        ("pcapng", pcapng(false, &[(1, 0)], &[(0, Rec::full(0, 60)), (0, Rec::cut(1, 1514, 128))])),
        (
            "pcapng-two-interfaces-big-endian",
            pcapng(true, &[(1, 0), (1, 0)], &[(0, Rec::full(0, 61)), (1, Rec::full(1, 99))]),
        ),
    ]
}

/// Values that stress a length field.
const EXTREMES: [u32; 12] = [0, 1, 3, 15, 95, 96, 97, 65535, 262144, 262145, 0x7fff_ffff, 0xffff_ffff];

fn write_u32(b: &mut [u8], at: usize, big: bool, v: u32) {
    if at + 4 <= b.len() {
        b[at..at + 4].copy_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
    }
}

fn read_u32(b: &[u8], at: usize, big: bool) -> u32 {
    let w: [u8; 4] = b[at..at + 4].try_into().unwrap();
    if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn mutate(rng: &mut fastrand::Rng, seed: &Built) -> Vec<u8> {
    let mut b = seed.bytes.clone();
    let big = seed.big_endian;
    for _ in 0..rng.usize(1..=4) {
        if b.is_empty() {
            break;
        }
        match rng.u8(0..7) {
            // Flip a few bits of one byte.
            0 => {
                let i = rng.usize(..b.len());
                b[i] ^= rng.u8(1..=255);
            }
            // Cut the file anywhere.
            1 => b.truncate(rng.usize(..b.len())),
            // A length field (snaplen, caplen, orig_len, block length) set to an extreme.
            2 => {
                let at = seed.fields[rng.usize(..seed.fields.len())];
                write_u32(&mut b, at, big, EXTREMES[rng.usize(..EXTREMES.len())]);
            }
            // A length field nudged: caplen > snaplen, orig_len < caplen, off-by-ones.
            3 => {
                let at = seed.fields[rng.usize(..seed.fields.len())];
                if at + 4 <= b.len() {
                    let v = read_u32(&b, at, big);
                    let v = match rng.u8(0..4) {
                        0 => v.wrapping_add(1),
                        1 => v.wrapping_sub(1),
                        2 => v.wrapping_mul(2),
                        _ => v / 2,
                    };
                    write_u32(&mut b, at, big, v);
                }
            }
            // Random bytes inserted.
            4 => {
                let i = rng.usize(..=b.len());
                let junk: Vec<u8> = (0..rng.usize(1..32)).map(|_| rng.u8(..)).collect();
                b.splice(i..i, junk);
            }
            // A chunk duplicated (records repeated, blocks misaligned).
            5 => {
                let from = rng.usize(..b.len());
                let to = (from + rng.usize(1..64)).min(b.len());
                let chunk = b[from..to].to_vec();
                let at = rng.usize(..=b.len());
                b.splice(at..at, chunk);
            }
            // Any aligned word set to a random value.
            _ => {
                let at = rng.usize(..b.len()) & !3;
                write_u32(&mut b, at, big, rng.u32(..));
            }
        }
    }
    b
}

/// Peak resident memory of this process, from /proc.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether the case read as a capture (true) or was refused (false).
fn check(path: &Path, bytes: &[u8], what: &str) -> bool {
    std::fs::write(path, bytes).unwrap();
    match std::panic::catch_unwind(|| capture_totals(path)) {
        Err(_) => {
            let keep = path.with_extension("panicked");
            let _ = std::fs::copy(path, &keep);
            panic!("capture_totals panicked on {what}; input kept in {}", keep.display());
        }
        Ok(Ok(t)) => {
            // Every captured byte was read from the file.
            assert!(t.captured_bytes <= bytes.len() as u64, "{what}: {t:?} from {} bytes", bytes.len());
            assert!(t.truncated <= t.packets, "{what}: {t:?}");
            true
        }
        Ok(Err(e)) => {
            let line = format!("{e:#}");
            assert!(!line.contains('\n'), "{what}: error is not one line: {line}");
            assert!(line.contains(&path.display().to_string()), "{what}: error does not name the file: {line}");
            false
        }
    }
}

#[test]
fn fuzz_capture_totals() {
    let secs: f64 = std::env::var("HANDOFF_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let seed: u64 = std::env::var("HANDOFF_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2211);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.pcap");
    let (progress, seen) = mpsc::channel::<u64>();
    let budget = Duration::from_secs_f64(secs);
    let fuzzer = std::thread::spawn(move || {
        let seeds = seeds();
        // The seeds themselves must read cleanly.
        for (name, s) in &seeds {
            std::fs::write(&path, &s.bytes).unwrap();
            capture_totals(&path).unwrap_or_else(|e| panic!("seed {name} refused: {e:#}"));
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        let start = Instant::now();
        let (mut n, mut read) = (0u64, 0u64);
        while start.elapsed() < budget {
            let (name, s) = &seeds[rng.usize(..seeds.len())];
            let bytes = mutate(&mut rng, s);
            read += u64::from(check(&path, &bytes, &format!("case {n} (seed {seed}, from {name})")));
            n += 1;
            if n % 64 == 0 {
                let _ = progress.send(n);
            }
        }
        (n, read)
    });
    // A watchdog: a case that hangs fails the test instead of stalling it.
    let mut last = 0;
    while !fuzzer.is_finished() {
        match seen.recv_timeout(Duration::from_secs(20)) {
            Ok(n) => last = n,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("capture_totals hung after case {last} (seed {seed})"),
        }
    }
    let (n, read) = fuzzer.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let peak = peak_rss_kib();
    eprintln!(
        "fuzz_capture_totals: {n} cases ({read} read, {} refused) in {secs} s from seed {seed}, peak RSS {} MiB",
        n - read,
        peak / 1024
    );
    // Both paths were exercised.
    assert!(read > 0 && read < n, "{read} of {n} read");
    // libpcap caps a record's buffer by link type (256 KiB for Ethernet, at
    // most 128 MiB for D-Bus); a mutated caplen must not cost gigabytes.
    assert!(peak < 512 * 1024, "peak RSS {peak} KiB");
}
