//! Trust, as a table: every hostile or careless command line the trust
//! issue found, and the ones found fixing it. Each row runs the binary and
//! asserts the exit code, the one `handoff:` line, that no file outside the
//! run's own was touched (a snapshot of a sandbox tree holding inputs,
//! outputs and a "victim" directory), that the run's runtime directory is
//! gone, and, for runs that go, conservation.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

/// Files under `root`: kind, size, mode and a content hash, by path.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let desc = if meta.is_dir() {
                stack.push(e.path());
                format!("dir {:o}", meta.mode())
            } else if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(e.path()).unwrap().display())
            } else {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                let hash = bytes
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
                format!("file {:o} {} {hash:x}", meta.mode(), meta.len())
            };
            out.insert(e.path(), desc);
        }
    }
    out
}

/// A sandbox: an input capture, an existing output, a victim tree.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        write_pcap(&dir.path().join("in.pcap"), &random_packets(20, 3));
        write_pcap(&dir.path().join("existing.pcap"), &random_packets(3, 4));
        std::fs::create_dir_all(dir.path().join("victim/sub")).unwrap();
        std::fs::write(dir.path().join("victim/sub/precious"), b"do not delete").unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

fn runtime_dir(prefix: &str) -> PathBuf {
    PathBuf::from("/var/run/dpdk").join(prefix)
}

/// One row: arguments (with `{S}` for the sandbox), the exit code, and what
/// the one `handoff:` line says (all of the pieces) when it fails.
struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    says: &'static [&'static str],
    /// Sandbox paths the run may change (relative).
    writes: &'static [&'static str],
}

fn case(name: &'static str, a: &[&str], code: i32, says: &'static [&'static str]) -> Case {
    Case { name, args: args(a), code, says, writes: &[] }
}

fn run_case(sb: &Sandbox, c: &Case) -> Output {
    // Numbered, not named: a prefix is at most 48 characters.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prefix = format!("handoff-test-trust{n}-{}", std::process::id());
    let mut a: Vec<String> = c.args.iter().map(|x| x.replace("{S}", &sb.path(""))).collect();
    // A case that sets its own prefix or EAL arguments keeps them; others get a unique prefix.
    if !a.iter().any(|x| x.contains("file-pre") || x == "--eal-config") {
        let at = a.iter().position(|x| x == "--").unwrap_or(a.len());
        a.splice(at..at, ["--file-prefix".to_string(), prefix.clone()]);
    }
    // Hugepages only where the case is about them.
    if !a.iter().any(|x| x == "--pg" || x == "--huge-dir") {
        a.insert(0, "--no-huge".into());
    }
    let before = snapshot(sb.dir.path());
    let child = spawn_env(&a, &[("TMPDIR", &sb.path("tmp"))]);
    let pid = child.id();
    let out = wait(child, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let what = format!("case {} ({a:?})\nstderr:\n{stderr}", c.name);
    assert_eq!(out.status.code(), Some(c.code), "{what}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{what}");
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    if c.code != 0 {
        assert_eq!(ours.len(), 1, "one line: {what}");
        for piece in c.says {
            assert!(ours[0].contains(piece), "the line should say {piece:?}: {what}");
        }
        assert!(!stderr.contains("Usage:"), "no EAL usage text: {what}");
    }
    // Nothing of the user's changed, apart from what the case writes.
    let mut after = snapshot(sb.dir.path());
    let mut before = before;
    for w in c.writes {
        let p = sb.dir.path().join(w);
        after.remove(&p);
        before.remove(&p);
    }
    assert_eq!(before, after, "files outside the run's own changed: {what}");
    assert!(std::fs::read_dir(sb.path("tmp")).unwrap().next().is_none(), "temporary files left in TMPDIR: {what}");
    for p in [prefix, format!("handoff-{pid}")] {
        assert!(!runtime_dir(&p).exists(), "runtime dir {p} left behind: {what}");
    }
    out
}

#[test]
fn hostile_and_careless_command_lines() {
    let _g = serial();
    let sb = Sandbox::new();
    let profile = sb.path("traversal.eal");
    std::fs::write(&profile, "--file-prefix ../../../tmp/x\n").unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose = sb.path("loose.eal");
    std::fs::write(&loose, "--vdev net_null0\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::create_dir(sb.path("notmounted")).unwrap();
    let victim = format!("../../..{}", sb.path("victim"));
    let bare = sb.path("bare-prefix.eal");
    std::fs::write(&bare, "--vdev net_null0\n--file-prefix\n").unwrap();
    std::fs::set_permissions(&bare, std::fs::Permissions::from_mode(0o644)).unwrap();
    let seed = repo().join("dpdk-config/pg_input_script").to_string_lossy().into_owned();
    let many: Vec<String> = (0..40).flat_map(|i| ["--vdev".to_string(), format!("net_null{i}")]).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let in_pcap = "net_pcap0,rx_pcap={S}/in.pcap";
    let cases = vec![
        // 1. Runtime files: the prefix is one safe path component, from wherever it comes.
        case(
            "prefix-traversal",
            &["--vdev", "net_null0", "--file-prefix", &victim],
            2,
            &["--file-prefix", "one path component"],
        ),
        case("prefix-dot", &["--vdev", "net_null0", "--file-prefix", "."], 2, &["--file-prefix '.'"]),
        case("prefix-dotdot", &["--vdev", "net_null0", "--file-prefix", ".."], 2, &["--file-prefix '..'"]),
        case("prefix-empty", &["--vdev", "net_null0", "--file-prefix", ""], 2, &["is empty"]),
        case("prefix-long", &["--vdev", "net_null0", "--file-prefix", &"p".repeat(200)], 2, &["longer than"]),
        case(
            "prefix-in-profile",
            &["--eal-config", &profile, "--vdev", "net_null0"],
            2,
            &["--file-prefix", "../../../tmp/x"],
        ),
        case("prefix-after-dashdash", &["--vdev", "net_null0", "--", "--file-prefix=.."], 2, &["--file-prefix '..'"]),
        case(
            "prefix-abbreviated",
            &["--vdev", "net_null0", "--", "--file-pre=.."],
            2,
            &["abbreviated", "--file-prefix"],
        ),
        case(
            "secondary",
            &["--vdev", "net_null0", "--", "--proc-type", "secondary"],
            2,
            &["--proc-type secondary", "primary"],
        ),
        case("auto", &["--vdev", "net_null0", "--", "--proc-type=auto"], 2, &["--proc-type auto"]),
        case("proc-abbreviated", &["--vdev", "net_null0", "--", "--proc=secondary"], 2, &["abbreviated"]),
        // 6. Bounded numbers: out of range is exit 2 and one line, before EAL.
        case("duration-huge", &["--vdev", "net_null0", "--duration", "1e20"], 2, &["--duration", "31536000"]),
        case("duration-nan", &["--vdev", "net_null0", "--duration", "NaN"], 2, &["--duration"]),
        case("interval-huge", &["--vdev", "net_null0", "--stats-interval", "1e20"], 2, &["--stats-interval"]),
        case("interval-tiny", &["--vdev", "net_null0", "--stats-interval", "0.001"], 2, &["--stats-interval"]),
        case("count-zero", &["--vdev", "net_null0", "--count", "0"], 2, &["--count"]),
        case("ring-huge", &["--vdev", "net_null0", "--ring-size", "33554432"], 2, &["--ring-size", "16777216"]),
        case("mbufs-huge", &["--vdev", "net_null0", "--mbufs", "4000000000"], 2, &["--mbufs"]),
        case("desc-zero", &["--vdev", "net_null0", "--rx-desc", "0"], 2, &["--rx-desc"]),
        case("mbuf-size-tiny", &["--vdev", "net_null0", "--mbuf-size", "128"], 2, &["--mbuf-size"]),
        case("max-pkt-len-huge", &["--vdev", "net_null0", "--max-pkt-len", "65536"], 2, &["--max-pkt-len"]),
        case("trace-huge", &["--vdev", "net_null0", "--trace", "100001"], 2, &["--trace"]),
        case("memory-zero", &["--vdev", "net_null0", "-m", "0"], 2, &["-m"]),
        case(
            "lcore-huge",
            &["--vdev", "net_null0", "--worker-lcores", "4096"],
            2,
            &["--worker-lcores", "RTE_MAX_LCORE"],
        ),
        case("eal-lcore-huge", &["--vdev", "net_null0", "-l", "0-300"], 2, &["RTE_MAX_LCORE"]),
        case("main-lcore-huge", &["--vdev", "net_null0", "--", "--main-lcore", "5000"], 2, &["--main-lcore"]),
        // 5. One file is never both read and written.
        case("rx-is-tx", &["--vdev", "net_pcap0,rx_pcap={S}/in.pcap,tx_pcap={S}/in.pcap"], 2, &["in.pcap", "destroy"]),
        case(
            "pcapng-is-input",
            &["--vdev", in_pcap, "--trace", "2", "--trace-pcapng", "{S}/in.pcap"],
            2,
            &["--trace-pcapng", "destroy"],
        ),
        case(
            "two-writers",
            &["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap={S}/o.pcap", "--vdev", "net_pcap2,tx_pcap={S}/./o.pcap"],
            2,
            &["both write"],
        ),
        // 2. Outputs: refused before EAL, existing files untouched by a failed run.
        case(
            "pcapng-dir",
            &["--vdev", in_pcap, "--trace", "2", "--trace-pcapng", "{S}/victim"],
            1,
            &["is a directory"],
        ),
        case(
            "pcapng-nodir",
            &["--vdev", in_pcap, "--trace", "2", "--trace-pcapng", "{S}/nope/t.pcapng"],
            1,
            &["does not exist"],
        ),
        case("tx-dir", &["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap={S}/victim"], 1, &["is a directory"]),
        case(
            "output-typo",
            &["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap={S}/existing.pcap", "--output", "net_pcap7"],
            2,
            &["unknown port 'net_pcap7'", "net_pcap1"],
        ),
        case(
            "output-id-out-of-range",
            &["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap={S}/existing.pcap", "--output", "9"],
            2,
            &["--output 9"],
        ),
        case(
            "too-few-queues",
            &[
                "--vdev",
                in_pcap,
                "--vdev",
                "net_pcap1,tx_pcap={S}/existing.pcap",
                "--output",
                "net_pcap1",
                "--worker-lcores",
                "2,3",
            ],
            1,
            &["net_pcap1", "2 tx are needed"],
        ),
        // 5. Every named device comes up, or the run does not start.
        case("duplicate-vdev", &["--vdev", "net_null0", "--vdev", "net_null0"], 2, &["net_null0", "named twice"]),
        case("too-many-ports", &many, 2, &["RTE_MAX_ETHPORTS"]),
        case(
            "probe-fails",
            &["--vdev", "net_pcap0,iface=handoffnosuch0"],
            1,
            &["net_pcap0 did not come up", "handoffnosuch0"],
        ),
        case(
            "probe-fails-af-packet",
            &["--vdev", "net_af_packet0,iface=handoffnosuch0"],
            1,
            &["net_af_packet0 did not come up"],
        ),
        // 9. Messages: EAL's real reason, no usage dump.
        case("eal-bad-option", &["--vdev", "net_null0", "--", "--no-such-eal-option"], 1, &["EAL cannot start"]),
        case(
            "eal-no-hugepages",
            &["--vdev", "net_null0", "--", "--huge-dir", "{S}/notmounted"],
            1,
            &["EAL cannot start", "--no-huge"],
        ),
        // 4. A device that refuses writes is a loss too: the relay sees it.
        case(
            "tx-dev-full",
            &["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap=/dev/full", "--output", "net_pcap1"],
            1,
            &["conservation check failed", "/dev/full", "No space left"],
        ),
        // 10. A profile others can write could load code: refused like a loose ssh key.
        case("loose-profile", &["--eal-config", &loose], 1, &["writable by others", "chmod go-w"]),
        // Issue 13: profile and command-line words never run into each other.
        case(
            "profile-bare-prefix",
            &["--eal-config", &bare, "--vdev", "net_null1"],
            2,
            &["bare-prefix.eal", "--file-prefix needs a value", "last word"],
        ),
        case(
            "dashdash-bare-prefix",
            &["--vdev", "net_null0", "--", "--file-prefix"],
            2,
            &["after --", "--file-prefix needs a value"],
        ),
        // Issue 13: EAL flags that conflict with --no-huge name the user's flag, not --legacy-mem.
        case("in-memory-no-huge", &["--vdev", "net_null0", "--in-memory"], 2, &["--in-memory", "with --no-huge"]),
        case("in-memory-pg", &["--pg", &seed, "--in-memory"], 2, &["--in-memory", "--pg"]),
        case("socket-mem-no-huge", &["--vdev", "net_null0", "--", "--socket-mem", "64"], 2, &["--socket-mem"]),
        case("json-show", &["--vdev", "net_null0", "--json", "--show", "errors"], 2, &["--show", "--json"]),
        // Runs that go: outputs into devices, generated inputs named apart from the user's.
        Case {
            name: "pcapng-dev-null",
            args: args(&["--vdev", in_pcap, "--trace", "3", "--trace-pcapng", "/dev/null"]),
            code: 0,
            says: &[],
            writes: &[],
        },
        Case {
            name: "tx-dev-null",
            args: args(&["--vdev", in_pcap, "--vdev", "net_pcap1,tx_pcap=/dev/null", "--output", "net_pcap1"]),
            code: 0,
            says: &[],
            writes: &[],
        },
        Case {
            name: "pg-beside-user-vdev",
            args: args(&[
                "--pg",
                &repo().join("dpdk-config/pg_input_script").to_string_lossy(),
                "--vdev",
                "net_pcap0,tx_pcap={S}/pg-out.pcap",
                "--output",
                "net_pcap0",
            ]),
            code: 0,
            says: &[],
            writes: &["pg-out.pcap"],
        },
    ];
    for c in &cases {
        let out = run_case(&sb, c);
        if c.code == 0 {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("handoffdemo-1"), "case {} printed its report:\n{text}", c.name);
        }
    }
    assert_eq!(read_pcap(Path::new(&sb.path("pg-out.pcap"))).len(), 5, "the seed's 5 packets left by the user's port");
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null is still a device");
}

/// `--trace-pcapng -` writes the capture to stdout (the report goes to
/// stderr), and a symlink to a device is written into, not replaced.
#[test]
fn trace_pcapng_into_stdout_and_symlinks() {
    let _g = serial();
    let sb = Sandbox::new();
    let c = Case {
        name: "pcapng-stdout",
        args: args(&["--vdev", "net_pcap0,rx_pcap={S}/in.pcap", "--trace", "4", "--trace-pcapng", "-"]),
        code: 0,
        says: &[],
        writes: &[],
    };
    let out = run_case(&sb, &c);
    assert_eq!(&out.stdout[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "stdout is a pcapng section header");
    assert!(String::from_utf8_lossy(&out.stderr).contains("handoffdemo-1"), "the report went to stderr");

    std::os::unix::fs::symlink("/dev/null", sb.dir.path().join("null-link")).unwrap();
    let c = Case {
        name: "pcapng-link",
        args: args(&["--vdev", "net_pcap0,rx_pcap={S}/in.pcap", "--trace", "4", "--trace-pcapng", "{S}/null-link"]),
        code: 0,
        says: &[],
        writes: &[],
    };
    run_case(&sb, &c);
    assert!(std::fs::symlink_metadata(sb.path("null-link")).unwrap().file_type().is_symlink());

    // A regular file is replaced atomically, and keeps its mode.
    let target = sb.path("trace.pcapng");
    std::fs::write(&target, b"old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let c = Case {
        name: "pcapng-replace",
        args: args(&["--vdev", "net_pcap0,rx_pcap={S}/in.pcap", "--trace", "4", "--trace-pcapng", "{S}/trace.pcapng"]),
        code: 0,
        says: &[],
        writes: &["trace.pcapng"],
    };
    run_case(&sb, &c);
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!(&std::fs::read(&target).unwrap()[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
}

/// Trust item 3: A file is not a wire: pcap to pcap is complete and in order by default,
/// whatever the ring size; VPP's drop is there when asked for.
#[test]
fn a_large_capture_forwarded_to_a_file_arrives_complete_and_in_order() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.pcap");
    let packets: Vec<Vec<u8>> = (0..200_000u32)
        .map(|i| {
            let mut p = vec![0u8; 64];
            p[12] = 0x08;
            p[60..64].copy_from_slice(&i.to_be_bytes());
            p
        })
        .collect();
    write_pcap(&input, &packets);
    let output = dir.path().join("out.pcap");
    let mut a = eal_base("bigfwd");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={}", input.display()),
        "--vdev",
        &format!("net_pcap1,tx_pcap={}", output.display()),
        "--output",
        "net_pcap1",
        "--ring-size",
        "64",
    ]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["transmitted"], 200_000);
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0);
    let files = doc["conservation"]["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["ok"] == true) && files.len() == 2, "{files:?}");
    let got = read_pcap(&output);
    assert_eq!(got.len(), 200_000);
    assert!(got.iter().zip(&packets).all(|(a, b)| a == b), "every packet, in order");

    // Asked for, VPP's drop-on-congestion counts its drops and still conserves.
    let mut a = eal_base("bigdrop");
    a.extend(args(&[
        "--vdev",
        &format!("net_pcap0,rx_pcap={}", input.display()),
        "--ring-size",
        "16",
        "--drop-on-congestion",
    ]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    let handed = error_count(&doc, 1, "packets handed off processed");
    let dropped = error_count(&doc, 1, "handoff queue congestion drops");
    assert_eq!(handed + dropped, 200_000);
}

/// Trust item 4: Every loss is loud: frames cut at net_pcap's snaplen, and a tx_pcap on
/// a full file system, fail the run with a line naming the file and cause.
#[test]
fn short_tx_files_fail_the_run() {
    let _g = serial();
    let sb = Sandbox::new();
    let mut big = random_packets(3, 5);
    let mut jumbo = big[0].clone();
    jumbo.resize(17_000, 0xab);
    big.push(jumbo);
    write_pcap(Path::new(&sb.path("jumbo.pcap")), &big);
    let c = Case {
        name: "snaplen",
        args: args(&[
            "--vdev",
            "net_pcap0,rx_pcap={S}/jumbo.pcap",
            "--vdev",
            "net_pcap1,tx_pcap={S}/cut.pcap",
            "--output",
            "net_pcap1",
            "--json",
        ]),
        code: 1,
        says: &["conservation check failed", "cut.pcap", "snaplen"],
        writes: &["cut.pcap"],
    };
    let out = run_case(&sb, &c);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["conservation"]["ok"], false);

    // A 64 KiB file system for a 20-packet capture of up to 1.5 KB frames.
    let full = sb.dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&full)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mounting a tmpfs needs root, as CI runs");
    let c = Case {
        name: "disk-full",
        args: args(&[
            "--vdev",
            "net_pcap0,rx_pcap={S}/in.pcap",
            "--vdev",
            "net_pcap1,tx_pcap={S}/full/out.pcap",
            "--output",
            "net_pcap1",
        ]),
        code: 1,
        says: &["conservation check failed", "out.pcap", "full"],
        writes: &["full/out.pcap"],
    };
    let result = std::panic::catch_unwind(|| run_case(&sb, &c));
    let _ = std::process::Command::new("umount").arg(&full).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Trust items 8 and 10: SIGHUP stops gracefully; a second signal aborts at once and
/// still removes the runtime directory and the generated pg inputs.
#[test]
fn signals_stop_gracefully_and_aborts_clean_up() {
    let _g = serial();
    let sb = Sandbox::new();
    let prefix = format!("handoff-test-trust-hup-{}", std::process::id());
    let child = spawn(&args(&["--no-huge", "--file-prefix", &prefix, "--vdev", "net_null0", "--json"]));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(runtime_dir(&prefix).exists(), "EAL made its runtime dir");
    kill("-HUP", child.id());
    let out = wait(child, Duration::from_secs(30));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stopped_by"], "signal");
    assert_eq!(doc["signal"], "SIGHUP");
    assert_conserved(&doc);
    assert!(!runtime_dir(&prefix).exists());

    // An endless pg stream keeps the run going until the signals.
    let script = sb.path("endless.pg");
    std::fs::write(&script, "packet-generator new {\n  name x\n  size 64-64\n  data { incrementing 30 }\n}\n").unwrap();
    let prefix = format!("handoff-test-trust-abort-{}", std::process::id());
    let child =
        spawn_env(&args(&["--pg", &script, "--file-prefix", &prefix, "--json"]), &[("TMPDIR", &sb.path("tmp"))]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(std::fs::read_dir(sb.path("tmp")).unwrap().next().is_some(), "the pg input is being read");
    kill("-INT", child.id());
    kill("-INT", child.id());
    let out = wait(child, Duration::from_secs(30));
    let code = out.status.code();
    assert!(code == Some(130) || code == Some(0), "aborted or finished: {code:?}");
    assert!(!runtime_dir(&prefix).exists(), "abort left the runtime dir");
    assert!(std::fs::read_dir(sb.path("tmp")).unwrap().next().is_none(), "abort left the pg input");
}

fn kill(signal: &str, pid: u32) {
    assert!(std::process::Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
}

/// Trust item 6: A panic after launch stops the lcores: the process exits non-zero
/// within a second or two on a live input with no limit.
#[test]
#[cfg_attr(not(feature = "fault-injection"), ignore = "needs --features fault-injection (scripts/test.sh)")]
fn a_panic_after_launch_ends_the_run_promptly() {
    let _g = serial();
    let mut a = eal_base("trustpanic");
    a.extend(args(&["--vdev", "net_null0"]));
    let start = Instant::now();
    let out = wait(spawn_env(&a, &[("HANDOFF_FAULT", "panic-worker")]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

/// Trust items 1 and 2: a secondary is refused without touching a running primary; a
/// second primary on the same prefix fails with EAL's reason and leaves the
/// first one's runtime files alone.
#[test]
fn a_running_primary_is_left_alone() {
    let _g = serial();
    let prefix = format!("handoff-test-trust-primary-{}", std::process::id());
    let primary =
        spawn(&args(&["--no-huge", "--file-prefix", &prefix, "--vdev", "net_null0", "--duration", "4", "--json"]));
    let config = runtime_dir(&prefix).join("config");
    let start = Instant::now();
    while !config.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(config.exists(), "the primary is up");
    for (extra, code, says) in
        [(&["--", "--proc-type", "secondary"][..], 2, "primary process"), (&[][..], 1, "another primary")]
    {
        let mut a = args(&["--no-huge", "--file-prefix", &prefix, "--vdev", "net_null1", "--duration", "1"]);
        a.extend(args(extra));
        let out = run(&a);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.lines().any(|l| l.starts_with("handoff:") && l.contains(says)), "{stderr}");
        assert!(config.exists(), "the primary's runtime files are intact after {extra:?}");
    }
    let out = wait(primary, Duration::from_secs(30));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_conserved(&serde_json::from_slice(&out.stdout).unwrap());
    assert!(!runtime_dir(&prefix).exists());
}

/// Trust item 1: Runtime dirs of handoff processes that are gone are reclaimed at
/// start; those of live processes, and anything not EAL's, are kept.
#[test]
fn stale_runtime_dirs_of_dead_processes_are_reclaimed() {
    let _g = serial();
    // A pid that no process has: the highest one not in /proc, below pid_max.
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let dead = (1..max).rev().find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap();
    let dead_dir = runtime_dir(&format!("handoff-{dead}"));
    let live_dir = runtime_dir(&format!("handoff-{}", std::process::id()));
    for d in [&dead_dir, &live_dir] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("config"), [0u8; 64]).unwrap();
        std::fs::write(d.join("fbarray_memzone"), [0u8; 64]).unwrap();
    }
    let mut a = eal_base("reclaim");
    a.extend(args(&["--vdev", "net_null0", "--count", "100"]));
    let doc = run_json(&a);
    assert_conserved(&doc);
    let dead_gone = !dead_dir.exists();
    let live_kept = live_dir.join("config").exists();
    let _ = std::fs::remove_dir_all(&live_dir);
    let _ = std::fs::remove_dir_all(&dead_dir);
    assert!(dead_gone, "the dead process's runtime dir was reclaimed");
    assert!(live_kept, "a live process's runtime dir was kept");
}

/// Issue 13: output that cannot hang or panic a run, FIFOs without a reader,
/// dead runs' relay directories, second signals. Each asserts the exit code,
/// the line, the time taken and that nothing was left behind.
mod robust {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    fn ours(out: &Output) -> Vec<String> {
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("handoff:")).map(String::from).collect()
    }

    fn prefix(name: &str) -> String {
        format!("handoff-test-robust-{name}-{}", std::process::id())
    }

    /// A stderr pipe whose reader goes away after one line: the stats stop,
    /// the run ends on --duration with its report on stdout, exit 0.
    #[test]
    fn a_closed_stderr_pipe_does_not_hold_the_run() {
        let _g = serial();
        let p = prefix("epipe");
        let a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--duration", "3"]);
        let start = Instant::now();
        let mut child = Command::new(bin())
            .args(&a)
            .args(["--stats-interval", "0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with("handoff: rx"), "a stats line first: {first}");
        // The reader (and so the pipe) is gone here.
        let out = wait(child, Duration::from_secs(30));
        let took = start.elapsed();
        assert_eq!(out.status.code(), Some(0));
        assert!(took < Duration::from_secs(15), "took {took:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("handoffdemo-1"), "the report is on stdout");
        assert!(!runtime_dir(&p).exists(), "runtime dir left behind");
    }

    /// A panic on thread 0 while the lcores run: they are told to stop before
    /// anything waits for them, so the process ends at once and cleans up.
    #[test]
    #[cfg_attr(not(feature = "fault-injection"), ignore = "needs --features fault-injection (scripts/test.sh)")]
    fn a_panic_on_thread_0_stops_the_lcores() {
        let _g = serial();
        let p = prefix("panic0");
        let start = Instant::now();
        let a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0"]);
        let out = wait(spawn_env(&a, &[("HANDOFF_FAULT", "panic-control")]), Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(101), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        assert!(!runtime_dir(&p).exists(), "runtime dir left behind");
    }

    /// Stdout closed (`>&-`): the report is lost, so the run exits 1 and says so.
    #[test]
    fn a_closed_stdout_loses_the_report_and_fails() {
        let _g = serial();
        let p = prefix("closed");
        let start = Instant::now();
        let child = Command::new("sh")
            .args(["-c", "exec \"$0\" \"$@\" >&-"])
            .arg(bin())
            .args(["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--count", "1000"])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait(child, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let lines = ours(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("report is lost") && lines[0].contains("stdout is closed"), "{lines:?}");
        assert!(start.elapsed() < Duration::from_secs(30));
        assert!(!runtime_dir(&p).exists(), "runtime dir left behind");
        // Stdout redirected to /dev/null by the user is not closed: exit 0.
        let mut a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--count", "1000"]);
        a.extend(args(&["--show", "errors,errors"]));
        let out = run(&a);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("Reason").count(), 1, "--show errors,errors prints it once:\n{text}");
        let lines = ours(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("handoff: conservation ok: 1000 received = 0 transmitted + 1000 dropped, 0 in flight")
        );
    }

    /// `--output 0:0` reflects port 0's traffic: a warning says so; the run goes.
    #[test]
    fn a_pair_of_one_port_warns() {
        let _g = serial();
        let sb = Sandbox::new();
        let c = case("pair-reflects", &["--vdev", "net_null0", "--count", "100", "--output", "0:0"], 0, &[]);
        let out = run_case(&sb, &c);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("0:0") && stderr.contains("reflects its own traffic"), "{stderr}");
    }

    /// A tx_pcap FIFO nobody reads: a line says the run waits, --duration
    /// bounds the wait (exit 1), and so does SIGINT; nothing is left behind.
    #[test]
    fn a_fifo_without_a_reader_is_waited_for_within_bounds() {
        let _g = serial();
        let sb = Sandbox::new();
        let fifo = sb.path("out.fifo");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let p = prefix("fifo");
        let tx = format!("net_pcap1,tx_pcap={fifo}");
        let base = ["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--vdev", &tx, "--output", "net_pcap1"];
        let tmp = sb.path("tmp");
        let start = Instant::now();
        let mut a = args(&base);
        a.extend(args(&["--duration", "2"]));
        let out = wait(spawn_env(&a, &[("TMPDIR", &tmp)]), Duration::from_secs(30));
        let took = start.elapsed();
        let lines = ours(&out);
        assert_eq!(out.status.code(), Some(1), "{lines:?}");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("waiting for a reader on FIFO") && lines[0].contains("out.fifo"), "{lines:?}");
        assert!(lines[1].contains("no reader opened FIFO") && lines[1].contains("--duration"), "{lines:?}");
        assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "took {took:?}");

        let child = spawn_env(&args(&base), &[("TMPDIR", &tmp)]);
        std::thread::sleep(Duration::from_millis(1000));
        let start = Instant::now();
        kill("-INT", child.id());
        let out = wait(child, Duration::from_secs(30));
        let lines = ours(&out);
        assert_eq!(out.status.code(), Some(1), "{lines:?}");
        assert!(lines.last().unwrap().contains("stopped by SIGINT while waiting for a reader"), "{lines:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert!(std::fs::read_dir(&tmp).unwrap().next().is_none(), "temporary files left");
        assert!(!runtime_dir(&p).exists(), "runtime dir left behind");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still the user's FIFO");
    }

    /// Relay directories of dead runs are reclaimed at start; a live run's,
    /// a symlink and a directory holding anything else are not.
    #[test]
    fn stale_relay_dirs_of_dead_runs_are_reclaimed() {
        let _g = serial();
        let sb = Sandbox::new();
        let tmp = PathBuf::from(sb.path("tmp"));
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
        let dead = (1..max).rev().find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap();
        let dead_dir = tmp.join(format!("handoff-relay-{dead}"));
        let dead_dir2 = tmp.join(format!("handoff-relay-{dead}-abc123"));
        let live_dir = tmp.join(format!("handoff-relay-{}-abc123", std::process::id()));
        let busy_dir = tmp.join(format!("handoff-relay-{dead}-busy"));
        let link = tmp.join(format!("handoff-relay-{dead}-link"));
        for d in [&dead_dir, &dead_dir2, &live_dir, &busy_dir] {
            std::fs::create_dir(d).unwrap();
            assert!(Command::new("mkfifo").arg(d.join("tx.fifo")).status().unwrap().success());
        }
        std::fs::write(busy_dir.join("other"), b"x").unwrap();
        std::os::unix::fs::symlink(sb.path("victim"), &link).unwrap();
        let victim = snapshot(Path::new(&sb.path("victim")));
        let p = prefix("relay");
        let a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--count", "100"]);
        let out = wait(spawn_env(&a, &[("TMPDIR", tmp.to_str().unwrap())]), Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!dead_dir.exists() && !dead_dir2.exists(), "dead runs' relay dirs reclaimed");
        assert!(live_dir.join("tx.fifo").exists(), "a live run's relay dir kept");
        assert!(busy_dir.join("other").exists(), "a dir holding more than the FIFO kept");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "a symlink is not followed");
        assert_eq!(victim, snapshot(Path::new(&sb.path("victim"))), "the symlink's target untouched");
        assert!(!runtime_dir(&p).exists());
    }

    /// Input directories of dead runs (generated pg pcaps, Ethernet copies)
    /// are reclaimed at start; a live run's, a symlink and a directory
    /// holding a subdirectory are not.
    #[test]
    fn dead_runs_input_dirs_are_reclaimed() {
        let _g = serial();
        let sb = Sandbox::new();
        let tmp = PathBuf::from(sb.path("tmp"));
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
        let dead = (1..max).rev().find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap();
        let pg = tmp.join(format!("handoff-pg-{dead}-abc123"));
        let eth = tmp.join(format!("handoff-ethernet-{dead}-xyz789"));
        let live = tmp.join(format!("handoff-pg-{}-abc123", std::process::id()));
        let nested = tmp.join(format!("handoff-pg-{dead}-nested"));
        let link = tmp.join(format!("handoff-ethernet-{dead}-link"));
        for d in [&pg, &eth, &live, &nested] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("pg-0-eth0.pcap"), vec![0u8; 4096]).unwrap();
        }
        std::fs::create_dir(nested.join("sub")).unwrap();
        std::os::unix::fs::symlink(sb.path("victim"), &link).unwrap();
        let victim = snapshot(Path::new(&sb.path("victim")));
        let p = prefix("inputdirs");
        let a = args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0", "--count", "100"]);
        let start = std::time::Instant::now();
        let out = wait(spawn_env(&a, &[("TMPDIR", tmp.to_str().unwrap())]), Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(start.elapsed() < Duration::from_secs(30));
        assert!(!pg.exists() && !eth.exists(), "dead runs' input dirs reclaimed");
        assert!(live.join("pg-0-eth0.pcap").exists(), "a live run's input dir kept");
        assert!(nested.join("sub").exists(), "a dir holding a subdirectory kept");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "a symlink is not followed");
        assert_eq!(victim, snapshot(Path::new(&sb.path("victim"))), "the symlink's target untouched");
        assert!(!runtime_dir(&p).exists());
        let _ = std::fs::remove_dir_all(&live);
        let _ = std::fs::remove_dir_all(&nested);
    }

    /// Two signals: "aborting" always comes with 128+n, and without it the
    /// run ended normally (exit 0, report); never "aborting" with 0.
    #[test]
    fn a_second_signal_exits_128_plus_n() {
        let _g = serial();
        for gap_ms in [0u64, 2, 10, 30] {
            let p = prefix(&format!("twice{gap_ms}"));
            let child = spawn(&args(&["--no-huge", "--file-prefix", &p, "--vdev", "net_null0"]));
            std::thread::sleep(Duration::from_millis(1500));
            let start = Instant::now();
            kill("-INT", child.id());
            std::thread::sleep(Duration::from_millis(gap_ms));
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let out = wait(child, Duration::from_secs(30));
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("aborting") {
                assert_eq!(out.status.code(), Some(130), "gap {gap_ms} ms:\n{stderr}");
            } else {
                assert_eq!(out.status.code(), Some(0), "gap {gap_ms} ms:\n{stderr}");
                assert!(String::from_utf8_lossy(&out.stdout).contains("handoffdemo-1"));
            }
            assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
            assert!(!runtime_dir(&p).exists(), "runtime dir left behind (gap {gap_ms} ms)");
        }
    }
}
