//! Unit tests of the command-line plan: real command lines through clap and
//! `prepare`, which checks everything before EAL starts (nothing here starts
//! EAL). A wrong command line is a `FlagError` (exit 2) or a clap error.

use super::*;
use clap::error::ErrorKind;
use clap::ValueEnum;

fn parse(a: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("handoff").chain(a.iter().copied()))
}

fn cli(a: &[&str]) -> Cli {
    parse(a).unwrap_or_else(|e| panic!("{a:?} should parse: {e}"))
}

fn plan(a: &[&str]) -> Prepared {
    prepare(cli(a)).unwrap_or_else(|e| panic!("{a:?} should plan: {e:#}"))
}

/// The message of a wrong command line (exit 2 in main).
fn flag_err(a: &[&str]) -> String {
    let e = prepare(cli(a)).err().unwrap_or_else(|| panic!("{a:?} should be refused"));
    assert!(e.chain().any(|c| c.downcast_ref::<FlagError>().is_some()), "{a:?}: not a flag error: {e:#}");
    format!("{e:#}")
}

/// An error that is not the command line's (exit 1).
fn run_err(a: &[&str]) -> String {
    let e = prepare(cli(a)).err().unwrap_or_else(|| panic!("{a:?} should be refused"));
    assert!(e.chain().all(|c| c.downcast_ref::<FlagError>().is_none()), "{a:?}: a flag error: {e:#}");
    format!("{e:#}")
}

fn clap_err(a: &[&str]) -> clap::Error {
    match parse(a) {
        Ok(_) => panic!("{a:?} should not parse"),
        Err(e) => e,
    }
}

fn has_pair(args: &[String], flag: &str, value: &str) -> bool {
    args.windows(2).any(|w| w[0] == flag && w[1] == value)
}

/// A pcap of `n` 60-byte Ethernet frames, written by hand.
fn capture(dir: &Path, name: &str, n: usize) -> String {
    let mut b = Vec::new();
    b.extend(0xa1b2_c3d4u32.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(4u16.to_le_bytes());
    for w in [0u32, 0, 65535, 1] {
        b.extend(w.to_le_bytes());
    }
    for i in 0..n as u32 {
        for w in [0u32, i, 60, 60] {
            b.extend(w.to_le_bytes());
        }
        b.extend([0u8; 60]);
    }
    let path = dir.join(name);
    std::fs::write(&path, b).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn no_input_plans_the_seed_demo_without_hugepages() {
    let p = plan(&[]);
    assert!(p.notice.as_deref().is_some_and(|n| n.contains("seed demo")));
    assert_eq!(p.plan.trace, 100, "the demo traces 100 packets");
    assert_eq!(p.sections, [Section::Errors, Section::Runtime, Section::Trace]);
    let eal = p.plan.eal_args.as_slice();
    assert!(eal.iter().any(|a| a == "--no-huge"), "{eal:?}");
    assert!(has_pair(eal, "-m", "512"), "{eal:?}");
    assert!(eal.iter().any(|a| a == "--no-pci"), "{eal:?}");
    assert!(p.plan.backpressure, "a generated capture is finite");
    assert_eq!(p.plan.output, OutputChoice::Drop);
    assert_eq!((p.plan.ring_size, p.plan.burst, p.plan.frame, p.plan.trace_display), (4096, 32, 256, 50));
    assert_eq!(p.plan.devices.len(), 1);
    assert!(p.plan.devices[0].starts_with("net_pcap"), "{:?}", p.plan.devices);
}

#[test]
fn a_named_live_input_drops_on_congestion_by_default() {
    let p = plan(&["--vdev", "net_null0"]);
    assert!(p.notice.is_none());
    assert_eq!(p.plan.trace, 0);
    assert!(!p.plan.backpressure, "a wire does not wait");
    assert_eq!(p.sections, [Section::Errors, Section::Runtime]);
    let eal = p.plan.eal_args.as_slice();
    assert!(!eal.iter().any(|a| a == "--no-huge"), "hugepages unless asked: {eal:?}");
    assert!(!eal.iter().any(|a| a == "-m"), "no memory size unless without hugepages: {eal:?}");
    assert!(has_pair(eal, "--vdev", "net_null0"));
    assert_eq!(p.plan.devices, ["net_null0"]);
}

#[test]
fn capture_inputs_hold_by_default_unless_told_to_drop() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("net_pcap0,rx_pcap={}", capture(dir.path(), "in.pcap", 3));
    assert!(plan(&["--no-huge", "--vdev", &input]).plan.backpressure);
    assert!(!plan(&["--no-huge", "--vdev", &input, "--drop-on-congestion"]).plan.backpressure);
    assert!(plan(&["--vdev", "net_null0", "--backpressure"]).plan.backpressure);
    // A capture beside a live input: the wire decides.
    assert!(!plan(&["--vdev", &input, "--vdev", "net_null1"]).plan.backpressure);
}

#[test]
fn backpressure_and_drop_on_congestion_conflict() {
    assert_eq!(clap_err(&["--backpressure", "--drop-on-congestion"]).kind(), ErrorKind::ArgumentConflict);
}

#[test]
fn a_live_output_port_beside_a_capture_only_transmits() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("net_pcap0,rx_pcap={}", capture(dir.path(), "in.pcap", 2));
    let p = plan(&["--vdev", &input, "--vdev", "net_null0", "--output", "net_null0"]);
    assert_eq!(p.plan.tx_only, Some(1), "device 1, net_null0");
    assert!(p.plan.backpressure, "the only polled input is a capture");
    assert_eq!(p.plan.output, OutputChoice::Port(1));
    // By id, the same port.
    let p = plan(&["--vdev", &input, "--vdev", "net_null0", "--output", "1"]);
    assert_eq!(p.plan.tx_only, Some(1), "device 1, net_null0");
    // Alone, a live port receives too (it reflects): not tx-only.
    let p = plan(&["--vdev", "net_null0", "--output", "0"]);
    assert_eq!(p.plan.tx_only, None);
    assert_eq!(p.plan.output, OutputChoice::Port(0));
}

#[test]
fn tx_pcap_outputs_get_a_sink_and_the_user_file_waits() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("net_pcap0,rx_pcap={}", capture(dir.path(), "in.pcap", 2));
    let out = dir.path().join("out.pcap");
    let output = format!("net_pcap1,tx_pcap={}", out.display());
    let p = plan(&["--vdev", &input, "--vdev", &output, "--output", "net_pcap1"]);
    assert_eq!(p.tx_outputs.len(), 1);
    assert_eq!(p.tx_outputs[0].vdev, "net_pcap1");
    let vdevs = p.plan.eal_args.values("--vdev");
    let written = vdevs.iter().find(|v| v.starts_with("net_pcap1")).unwrap();
    assert!(!written.contains(&out.display().to_string()), "the PMD writes a temporary file first: {written}");
    assert!(!out.exists(), "the user's file is made only once the run has a report");
    assert_eq!(p.plan.tx_only, None, "a tx-only pcap is not polled anyway");
}

#[test]
fn the_same_file_in_and_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = capture(dir.path(), "in.pcap", 2);
    let e = format!(
        "{:#}",
        prepare(cli(&[
            "--vdev",
            &format!("net_pcap0,rx_pcap={input}"),
            "--vdev",
            &format!("net_pcap1,tx_pcap={input}"),
        ]))
        .err()
        .expect("refused")
    );
    assert!(e.contains("in.pcap"), "{e}");
}

#[test]
fn output_names_a_port_by_id_or_name() {
    let two = ["--vdev", "net_null0", "--vdev", "net_null1"];
    for o in ["1", "net_null1"] {
        let p = plan(&[&two[..], &["--output", o]].concat());
        assert_eq!(p.plan.output, OutputChoice::Port(1), "{o}");
    }
    assert_eq!(plan(&[&two[..], &["--output", "drop"]].concat()).plan.output, OutputChoice::Drop);
}

#[test]
fn output_pairs_resolve_by_id_and_name() {
    let two = ["--vdev", "net_null0", "--vdev", "net_null1"];
    let p = plan(&[&two[..], &["--output", "0:1,1:0"]].concat());
    assert_eq!(p.plan.output, OutputChoice::Pairs(vec![(0, 1), (1, 0)]));
    let p = plan(&[&two[..], &["--output", "net_null0:net_null1"]].concat());
    assert_eq!(p.plan.output, OutputChoice::Pairs(vec![(0, 1)]));
    // A port reflecting its own traffic is allowed (with a warning).
    let p = plan(&[&two[..], &["--output", "0:0"]].concat());
    assert_eq!(p.plan.output, OutputChoice::Pairs(vec![(0, 0)]));
}

#[test]
fn output_to_an_unknown_port_is_a_flag_error() {
    let two = ["--vdev", "net_null0", "--vdev", "net_null1"];
    assert_eq!(
        flag_err(&[&two[..], &["--output", "net_null7"]].concat()),
        "unknown port 'net_null7' for --output; ports are: net_null0, net_null1"
    );
    assert_eq!(
        flag_err(&[&two[..], &["--output", "5"]].concat()),
        "--output 5: there are 2 ports (ids 0-1): net_null0, net_null1"
    );
    let e = flag_err(&[&two[..], &["--output", "0:1,0:9"]].concat());
    assert!(e.contains("'0:9' is not a pair of known ports"), "{e}");
    let e = flag_err(&[&two[..], &["--output", "0:1,0:0"]].concat());
    assert_eq!(e, "--output 0:1,0:0: port 0 is the rx side of two pairs");
    let e = clap_err(&["--output", ""]).to_string();
    assert!(e.contains("name a port, or drop"), "{e}");
}

#[test]
fn lcore_lists_are_checked_before_eal() {
    assert_eq!(
        flag_err(&["--vdev", "net_null0", "--rx-lcores", "2"]),
        "lcore 2 is both an rx lcore and a worker lcore; give each role its own lcore"
    );
    assert_eq!(flag_err(&["--vdev", "net_null0", "--rx-lcores", "0,0"]), "--rx-lcores names lcore 0 twice");
    assert_eq!(flag_err(&["--vdev", "net_null0", "--worker-lcores", "2,3,2"]), "--worker-lcores names lcore 2 twice");
    assert!(flag_err(&["--vdev", "net_null0", "--worker-lcores", "x"]).starts_with("--worker-lcores: "));
    assert!(flag_err(&["--vdev", "net_null0", "--rx-lcores", "3-1"]).starts_with("--rx-lcores: "));
}

#[test]
fn without_a_lcore_map_handoff_places_every_lcore() {
    let p = plan(&["--vdev", "net_null0", "--rx-lcores", "0,1", "--worker-lcores", "3"]);
    let eal = p.plan.eal_args.as_slice();
    assert_eq!(p.plan.eal_args.values("--main-lcore"), ["2"], "the first free id runs the control thread");
    let map = p.plan.eal_args.values("--lcores");
    assert_eq!(map.len(), 1, "{eal:?}");
    let parts: Vec<&str> = map[0].split(',').collect();
    assert!(parts[0].starts_with("0@") && parts[1].starts_with("1@") && parts[2].starts_with("3@"), "{map:?}");
    assert!(map[0].contains(",2@("), "the control lcore may use every CPU: {map:?}");
    let threads = p.plan.topology.threads();
    let lcores: Vec<u32> = threads.iter().map(|t| t.lcore.0).collect();
    assert_eq!(lcores, [0, 1, 3]);
    assert_eq!(p.plan.topology.rx().len(), 2);
    assert_eq!(p.plan.topology.workers().len(), 1);
}

#[test]
fn a_users_lcore_map_must_hold_every_role_and_a_control_lcore() {
    let p = plan(&["--vdev", "net_null0", "-l", "0-3", "--rx-lcores", "1"]);
    assert_eq!(p.plan.eal_args.values("--main-lcore"), ["0"]);
    assert!(p.plan.eal_args.values("--lcores").is_empty(), "the user's -l stands");
    assert!(has_pair(p.plan.eal_args.as_slice(), "-l", "0-3"));
    let e = flag_err(&["--vdev", "net_null0", "-l", "0-1"]);
    assert!(e.starts_with("worker lcore 2 is not in the EAL lcore map"), "{e}");
    let e = flag_err(&["--vdev", "net_null0", "-l", "0,2"]);
    assert!(e.contains("has no lcore left for the control thread"), "{e}");
    // A --main-lcore of the user's is kept, not doubled.
    let p = plan(&["--vdev", "net_null0", "-l", "0-3", "--", "--main-lcore", "3"]);
    assert_eq!(p.plan.eal_args.values("--main-lcore"), ["3"]);
}

#[test]
fn a_frame_holds_at_least_one_burst() {
    assert_eq!(
        flag_err(&["--vdev", "net_null0", "--frame", "16"]),
        "--frame 16 is less than --burst 32: a frame holds at least one burst"
    );
    let p = plan(&["--vdev", "net_null0", "--burst", "64", "--frame", "64"]).plan;
    assert_eq!((p.burst, p.frame), (64, 64), "one poll per frame");
    assert_eq!(plan(&["--vdev", "net_null0", "--burst", "8"]).plan.frame, 256);
    assert!(clap_err(&["--vdev", "net_null0", "--frame", "257"]).to_string().contains("257 is not in 1..=256"));
}

#[test]
fn ring_size_must_be_a_power_of_two_in_range() {
    assert_eq!(
        flag_err(&["--vdev", "net_null0", "--ring-size", "1000"]),
        "--ring-size 1000 is not a power of two (try 1024)"
    );
    assert_eq!(flag_err(&["--vdev", "net_null0", "--ring-size", "1"]), "--ring-size 1 is not a power of two (try 2)");
    assert_eq!(flag_err(&["--vdev", "net_null0", "--ring-size", "0"]), "--ring-size 0 is not a power of two (try 2)");
    assert_eq!(
        flag_err(&["--vdev", "net_null0", "--ring-size", "33554432"]),
        "--ring-size 33554432 is more than 16777216"
    );
    assert_eq!(plan(&["--vdev", "net_null0", "--ring-size", "2"]).plan.ring_size, 2);
}

#[test]
fn trace_options_need_trace() {
    let want = "--trace-filter and --trace-pcapng need --trace N (how many packets to trace)";
    assert_eq!(flag_err(&["--vdev", "net_null0", "--trace-filter", "udp"]), want);
    assert_eq!(flag_err(&["--vdev", "net_null0", "--trace-pcapng", "-"]), want);
    let p = plan(&["--vdev", "net_null0", "--trace", "5", "--trace-filter", "udp port 53"]);
    assert_eq!((p.plan.trace, p.plan.trace_filter.as_deref()), (5, Some("udp port 53")));
    assert_eq!(p.sections, [Section::Errors, Section::Runtime, Section::Trace]);
    let e = flag_err(&["--vdev", "net_null0", "--trace", "5", "--trace-filter", "udp port"]);
    assert!(e.contains("udp port"), "the line names the filter: {e}");
}

#[test]
fn json_and_show_do_not_mix() {
    let e = flag_err(&["--vdev", "net_null0", "--json", "--show", "errors"]);
    assert!(e.starts_with("--show picks the text report's sections"), "{e}");
    assert!(plan(&["--vdev", "net_null0", "--json"]).json);
}

#[test]
fn show_keeps_the_users_order_once_each() {
    let p = plan(&["--vdev", "net_null0", "--show", "pairs,errors,pairs", "--show", "xstats"]);
    assert_eq!(p.sections, [Section::Pairs, Section::Errors, Section::Xstats]);
    let all = Section::value_variants();
    let s = sections(all, false);
    assert_eq!(s.len(), all.len(), "every --show value maps to a section");
    assert_eq!(sections(&[], true), [Section::Errors, Section::Runtime, Section::Trace]);
    assert_eq!(sections(&[], false), [Section::Errors, Section::Runtime]);
    assert_eq!(clap_err(&["--show", "bogus"]).kind(), ErrorKind::InvalidValue);
}

#[test]
fn the_file_prefix_is_the_runs_own_unless_given() {
    let p = plan(&["--vdev", "net_null0"]);
    let own = format!("handoff-{}", std::process::id());
    assert_eq!(p.plan.runtime_files.prefix(), own);
    assert!(has_pair(p.plan.eal_args.as_slice(), "--file-prefix", &own));
    let p = plan(&["--vdev", "net_null0", "--file-prefix", "mine"]);
    assert_eq!(p.plan.runtime_files.prefix(), "mine");
    assert_eq!(p.plan.eal_args.values("--file-prefix"), ["mine"]);
    let p = plan(&["--vdev", "net_null0", "--in-memory"]);
    assert_eq!(p.plan.runtime_files.prefix(), "rte");
    assert!(p.plan.eal_args.values("--file-prefix").is_empty());
    for bad in ["../etc", "a/b", ".", ""] {
        let e = flag_err(&["--vdev", "net_null0", "--file-prefix", bad]);
        assert!(e.starts_with("--file-prefix '"), "{bad}: {e}");
    }
}

#[test]
fn eal_memory_pci_and_log_defaults_yield_to_the_user() {
    let p = plan(&["--vdev", "net_null0", "--no-huge", "-m", "256"]);
    let eal = p.plan.eal_args.as_slice();
    assert!(has_pair(eal, "-m", "256") && !has_pair(eal, "-m", "512"), "{eal:?}");
    assert!(eal.iter().any(|a| a == "--log-level=warning"), "{eal:?}");
    let p = plan(&["--vdev", "net_null0", "--log-level", "lib.eal:debug"]);
    let eal = p.plan.eal_args.as_slice();
    assert!(eal.iter().any(|a| a == "--log-level=lib.eal:debug"));
    assert!(!eal.iter().any(|a| a == "--log-level=warning"), "{eal:?}");
    let p = plan(&["-a", "0000:01:00.0"]);
    let eal = p.plan.eal_args.as_slice();
    assert!(!eal.iter().any(|a| a == "--no-pci"), "an allow-list scans PCI: {eal:?}");
    assert!(p.notice.is_none(), "-a names an input");
    assert_eq!(p.plan.devices, ["0000:01:00.0"]);
}

#[test]
fn conflicting_eal_flags_name_who_asked() {
    assert_eq!(
        flag_err(&["--vdev", "net_null0", "--no-huge", "--in-memory"]),
        "--in-memory cannot be used with --no-huge: without hugepages EAL uses legacy memory, which --in-memory does not support"
    );
    let e = flag_err(&["--in-memory"]);
    assert!(e.contains("cannot be used with a --pg input (or the seed demo)"), "{e}");
    let e = flag_err(&["--vdev", "net_null0", "--no-huge", "--", "--socket-mem", "64"]);
    assert!(e.starts_with("--socket-mem cannot be used with --no-huge"), "{e}");
}

#[test]
fn eal_words_after_the_double_dash_are_checked() {
    let e = flag_err(&["--vdev", "net_null0", "--", "--file-prefix"]);
    assert_eq!(e, "the EAL arguments after --: --file-prefix needs a value but is the last word");
    let e = flag_err(&["--vdev", "net_null0", "--", "--file-pre", "x"]);
    assert!(e.contains("is abbreviated"), "{e}");
    let e = flag_err(&["--vdev", "net_null0", "--", "--proc-type", "secondary"]);
    assert!(e.starts_with("--proc-type secondary is refused"), "{e}");
    let e = flag_err(&["--vdev", "net_null0", "--", "--main-lcore", "99999"]);
    assert!(e.starts_with("--main-lcore '99999'"), "{e}");
}

#[test]
fn devices_are_named_once() {
    let e = flag_err(&["--vdev", "net_null0", "--vdev", "net_null0"]);
    assert!(e.starts_with("device 'net_null0' is named twice"), "{e}");
    let e = flag_err(&["--vdev", ",size=64"]);
    assert_eq!(e, "a --vdev or -a/--allow has an empty device name");
}

#[test]
fn a_profile_gives_way_to_the_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("test.eal");
    std::fs::write(&profile, "# a test profile\n-m 256   # memory\n--file-prefix from-profile\n-l 0-3\n").unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = profile.to_str().unwrap();

    let p = plan(&["--eal-config", path, "--vdev", "net_null0", "-m", "128"]);
    let eal = p.plan.eal_args.as_slice();
    assert!(has_pair(eal, "-m", "128") && !has_pair(eal, "-m", "256"), "the command line wins: {eal:?}");
    assert_eq!(p.plan.runtime_files.prefix(), "from-profile", "what the command line leaves stands");
    assert!(has_pair(eal, "-l", "0-3"), "{eal:?}");
    assert_eq!(p.plan.eal_args.values("--main-lcore"), ["1"], "the profile's map places the control thread");

    let p = plan(&[
        "--eal-config",
        path,
        "--vdev",
        "net_null0",
        "--file-prefix",
        "cli",
        "-l",
        "4-6",
        "--rx-lcores",
        "4",
        "--worker-lcores",
        "5",
    ]);
    assert_eq!(p.plan.eal_args.values("--file-prefix"), ["cli"]);
    assert_eq!(p.plan.eal_args.values("-l"), ["4-6"]);
    assert_eq!(p.plan.eal_args.values("--main-lcore"), ["6"]);

    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o666)).unwrap();
    let e = run_err(&["--eal-config", path, "--vdev", "net_null0"]);
    assert!(e.contains("is writable by others"), "{e}");
    let e = run_err(&["--eal-config", dir.path().join("missing.eal").to_str().unwrap(), "--vdev", "net_null0"]);
    assert!(e.starts_with("cannot read EAL profile"), "{e}");
}

#[test]
fn a_profile_that_ends_inside_a_flag_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("cut.eal");
    std::fs::write(&profile, "-l 0-3\n--file-prefix\n").unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = flag_err(&["--eal-config", profile.to_str().unwrap(), "--vdev", "net_null0"]);
    assert!(e.contains("--file-prefix needs a value but is the last word"), "{e}");
}

#[test]
fn number_flags_are_range_checked_by_clap() {
    for a in [
        &["--count", "0"][..],
        &["--burst", "0"],
        &["--burst", "257"],
        &["--trace", "100001"],
        &["--trace-display", "1000001"],
        &["--mbufs", "63"],
        &["--mbuf-size", "255"],
        &["--max-pkt-len", "63"],
        &["--rx-desc", "31"],
        &["--tx-desc", "32769"],
        &["-m", "15"],
        &["--ring-size", "-1"],
    ] {
        let e = clap_err(a);
        assert!(
            matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue | ErrorKind::UnknownArgument),
            "{a:?}: {e}"
        );
        assert_eq!(e.exit_code(), 2, "{a:?}");
    }
    let c = cli(&["--count", "1", "--burst", "256", "--trace", "100000", "--mbufs", "64", "--rx-desc", "32768"]);
    assert_eq!((c.count, c.burst, c.trace, c.mbufs, c.rx_desc), (Some(1), 256, 100_000, Some(64), 32768));
}

#[test]
fn seconds_are_finite_and_bounded() {
    assert_eq!(duration_secs("0.5"), Ok(0.5));
    assert_eq!(duration_secs("31536000"), Ok(MAX_DURATION_SECS));
    for bad in ["0", "-1", "nan", "inf", "31536001", "1s", ""] {
        let e = duration_secs(bad).unwrap_err();
        assert!(e.contains("is not a number of seconds above 0"), "{bad}: {e}");
    }
    assert_eq!(interval_secs("0.1"), Ok(0.1));
    assert!(interval_secs("0.05").unwrap_err().contains("of at least 0.1 and at most 3600"));
    assert!(interval_secs("3601").is_err());
    assert!(timeout_secs("0.1").is_ok() && timeout_secs("0").is_err());
    assert_eq!(cli(&["--duration", "2", "--stats-interval", "1"]).duration, Some(2.0));
    assert_eq!(clap_err(&["--duration", "0"]).kind(), ErrorKind::ValueValidation);
}

#[test]
fn tx_retry_takes_retries_and_microseconds() {
    assert_eq!(tx_retry("5"), Ok(TxRetryLimit { retries: 5, delay_us: 1 }));
    assert_eq!(tx_retry("0"), Ok(TxRetryLimit { retries: 0, delay_us: 1 }));
    assert_eq!(tx_retry("64,10"), Ok(TxRetryLimit { retries: 64, delay_us: 10 }));
    assert_eq!(tx_retry("1000,1000"), Ok(TxRetryLimit { retries: 1000, delay_us: 1000 }));
    assert!(tx_retry("1001,1000").unwrap_err().contains("wait more than 1 s on one burst"));
    for bad in ["", "x", "5,", ",5", "-1", "1000001", "1,1000001", "1,2,3"] {
        assert!(tx_retry(bad).unwrap_err().contains("is not N[,USECS]"), "{bad}");
    }
    let p = plan(&["--vdev", "net_null0", "--tx-retry", "3,2"]);
    assert_eq!(p.plan.tx_retry, Some(TxRetryLimit { retries: 3, delay_us: 2 }));
    assert_eq!(plan(&["--vdev", "net_null0"]).plan.tx_retry, None);
}

#[test]
fn metrics_takes_an_address_or_a_loopback_port() {
    assert_eq!(metrics_addr("9100"), Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 9100))));
    assert_eq!(metrics_addr("0.0.0.0:80").unwrap().port(), 80);
    assert!(metrics_addr("[::1]:9100").unwrap().is_ipv6());
    assert!(metrics_addr("localhost:9100").unwrap_err().contains("is not ADDR:PORT or PORT"));
    assert!(metrics_addr("70000").is_err());
    // Bound before EAL starts: port 0 takes a free one.
    let p = plan(&["--vdev", "net_null0", "--metrics", "127.0.0.1:0"]);
    assert!(p.metrics.is_some());
}

#[test]
fn operating_commands_parse_and_do_not_mix_with_run_flags() {
    let c = cli(&["show", "runtime", "--file-prefix", "x", "--json", "--timeout", "2"]);
    match c.command {
        Some(Command::Show { what, max, target }) => {
            assert_eq!(what, ShowWhat::Runtime);
            assert_eq!(max, None);
            assert_eq!((target.file_prefix.as_deref(), target.json, target.timeout), (Some("x"), true, 2.0));
        }
        other => panic!("{other:?}"),
    }
    match cli(&["trace", "add", "10", "--filter", "udp"]).command {
        Some(Command::Trace { op: TraceCommand::Add { count, filter, target } }) => {
            assert_eq!((count, filter.as_deref(), target.timeout), (10, Some("udp"), DEFAULT_TIMEOUT_SECS));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(cli(&["list", "--json"]).command, Some(Command::List { json: true, .. })));
    assert!(matches!(cli(&["clear", "errors"]).command, Some(Command::Clear { .. })));
    assert_eq!(clap_err(&["trace", "add", "0"]).kind(), ErrorKind::ValueValidation);
    assert_eq!(clap_err(&["show", "runtime", "--timeout", "0"]).kind(), ErrorKind::ValueValidation);
    assert!(clap_err(&["--vdev", "net_null0", "show", "runtime"]).exit_code() == 2);
    assert!(cli(&["--vdev", "net_null0"]).command.is_none());
}
