//! Every user error: a non-zero exit and one clear `handoff:` line naming
//! what was wrong; no panic, no backtrace, no report on stdout.

mod common;

use std::io::Write;

use common::*;

/// Runs with `a`, asserts a clean failure, returns our one line.
fn fails(a: &[String]) -> String {
    one_handoff_line(&run(a), &format!("{a:?}"))
}

fn with_base(test: &str, extra: &[&str]) -> Run {
    Run::new(test).args(extra.iter().copied())
}

#[test]
fn unknown_and_malformed_flags() {
    let _g = serial();
    assert!(fails(&args(&["--no-such-flag"])).contains("--no-such-flag"));
    assert!(fails(&args(&["--burst", "0"])).contains("--burst"));
    assert!(fails(&args(&["--burst", "many"])).contains("many"));
    assert!(fails(&args(&["--duration", "0"])).contains("seconds"));
    assert!(fails(&args(&["--show", "everything"])).contains("everything"));
}

#[test]
fn ring_size_must_be_a_power_of_two() {
    let _g = serial();
    let line = with_base("ring", &["--vdev", "net_null0", "--ring-size", "1000"]).one_line();
    assert!(line.contains("--ring-size 1000 is not a power of two"), "{line}");
}

#[test]
fn lcore_roles_must_differ_and_exist() {
    let _g = serial();
    let line = with_base("same", &["--vdev", "net_null0", "--rx-lcores", "2", "--worker-lcores", "2"]).one_line();
    assert!(line.contains("lcore 2 is both an rx lcore and a worker lcore"), "{line}");
    let line = with_base("outside", &["--vdev", "net_null0", "-l", "0-1"]).one_line();
    assert!(line.contains("worker lcore 2 is not in the EAL lcore map"), "{line}");
    let line = with_base("nocontrol", &["--vdev", "net_null0", "-l", "0,2"]).one_line();
    assert!(line.contains("no lcore left for the control thread"), "{line}");
    let line = with_base("badlist", &["--vdev", "net_null0", "--worker-lcores", "3-1"]).one_line();
    assert!(line.contains("--worker-lcores"), "{line}");
}

#[test]
fn missing_and_corrupt_pcaps() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let line = with_base("missing", &["--vdev", &format!("net_pcap0,rx_pcap={}", missing.display())]).one_line();
    assert!(line.contains("cannot open pcap file") && line.contains("missing.pcap"), "{line}");
    let corrupt = dir.path().join("corrupt.pcap");
    std::fs::File::create(&corrupt).unwrap().write_all(&[0xd4, 0xc3, 0xb2, 0xa1, 1, 2]).unwrap();
    let line = with_base("corrupt", &["--vdev", &format!("net_pcap0,rx_pcap={}", corrupt.display())]).one_line();
    assert!(line.contains("corrupt.pcap"), "{line}");
}

#[test]
fn unknown_output_port() {
    let _g = serial();
    let line = with_base("noport", &["--vdev", "net_null0", "--output", "net_pcap9"]).one_line();
    assert!(line.contains("unknown port 'net_pcap9'") && line.contains("net_null0"), "{line}");
}

#[test]
fn bad_pg_script_names_file_and_line() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.pg");
    std::fs::write(
        &script,
        "packet-generator new {\n  name x\n  limit 5\n  frobnicate 3\n  data { incrementing 30 }\n}\n",
    )
    .unwrap();
    let line = with_base("pg", &["--pg", script.to_str().unwrap()]).one_line();
    assert!(line.contains("bad.pg:4:") && line.contains("frobnicate"), "{line}");
    let line = with_base("pgmissing", &["--pg", "/nonexistent/script"]).one_line();
    assert!(line.contains("/nonexistent/script"), "{line}");
}

#[test]
fn eal_failure_names_the_cause_and_the_ways_out() {
    let _g = serial();
    // An invalid EAL argument passed through after `--`.
    let line = with_base("eal", &["--vdev", "net_null0", "--", "--no-such-eal-option"]).one_line();
    assert!(line.contains("EAL cannot start"), "{line}");
}

#[test]
fn port_with_too_few_queues_leaves_no_output_file() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = pcap_input(dir.path(), "in.pcap", 10, 1);
    let output = dir.path().join("out.pcap");
    // Two workers need two tx queues; a net_pcap port with one tx_pcap has one.
    let line = with_base(
        "queues",
        &[
            "--vdev",
            &input,
            "--vdev",
            &format!("net_pcap1,tx_pcap={}", output.display()),
            "--output",
            "net_pcap1",
            "--worker-lcores",
            "2,3",
        ],
    )
    .one_line();
    assert!(line.contains("net_pcap1") && line.contains("1 tx queues") && line.contains("2 tx are needed"), "{line}");
    assert!(!output.exists(), "a failed run must not leave {}", output.display());
}

#[test]
fn bad_trace_filter_and_pcapng_destination() {
    let _g = serial();
    let line =
        with_base("badfilter", &["--vdev", "net_null0", "--trace", "5", "--trace-filter", "udp prot 53"]).one_line();
    assert!(line.contains("bad --trace-filter 'udp prot 53'"), "{line}");
    let line = with_base("nofilterlimit", &["--vdev", "net_null0", "--trace-filter", "udp"]).one_line();
    assert!(line.contains("need --trace N"), "{line}");
    let line =
        with_base("pcapngdir", &["--vdev", "net_null0", "--trace", "5", "--trace-pcapng", "/nonexistent/dir/t.pcapng"])
            .one_line();
    assert!(line.contains("/nonexistent/dir") && line.contains("does not exist"), "{line}");
}

/// EAL without usable hugepages (here: a --huge-dir that is no hugetlbfs):
/// the line names both ways out, and the failed start leaves no runtime
/// directory under handoff's own prefix (handoff-<pid>).
#[test]
fn eal_without_hugepages_names_both_ways_out() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let child = spawn(&args(&["--vdev", "net_null0", "--", "--huge-dir", dir.path().to_str().unwrap()]));
    let own = std::path::PathBuf::from(format!("/var/run/dpdk/handoff-{}", child.id()));
    let out = wait(child, std::time::Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    assert_eq!(ours.len(), 1, "{stderr}");
    let line = ours[0];
    assert!(line.contains("EAL cannot start") && !line.contains("Success"), "{line}");
    assert!(line.contains("scripts/setup-hugepages.sh") && line.contains("--no-huge"), "{line}");
    assert!(!own.exists(), "left behind: {}", own.display());
}
