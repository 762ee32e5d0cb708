//! Planning and writing a script's pcap files: sizes, caps, free space,
//! clean-up on failure.

use std::path::Path;
use std::time::Duration;

use super::*;

fn parse_in(text: &str, dir: &Path) -> Vec<Stream> {
    parse_str(text, "t.pg", dir).unwrap_or_else(|e| panic!("{e}"))
}

fn read_back(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let f = std::fs::File::open(path).expect("open");
    let mut r = pcap_file::pcap::PcapReader::new(f).expect("pcap header");
    assert_eq!(r.header().datalink, pcap_file::DataLink::ETHERNET);
    assert_eq!(r.header().snaplen, 65535);
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("packet");
        assert_eq!(p.orig_len as usize, p.data.len());
        out.push((p.timestamp, p.data.into_owned()));
    }
    out
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every kind of stream, on two interfaces, one of them endless.
fn mixed_script(dir: &Path) -> Vec<Stream> {
    let pkts: Vec<Vec<u8>> = vec![vec![1; 60], vec![2; 70], vec![3; 81]];
    write_pcap(&dir.join("in.pcap"), &pkts).expect("write");
    parse_in(
        "packet-generator new { name a limit 7 size 60-63 interface eth0 data { incrementing 40 } }
         packet-generator new { name b limit 300 size 64+200 interface eth1 data {
             IP4: 1.2.3 -> 4.5.6 UDP: 10.0.0.1 -> 10.0.0.2 UDP: 1 -> 2 } }
         packet-generator new { name c limit 5 interface eth0 pcap in.pcap }
         packet-generator new { name d size 70-72 interface eth1/0 data { hex 0xabcd } }
         packet-generator new { name e size 64+66 interface eth0 data { hex 0x01 } }
         packet-generator new { name f interface eth1 pcap in.pcap }",
        dir,
    )
}

#[test]
fn planned_bytes_are_the_written_bytes() {
    let src = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let streams = mixed_script(src.path());
    let plan = plan_inputs(&streams, out.path()).expect("plan");
    assert!(files_in(out.path()).is_empty(), "planning writes nothing");
    let names: Vec<_> = plan.files().iter().map(|f| f.interface.as_str()).collect();
    assert_eq!(names, ["eth0", "eth1", "eth1/0"]);
    assert_eq!(plan.files()[2].path, out.path().join("pg-2-eth1_0.pcap"));
    // eth0: 7 + 5 + 256 (one period of e); eth1: 300 + 3; eth1/0: 3 sizes.
    let counts: Vec<_> = plan.files().iter().map(|f| f.packets).collect();
    assert_eq!(counts, [268, 303, 3]);
    let infinite: Vec<_> = plan.files().iter().map(|f| f.infinite).collect();
    assert_eq!(infinite, [true, false, true]);
    assert_eq!(plan.packets(), 268 + 303 + 3);
    assert_eq!(plan.files()[2].bytes, 24 + 3 * 16 + 70 + 71 + 72);
    assert_eq!(plan.bytes(), plan.files().iter().map(|f| f.bytes).sum::<u64>());

    let written = plan.write().expect("write");
    assert_eq!(written, plan.files());
    for f in &written {
        assert_eq!(std::fs::metadata(&f.path).expect("stat").len(), f.bytes, "{}", f.path.display());
        // The same packets as the streams, in script order, 1 us apart.
        let want: Vec<Vec<u8>> =
            streams.iter().filter(|s| s.interface == f.interface).flat_map(|s| s.packets().expect("packets")).collect();
        let back = read_back(&f.path);
        assert_eq!(back.len() as u64, f.packets);
        for (i, (ts, data)) in back.iter().enumerate() {
            assert_eq!(*ts, Duration::from_micros(i as u64));
            assert_eq!(data, &want[i], "{} packet {i}", f.interface);
        }
    }
    // write_inputs is plan + write.
    let again = tempfile::tempdir().expect("tempdir");
    let w = write_inputs(&streams, again.path()).expect("write_inputs");
    for (a, b) in w.iter().zip(&written) {
        assert_eq!(std::fs::read(&a.path).expect("a"), std::fs::read(&b.path).expect("b"));
    }
}

#[test]
fn million_packet_streams_are_planned_without_making_packets() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 1M x 1000 B: a gigabyte that used to be materialised; planning only
    // walks the sizes, so it is instant and allocates nothing per packet.
    let streams = parse_in("packet-generator new { limit 1000000 size 1000 data { hex 00 } }", dir.path());
    let plan = plan_inputs(&streams, dir.path()).expect("plan");
    assert_eq!(plan.packets(), 1_000_000);
    assert_eq!(plan.bytes(), 24 + 1_000_000 * (16 + 1000));
    assert!(files_in(dir.path()).is_empty());

    // 1M random-sized small packets, written: the file is what was planned.
    let streams = parse_in("packet-generator new { limit 1e6 size 60+68 data { incrementing 60 } }", dir.path());
    let plan = plan_inputs(&streams, dir.path()).expect("plan");
    let written = plan.write().expect("write");
    assert_eq!(written.len(), 1);
    let f = &written[0];
    assert_eq!(f.packets, 1_000_000);
    assert_eq!(std::fs::metadata(&f.path).expect("stat").len(), f.bytes);
    assert!(f.bytes > 24 + 1_000_000 * (16 + 60) && f.bytes < 24 + 1_000_000 * (16 + 68));
}

#[test]
fn script_over_the_byte_cap_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Each stream is under the per-stream caps; together they are ~3 GB.
    let one = "packet-generator new { limit 1000000 size 1000 data { hex 00 } }\n";
    let streams = parse_in(&one.repeat(3), dir.path());
    let e = plan_inputs(&streams, dir.path()).expect_err("over the cap");
    let want = 24 + 3 * 1_000_000 * (16 + 1000);
    assert!(matches!(e, PgError::ScriptTooBig { bytes, max, .. } if bytes == want && max == MAX_SCRIPT_BYTES));
    assert_eq!(
        e.to_string(),
        format!("t.pg: the streams need {want} bytes of pcap files, over the limit of 2147483648 bytes per script")
    );
    let e = write_inputs(&streams, dir.path()).expect_err("over the cap");
    assert!(matches!(e, PgError::ScriptTooBig { .. }));
    assert!(files_in(dir.path()).is_empty(), "nothing written");
    // Spread over interfaces it is the same total.
    let text: String = (0..3)
        .map(|i| format!("packet-generator new {{ limit 1e6 size 1000 interface i{i} data {{ hex 00 }} }}\n"))
        .collect();
    let streams = parse_in(&text, dir.path());
    let e = write_inputs(&streams, dir.path()).expect_err("over the cap");
    assert!(matches!(e, PgError::ScriptTooBig { bytes, .. } if bytes == 3 * 24 + 3 * 1_000_000 * 1016));
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn script_over_the_packet_cap_is_refused_before_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = "packet-generator new { limit 1000000 size 20 data { hex 00 } }\n";
    let streams = parse_in(&one.repeat(17), dir.path());
    let e = write_inputs(&streams, dir.path()).expect_err("over the cap");
    assert_eq!(e.to_string(), "t.pg: the streams make 17000000 packets, over the limit of 16000000 packets per script");
    assert_eq!((e.line(), e.kind()), (None, None));
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn free_space_comparison() {
    let dir = Path::new("/some/dir");
    let m = FREE_SPACE_MARGIN;
    assert!(check_free_space(dir, 0, m).is_ok());
    assert!(check_free_space(dir, 1000, 1000 + m).is_ok());
    assert!(check_free_space(dir, 1000, u64::MAX).is_ok());
    let e = check_free_space(dir, 1001, 1000 + m).expect_err("one byte short");
    assert!(matches!(e, PgError::NoSpace { needed: 1001, free, margin, .. } if free == 1000 + m && margin == m));
    assert_eq!(
        e.to_string(),
        format!(
            "/some/dir: the pg inputs need 1001 bytes but only {} bytes are free ({m} bytes are kept spare)",
            1000 + m
        )
    );
    assert!(check_free_space(dir, 0, m - 1).is_err(), "the margin alone does not fit");
    assert!(check_free_space(dir, 0, 0).is_err());
    assert!(check_free_space(dir, u64::MAX, u64::MAX).is_err(), "no overflow");
}

#[test]
fn free_space_of_a_real_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(free_space(dir.path()).expect("statvfs") > 0);
    let gone = dir.path().join("missing");
    assert!(free_space(&gone).is_err());
    let streams = parse_in("packet-generator new { limit 1 data { hex 00 } }", dir.path());
    let e = write_inputs(&streams, &gone).expect_err("no dir");
    assert!(matches!(e, PgError::FreeSpace { .. }));
    assert!(e.to_string().starts_with(&format!("{}: cannot check free space: ", gone.display())), "{e}");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn failed_write_names_the_file_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let streams = parse_in(
        "packet-generator new { name a limit 3 interface x data { hex 00 } }
         packet-generator new { name b limit 3 interface y data { hex 00 } }",
        dir.path(),
    );
    // The second file's name is taken by a directory.
    let blocked = dir.path().join("pg-1-y.pcap");
    std::fs::create_dir(&blocked).expect("mkdir");
    let e = write_inputs(&streams, dir.path()).expect_err("blocked");
    assert!(matches!(e, PgError::Write { .. }));
    assert!(e.to_string().starts_with(&format!("{}: cannot write: ", blocked.display())), "{e}");
    assert_eq!(files_in(dir.path()), ["pg-1-y.pcap"], "the first file is removed too");
    assert!(blocked.is_dir(), "not ours to remove");
}

#[test]
fn writing_past_the_plan_fails_and_removes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let streams = parse_in("packet-generator new { limit 10 data { hex 00 } }", dir.path());
    let mut plan = plan_inputs(&streams, dir.path()).expect("plan");
    // As if the packets came out bigger than planned, half-way through.
    plan.files[0].bytes -= 1;
    let e = plan.write().expect_err("over the plan");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{}: cannot write: ", plan.files()[0].path.display())), "{msg}");
    assert!(msg.contains("more than the") && msg.contains("planned"), "{msg}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn generation_errors_keep_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut streams = parse_in("\npacket-generator new { limit 10 data { hex 00 } }", dir.path());
    streams[0].size = SizeSpec::Step { min: 100, max: 50 };
    let e = write_inputs(&streams, dir.path()).expect_err("bad size");
    assert_eq!(e.to_string(), "t.pg:2: max-size < min-size");
    assert!(files_in(dir.path()).is_empty());
}
