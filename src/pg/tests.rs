use std::path::Path;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use super::*;

/// The seed's script, verbatim (dpdk-config/pg_input_script).
const SEED: &str = " packet-generator new {
    name x
    limit 5
    size 128-128
    interface local0
    node handoffdemo-1
    data {
        incrementing 30
    }
 }
";

/// The seed's `show trace` hex dump of each packet.
const SEED_DUMP: &str = "
    00000000: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d0000
    00000020: 0000000000000000000000000000000000000000000000000000000000000000
    00000040: 0000000000000000000000000000000000000000000000000000000000000000
    00000060: 0000000000000000000000000000000000000000000000000000000000000000
";

fn dump_bytes(dump: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in dump.lines().filter(|l| !l.trim().is_empty()) {
        let (_, hex) = line.split_once(": ").expect("dump line");
        let hex = hex.trim();
        for i in (0..hex.len()).step_by(2) {
            out.push(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        }
    }
    out
}

fn parse(text: &str) -> Result<Vec<Stream>, PgError> {
    parse_str(text, "t.pg", Path::new("."))
}

fn one(text: &str) -> Stream {
    let mut v = parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn seed_script_gives_the_seed_packets() {
    let s = one(SEED);
    assert_eq!(s.name, "x");
    assert_eq!(s.limit, 5);
    assert_eq!(s.size, SizeSpec::Step { min: 128, max: 128 });
    assert_eq!(s.interface, "local0");
    assert_eq!(s.node, "handoffdemo-1");
    assert_eq!(s.line, 1);
    assert!(!s.is_infinite());
    let want = dump_bytes(SEED_DUMP);
    assert_eq!(want.len(), 128);
    let pkts = s.packets().expect("packets");
    assert_eq!(pkts.len(), 5);
    for p in &pkts {
        assert_eq!(p, &want);
    }
    // 0x00..0x1d then 98 zero bytes.
    assert!(want[..30].iter().enumerate().all(|(i, &b)| b == i as u8));
    assert!(want[30..].iter().all(|&b| b == 0));
}

#[test]
fn defaults_and_keywords() {
    let s = one("packet-generator new { data { hex 0x01 } }");
    assert_eq!(s.name, "stream0");
    assert_eq!(s.limit, 0);
    assert!(s.is_infinite());
    assert_eq!(s.size, SizeSpec::Step { min: 64, max: 64 });
    assert_eq!(s.interface, "local0");
    assert_eq!(s.node, "handoffdemo-1");
    assert_eq!((s.worker, s.rate, s.maxframe), (None, None, None));
    let p = s.packets().expect("packets");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0][0], 1);
    assert!(p[0][1..].iter().all(|&b| b == 0));
    assert_eq!(p[0].len(), 64);

    let s = one("packet-generator new {\n name y\n limit 1e3\n rate 10k\n worker 1\n maxframe 32\n \
         interface eth0\n node ethernet-input\n buffer-size 2048\n size 100\n data { hex 00ff }\n}");
    assert_eq!(s.limit, 1000);
    assert_eq!(s.rate, Some(10_000.0));
    assert_eq!(s.worker, Some(1));
    assert_eq!(s.maxframe, Some(32));
    assert_eq!(s.interface, "eth0");
    assert_eq!(s.node, "ethernet-input");
    assert_eq!(s.size, SizeSpec::Step { min: 100, max: 100 });
    let s = one("packet-generator new { rate 1.5M node dpdk-input data { hex 00 } }");
    assert_eq!(s.rate, Some(1.5e6));
    let s = one("packet-generator new { rate 0 data { hex 00 } }");
    assert_eq!(s.rate, None);
}

#[test]
fn layout_variants() {
    // Braces on their own lines, comments, CRLF, tabs, several stanzas.
    let text = "# two streams\r\n\
                packet-generator new\r\n\
                {\r\n\
                \tname a   # trailing comment\r\n\
                \tsize 64-64\r\n\
                \tdata\r\n\
                \t{\r\n\
                \t\tincrementing 3\r\n\
                \t}\r\n\
                }\r\n\
                \r\n\
                packet-generator new {name b limit 2 data{hex 0xff}}\r\n\
                packet-generator new name c limit 1 data { incrementing 2 }\n\
                packet-generator new name d limit 1 data {\n incrementing 2\n } size 70\n\
                packet-generator enable\n";
    let v = parse(text).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = v.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert_eq!(v[0].line, 2);
    assert_eq!(v[1].line, 12);
    assert_eq!(v[3].size, SizeSpec::Step { min: 70, max: 70 });
    assert_eq!(&v[0].packets().expect("a")[0][..4], &[0, 1, 2, 0]);
    assert_eq!(v[1].packets().expect("b").len(), 2);
    // `size 64 - 128` spacing.
    let s = one("packet-generator new { size 64 - 128 data { hex 00 } }");
    assert_eq!(s.size, SizeSpec::Step { min: 64, max: 128 });
    let s = one("packet-generator new { size 64 +128 data { hex 00 } }");
    assert_eq!(s.size, SizeSpec::Random { min: 64, max: 128 });
}

#[test]
fn size_step_cycles() {
    let s = one("packet-generator new { limit 10 size 60-63 data { incrementing 100 } }");
    let sizes: Vec<usize> = s.packets().expect("p").iter().map(Vec::len).collect();
    assert_eq!(sizes, [60, 61, 62, 63, 60, 61, 62, 63, 60, 61]);
    // Payload cut to the packet size.
    let p = &s.packets().expect("p")[0];
    assert!(p.iter().enumerate().all(|(i, &b)| b == i as u8));

    let s = one("packet-generator new { size 60-63 data { incrementing 1 } }");
    assert!(s.is_infinite());
    assert_eq!(s.packet_count().expect("n"), 4);
    let sizes: Vec<usize> = s.packets().expect("p").iter().map(Vec::len).collect();
    assert_eq!(sizes, [60, 61, 62, 63]);
}

#[test]
fn size_random_in_range_and_deterministic() {
    let s = one("packet-generator new { limit 2000 size 64+128 data { incrementing 30 } }");
    assert_eq!(s.size, SizeSpec::Random { min: 64, max: 128 });
    let a: Vec<usize> = s.packets().expect("p").iter().map(Vec::len).collect();
    let b: Vec<usize> = s.packets().expect("p").iter().map(Vec::len).collect();
    assert_eq!(a.len(), 2000);
    assert_eq!(a, b, "same seed every time");
    assert!(a.iter().all(|&n| (64..=128).contains(&n)));
    assert!(a.contains(&64) && a.contains(&128), "both ends reached");
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert!(distinct.len() > 50);

    let s = one("packet-generator new { size 64+128 data { incrementing 30 } }");
    assert!(s.is_infinite());
    assert_eq!(s.packets().expect("p").len(), RANDOM_PERIOD as usize);
}

fn ip4_checks(p: &[u8]) -> etherparse::Ipv4Header {
    let sliced = SlicedPacket::from_ethernet(p).expect("decodes");
    let Some(NetSlice::Ipv4(ip)) = &sliced.net else { panic!("no ipv4: {sliced:?}") };
    let h = ip.header().to_header();
    assert_eq!(usize::from(h.total_len), p.len() - 14);
    assert_eq!(h.header_checksum, h.calc_header_checksum());
    h
}

#[test]
fn ip4_udp_layers_decode() {
    let s = one("packet-generator new {
        name udp
        limit 3
        size 100-102
        data {
            IP4: 1.2.3 -> 4.5.6
            UDP: 192.168.1.10 -> 192.168.2.10 ttl 7
            UDP: 1234 -> 2345
            incrementing 10
        }
    }");
    let pkts = s.packets().expect("packets");
    assert_eq!(pkts.len(), 3);
    for (p, size) in pkts.iter().zip([100usize, 101, 102]) {
        assert_eq!(p.len(), size);
        let sliced = SlicedPacket::from_ethernet(p).expect("decodes");
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = &sliced.link else { panic!("no ethernet") };
        assert_eq!(eth.source(), [0, 1, 0, 2, 0, 3]);
        assert_eq!(eth.destination(), [0, 4, 0, 5, 0, 6]);
        assert_eq!(eth.ether_type(), etherparse::EtherType::IPV4);
        let ip = ip4_checks(p);
        assert_eq!(ip.source, [192, 168, 1, 10]);
        assert_eq!(ip.destination, [192, 168, 2, 10]);
        assert_eq!(ip.time_to_live, 7);
        assert_eq!(ip.protocol, etherparse::IpNumber::UDP);
        let Some(TransportSlice::Udp(udp)) = &sliced.transport else { panic!("no udp") };
        assert_eq!(udp.source_port(), 1234);
        assert_eq!(udp.destination_port(), 2345);
        assert_eq!(usize::from(udp.length()), size - 14 - 20);
        let payload = udp.payload();
        let want = udp.to_header().calc_checksum_ipv4(&ip, payload).expect("checksum");
        assert_eq!(udp.checksum(), want);
        assert_ne!(udp.checksum(), 0);
        assert_eq!(&payload[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(payload[10..].iter().all(|&b| b == 0));
    }
}

#[test]
fn tcp_icmp_and_ipv6_layers_decode() {
    // Glued spacing and colon MACs.
    let s = one("packet-generator new { limit 1 size 80 data {
        IP4: 00:11:22:33:44:55->66:77:88:99:aa:bb
        TCP:10.0.0.1->10.0.0.2 tos 0x10
        TCP: 80 -> 8080 SYN ACK
        hex 0xdeadbeef } }");
    let p = &s.packets().expect("p")[0];
    assert_eq!(p.len(), 80);
    let ip = ip4_checks(p);
    assert_eq!(ip.time_to_live, 64);
    assert_eq!(ip.dscp.value(), 4);
    let sliced = SlicedPacket::from_ethernet(p).expect("decodes");
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else { panic!("no tcp") };
    assert_eq!((tcp.source_port(), tcp.destination_port()), (80, 8080));
    assert!(tcp.syn() && tcp.ack() && !tcp.fin());
    let want = tcp.to_header().calc_checksum_ipv4(&ip, tcp.payload()).expect("checksum");
    assert_eq!(tcp.checksum(), want);
    assert_eq!(&tcp.payload()[..4], &[0xde, 0xad, 0xbe, 0xef]);

    let s = one("packet-generator new { limit 1 size 64 data {
        IP4: 1.2.3 -> 4.5.6
        ICMP: 1.1.1.1 -> 2.2.2.2
        ICMP echo_request id 7 seq 9
        incrementing 4 } }");
    let p = &s.packets().expect("p")[0];
    ip4_checks(p);
    let sliced = SlicedPacket::from_ethernet(p).expect("decodes");
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else { panic!("no icmp") };
    assert_eq!(icmp.icmp_type(), etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 7, seq: 9 }));
    let h = icmp.header();
    assert_eq!(h.checksum, h.icmp_type.calc_checksum(icmp.payload()));

    let s = one("packet-generator new { limit 2 size 100-101 data {
        IP6: 1.2.3 -> 4.5.6
        UDP: 2001:db8::1 -> 2001:db8::2 hop-limit 3
        UDP: 53 -> 5353 } }");
    for (p, size) in s.packets().expect("p").iter().zip([100usize, 101]) {
        let sliced = SlicedPacket::from_ethernet(p).expect("decodes");
        let Some(NetSlice::Ipv6(ip)) = &sliced.net else { panic!("no ipv6") };
        let h = ip.header().to_header();
        assert_eq!(usize::from(h.payload_length), size - 14 - 40);
        assert_eq!(h.hop_limit, 3);
        let Some(TransportSlice::Udp(udp)) = &sliced.transport else { panic!("no udp") };
        let want = udp.to_header().calc_checksum_ipv6(&h, udp.payload()).expect("checksum");
        assert_eq!(udp.checksum(), want);
        assert_eq!(usize::from(udp.length()), size - 54);
    }

    let s = one("packet-generator new { limit 1 size 70 data {
        ICMP6: ::1 -> ::2
        ICMP echo_reply } }");
    let p = &s.packets().expect("p")[0];
    let sliced = SlicedPacket::from_ethernet(p).expect("decodes: zero-MAC Ethernet added");
    let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else { panic!("no icmpv6") };
    assert!(matches!(icmp.icmp_type(), etherparse::Icmpv6Type::EchoReply(_)));

    // Ethernet only: the ethertype, then the payload.
    let s = one("packet-generator new { limit 1 size 20 data { IP: 1.2.3 -> 4.5.6 hex 0x4500 } }");
    let p = &s.packets().expect("p")[0];
    assert_eq!(&p[12..16], &[0x08, 0x00, 0x45, 0x00]);
    assert_eq!(p.len(), 20);
}

#[test]
fn error_messages_name_the_line() {
    let cases: &[(&str, &str)] = &[
        ("packet-generator new {\n name x\n}", "t.pg:1: no packet data given"),
        (
            "packet-generator new {\n name x\n size 200-100\n data { hex 00 }\n}",
            "t.pg:3: max-size < min-size",
        ),
        (
            "packet-generator new {\n name x\n colour red\n data { hex 00 }\n}",
            "t.pg:3: unknown input 'colour red'",
        ),
        (
            "\n\npacket-generator new {\n name x\n data { hex 00 }\n",
            "t.pg:3: unterminated '{' (no matching '}')",
        ),
        (
            "packet-generator new {\n data {\n hex 00\n}",
            "t.pg:1: unterminated '{' (no matching '}')",
        ),
        (
            "packet-generator new name x data {\n hex 00\n",
            "t.pg:1: unterminated '{' (no matching '}')",
        ),
        (
            "packet-generator new {\n limit 5x\n data { hex 00 }\n}",
            "t.pg:2: bad limit '5x'",
        ),
        (
            "packet-generator new {\n limit -1\n data { hex 00 }\n}",
            "t.pg:2: bad limit '-1'",
        ),
        (
            "packet-generator new {\n limit 2000000\n data { hex 00 }\n}",
            "t.pg:2: limit 2000000 is too big to materialise (at most 1000000 packets per stream)",
        ),
        (
            "packet-generator new {\n limit 1000000\n size 9000\n data { hex 00 }\n}",
            "t.pg:2: stream needs 9000000000 bytes of packets, more than the 2 GiB that can be materialised",
        ),
        (
            "packet-generator new {\n size 0-64\n data { hex 00 }\n}",
            "t.pg:2: packet size must be at least 1 byte",
        ),
        (
            "packet-generator new {\n size 64-9001\n data { hex 00 }\n}",
            "t.pg:2: packet size 9001 is over the jumbo frame limit of 9000 bytes",
        ),
        (
            "packet-generator new {\n size 64-abc\n data { hex 00 }\n}",
            "t.pg:2: bad size '64-abc'",
        ),
        (
            "packet-generator new {\n data { hex 00 }\n size\n}",
            "t.pg:3: 'size' needs a value",
        ),
        (
            "packet-generator new {\n name\n}",
            "t.pg:2: 'name' needs a value",
        ),
        (
            "packet-generator new {\n node ip4-input\n data { hex 00 }\n}",
            "t.pg:2: node 'ip4-input' is not supported (expected handoffdemo-1)",
        ),
        (
            "packet-generator new {\n rate fast\n data { hex 00 }\n}",
            "t.pg:2: bad rate 'fast'",
        ),
        (
            "packet-generator new {\n rate inf\n data { hex 00 }\n}",
            "t.pg:2: bad rate 'inf'",
        ),
        (
            "packet-generator new {\n worker 99999999999\n data { hex 00 }\n}",
            "t.pg:2: bad worker '99999999999'",
        ),
        (
            "packet-generator new {\n data\n}",
            "t.pg:2: expected '{' after 'data', found end of stanza",
        ),
        (
            "packet-generator new {\n data {\n }\n}",
            "t.pg:2: no packet data given",
        ),
        (
            "packet-generator new {\n data {\n incrementing 3\n bogus 7\n }\n}",
            "t.pg:4: unknown input 'bogus 7'",
        ),
        (
            "packet-generator new {\n data {\n hex 0x123\n }\n}",
            "t.pg:3: bad hex string (even number of hex digits) '0x123'",
        ),
        (
            "packet-generator new {\n data {\n incrementing\n }\n}",
            "t.pg:3: expected a byte count after 'incrementing', found end of data",
        ),
        (
            "packet-generator new {\n data { hex 00 }\n data { hex 00 }\n}",
            "t.pg:3: 'data' given twice",
        ),
        (
            "packet-generator new {\n data { hex 00 }\n pcap x.pcap\n}",
            "t.pg:3: both 'data' and 'pcap' given",
        ),
        (
            "packet-generator new {\n size 40\n data {\n IP4: 1.2.3 -> 4.5.6\n UDP: 1.1.1.1 -> 2.2.2.2\n UDP: 1 -> 2\n }\n}",
            "t.pg:3: min-size 40 < total header size 42",
        ),
        (
            "packet-generator new {\n data {\n IP4: 1.2.3 -> 4.5.6\n UDP: 1.1.1.1 -> 2.2.2.2\n }\n}",
            "t.pg:4: the IP header needs a transport header after it ('UDP: SRC-PORT -> DST-PORT', 'TCP: SRC-PORT -> DST-PORT' or 'ICMP echo_request')",
        ),
        (
            "packet-generator new {\n data {\n IP4: 1.2.3 -> zz\n }\n}",
            "t.pg:3: bad MAC address 'zz'",
        ),
        (
            "packet-generator new {\n data {\n IP4: 1.2.3 4.5.6\n }\n}",
            "t.pg:3: expected '->' after '1.2.3', found '4.5.6'",
        ),
        (
            "packet-generator new {\n data {\n IP4: 1.2.3 -> 4.5.6\n UDP: ::1 -> ::2\n UDP: 1 -> 2\n }\n}",
            "t.pg:4: Ethernet type 'IP4:' does not match IPv6 addresses",
        ),
        (
            "packet-generator new {\n data {\n TCP: 1.1.1.1 -> 2.2.2.2\n UDP: 1 -> 2\n }\n}",
            "t.pg:4: 'UDP:' ports do not match the IP protocol TCP",
        ),
        (
            "packet-generator new {\n data {\n UDP: 1 -> 2\n }\n}",
            "t.pg:3: 'UDP:' ports need an IP header first ('UDP: SRC-IP -> DST-IP')",
        ),
        (
            "packet-generator new {\n data {\n UDP: 1.1.1.1 -> 2.2.2.2\n UDP: 1 -> 99999\n }\n}",
            "t.pg:4: bad port '99999'",
        ),
        (
            "packet-generator new {\n data {\n hex 00\n UDP: 1.1.1.1 -> 2.2.2.2\n }\n}",
            "t.pg:4: headers must come before the payload",
        ),
        (
            "packet-generator new { name a data { hex 00 } }\npacket-generator new { name a data { hex 00 } }",
            "t.pg:2: stream name 'a' already used at line 1",
        ),
        (
            "packet-generator new {\n pcap missing.pcap\n}",
            "t.pg:2: pcap 'missing.pcap': cannot read: No such file or directory (os error 2)",
        ),
        ("trace add pg-input 100\n", "t.pg:1: unknown input 'trace add pg-input 100'"),
        ("packet-generator\n", "t.pg:1: expected 'new' after 'packet-generator', found end of file"),
        ("# nothing\n\n", "t.pg:1: no 'packet-generator new' stanza"),
        (
            "packet-generator new { data { hex 00 } }\n}\n",
            "t.pg:2: unknown input '}'",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&err(text), want, "script:\n{text}");
    }
}

#[test]
fn errors_are_typed() {
    let e = parse("packet-generator new {\n}").expect_err("no data");
    assert_eq!(e.kind(), Some(&ErrorKind::NoData));
    assert_eq!(e.line(), Some(1));
    assert!(matches!(e, PgError::At { .. }));
}

#[test]
fn errors_fit_anyhow() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<PgError>();
    let e = parse("packet-generator new\n").expect_err("no data");
    assert_eq!(e.to_string(), "t.pg:1: no packet data given");
    // One line, even printed with its source chain.
    assert!(std::error::Error::source(&e).is_none());
}

#[test]
fn missing_script_file() {
    let e = parse_file(Path::new("/nonexistent/dir/script.pg")).expect_err("missing");
    assert_eq!(e.to_string(), "/nonexistent/dir/script.pg: cannot read: No such file or directory (os error 2)");
    assert!(matches!(e, PgError::Read { .. }));
    assert_eq!(e.line(), None);
}

#[test]
fn parse_file_reads_the_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pg_input_script");
    std::fs::write(&path, SEED).expect("write");
    let v = parse_file(&path).expect("parses");
    assert_eq!(v[0].packets().expect("p").len(), 5);
}

fn read_back(path: &Path) -> Vec<(std::time::Duration, Vec<u8>)> {
    let f = std::fs::File::open(path).expect("open");
    let mut r = pcap_file::pcap::PcapReader::new(f).expect("pcap header");
    assert_eq!(r.header().datalink, pcap_file::DataLink::ETHERNET);
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("packet");
        assert_eq!(p.orig_len as usize, p.data.len());
        out.push((p.timestamp, p.data.into_owned()));
    }
    out
}

#[test]
fn write_pcap_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.pcap");
    let pkts = one(SEED).packets().expect("p");
    write_pcap(&path, &pkts).expect("write");
    let back = read_back(&path);
    assert_eq!(back.len(), 5);
    for (i, (ts, data)) in back.iter().enumerate() {
        assert_eq!(*ts, std::time::Duration::from_micros(i as u64));
        assert_eq!(data, &pkts[i]);
    }
    // Empty list: a valid pcap with no packets.
    write_pcap(&path, &[]).expect("write empty");
    assert!(read_back(&path).is_empty());
    // Unwritable path: an error, nothing left behind.
    let bad = dir.path().join("no/such/dir/x.pcap");
    assert!(write_pcap(&bad, &pkts).is_err());
    assert!(!bad.exists());
}

#[test]
fn pcap_stream_replays_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkts: Vec<Vec<u8>> = vec![vec![1; 60], vec![2; 70], vec![3; 80]];
    write_pcap(&dir.path().join("in.pcap"), &pkts).expect("write");
    let script = dir.path().join("s.pg");
    std::fs::write(
        &script,
        "packet-generator new {\n name p\n pcap in.pcap\n}\n\
         packet-generator new {\n name q\n limit 7\n node ethernet-input\n pcap in.pcap\n}\n",
    )
    .expect("write");
    let v = parse_file(&script).expect("parses");
    // No limit: once through the file, as VPP.
    assert_eq!(v[0].limit, 3);
    assert!(!v[0].is_infinite());
    assert_eq!(v[0].size, SizeSpec::Step { min: 60, max: 80 });
    assert_eq!(v[0].packets().expect("p"), pkts);
    assert_eq!(v[0].pcap_file(), Some(dir.path().join("in.pcap").as_path()));
    let q = v[1].packets().expect("q");
    assert_eq!(q.len(), 7);
    assert_eq!(q[3], pkts[0]);
    assert_eq!(q[6], pkts[0]);

    // Not a pcap, and a pcap that is only a header.
    std::fs::write(dir.path().join("junk.pcap"), b"hello world, not a pcap").expect("write");
    write_pcap(&dir.path().join("empty.pcap"), &[]).expect("write");
    for (file, want) in
        [("junk.pcap", "pcap 'junk.pcap': not a pcap file"), ("empty.pcap", "pcap 'empty.pcap': no packets in file")]
    {
        let text = format!("\npacket-generator new {{\n pcap {file}\n}}\n");
        let e = parse_str(&text, "s.pg", dir.path()).expect_err("bad pcap");
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("s.pg:3: {want}")), "{msg}");
    }
    // Truncated pcap: header plus part of a packet.
    let good = std::fs::read(dir.path().join("in.pcap")).expect("read");
    for cut in [24 + 8, 24 + 16 + 10, good.len() - 1] {
        std::fs::write(dir.path().join("cut.pcap"), &good[..cut]).expect("write");
        let text = "packet-generator new { pcap cut.pcap }";
        let e = parse_str(text, "s.pg", dir.path()).expect_err("truncated");
        assert!(e.to_string().starts_with("s.pg:1: pcap 'cut.pcap': packet "), "{e}");
    }
}

/// Parses, and when that works makes the packets, if there are few enough.
fn exercise(text: &str) {
    if let Ok(streams) = parse(text) {
        for s in streams {
            let small = s.packet_count().map_or(true, |n| n * u64::from(s.size.bounds().1) < 1 << 24);
            if small {
                let _ = s.packets();
            }
        }
    }
}

#[test]
fn no_panic_on_garbage() {
    const WORDS: &[&str] = &[
        "packet-generator",
        "new",
        "{",
        "}",
        "{",
        "}",
        "name",
        "limit",
        "rate",
        "size",
        "interface",
        "node",
        "worker",
        "maxframe",
        "pcap",
        "data",
        "incrementing",
        "hex",
        "IP4:",
        "IP6:",
        "IP:",
        "UDP:",
        "TCP:",
        "ICMP:",
        "ICMP6:",
        "ICMP",
        "echo_request",
        "->",
        "ttl",
        "tos",
        "id",
        "seq",
        "SYN",
        "1.2.3",
        "00:11:22:33:44:55",
        "1.1.1.1",
        "::1",
        "2001:db8::1",
        "0",
        "1",
        "64",
        "128-128",
        "64+128",
        "9000",
        "9001",
        "65535",
        "99999999999999999999",
        "0x",
        "0xff",
        "0x1",
        "1e6",
        "-1",
        "nan",
        "inf",
        "10k",
        "\n",
        "\n",
        "#",
        "é",
        "\u{0}",
        "}{",
        "1->2",
        "UDP:1",
        "handoffdemo-1",
        "enable",
        "local0",
        "-",
        "+",
        "x.pcap",
        "buffer-size",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..20_000 {
        let n = rng.usize(0..40);
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(WORDS[rng.usize(0..WORDS.len())]);
            text.push(if rng.u8(..) < 200 { ' ' } else { '\n' });
        }
        exercise(&text);
    }
    // Random bytes, read as text the lossy way.
    for _ in 0..5_000 {
        let len = rng.usize(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        exercise(&String::from_utf8_lossy(&bytes));
    }
    // Every prefix of valid scripts.
    let valid = [
        SEED,
        "packet-generator new { name u limit 4 size 60-200 data {\n IP4: 1.2.3 -> 4.5.6\n \
         UDP: 192.168.1.10 -> 192.168.2.10 ttl 9\n UDP: 1234 -> 2345\n incrementing 300 } }\n\
         packet-generator new name v size 64+80 data { IP6: 1:2:3:4:5:6 -> 1.2.3 \
         ICMP: ::1 -> ::2 ICMP echo_request id 1 hex 0xabcdef }",
    ];
    for text in valid {
        exercise(text);
        for (i, _) in text.char_indices() {
            exercise(&text[..i]);
        }
    }
}

#[test]
fn packets_revalidates_edited_streams() {
    // Public fields can be changed after parsing: packets() must not panic.
    let mut s = one(SEED);
    s.size = SizeSpec::Random { min: 200, max: 100 };
    assert_eq!(s.packets().expect_err("range").kind(), Some(&ErrorKind::MaxLessThanMin));
    s.size = SizeSpec::Step { min: 0, max: 10 };
    assert!(s.packets().is_err());
    s.size = SizeSpec::Step { min: 64, max: 60000 };
    assert!(s.packets().is_err());
    s.size = SizeSpec::Step { min: 64, max: 64 };
    s.limit = u64::MAX;
    assert!(s.packets().is_err());
    let mut s = one("packet-generator new { data { UDP: 1.1.1.1 -> 2.2.2.2 UDP: 1 -> 2 } }");
    s.size = SizeSpec::Step { min: 10, max: 10 };
    assert!(matches!(s.packets().expect_err("short").kind(), Some(ErrorKind::HeaderTooBig { .. })));
}
