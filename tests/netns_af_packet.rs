//! Real kernel traffic: handoff reads veth interfaces through DPDK's
//! net_af_packet PMD inside network namespaces this test creates (and always
//! removes). Traffic stays on veth pairs between those namespaces, on
//! TEST-NET-1 (192.0.2.0/24) addresses that exist only there. Needs root;
//! without it the tests say "skipped" (and fail when CI is set).
//!
//! The traffic is made in-process: a thread enters a namespace with setns(2)
//! and uses a raw ICMP or a UDP socket, so no ping binary is needed.

mod common;

use std::fs::File;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const A_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PINGS: u16 = 20;
const DATAGRAMS: usize = 20;

/// The `ip` tool, or None when iproute2 is missing.
fn ip_tool() -> Option<PathBuf> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Whether this test can run here. Without root (or `ip`) it is skipped with
/// a message, except under CI, which runs as root and must never skip.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !root {
        "needs root (network namespaces, veth pairs, AF_PACKET)"
    } else if ip_tool().is_none() {
        "needs iproute2's ip"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}, and CI must run it");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

fn ip(a: &[&str]) {
    let tool = ip_tool().expect("ip");
    let out = Command::new(&tool).args(a).stdin(Stdio::null()).output().expect("run ip");
    assert!(out.status.success(), "ip {} failed: {}", a.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Network namespaces of one test, deleted on drop (with the veth ends
/// inside them), whether the test passed or panicked.
struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    /// Creates `names` (each unique to this process) with IPv6 off, so the
    /// only traffic on the links is the test's own, and loopback up.
    fn create(names: &[&str]) -> Namespaces {
        let mut ns = Namespaces { names: Vec::new() };
        for n in names {
            let tool = ip_tool().expect("ip");
            // A leftover of a crashed run with this pid would fail `add`; names hold our pid, so it is ours.
            let _ = Command::new(&tool).args(["netns", "del", n]).stderr(Stdio::null()).status();
            ip(&["netns", "add", n]);
            ns.names.push(n.to_string());
            in_netns(n, || {
                // IPv6 autoconfiguration (MLD, DAD, router solicitations) would
                // add packets of its own; a kernel without IPv6 has no files here.
                for conf in ["all", "default"] {
                    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1");
                }
            });
            ip(&["-n", n, "link", "set", "lo", "up"]);
        }
        ns
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let Some(tool) = ip_tool() else { return };
        for n in &self.names {
            let ok = Command::new(&tool).args(["netns", "del", n]).stderr(Stdio::null()).status();
            if !matches!(ok, Ok(s) if s.success()) {
                eprintln!("warning: could not delete network namespace {n}");
            }
        }
    }
}

/// A veth pair, end `a` in namespace `ns_a` and end `b` in `ns_b`, created
/// there directly (never in this namespace), with fixed MACs, both up.
fn veth(ns_a: &str, a: &str, mac_a: &str, ns_b: &str, b: &str, mac_b: &str) {
    assert!(a.len() <= 15 && b.len() <= 15, "interface names {a}, {b} too long");
    ip(&[
        "link", "add", a, "netns", ns_a, "address", mac_a, "type", "veth", "peer", "name", b, "netns", ns_b, "address",
        mac_b,
    ]);
    ip(&["-n", ns_a, "link", "set", a, "up"]);
    ip(&["-n", ns_b, "link", "set", b, "up"]);
}

/// Runs `f` on a thread that has entered network namespace `ns`; panics propagate.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: a valid netns fd; setns(CLONE_NEWNET) moves only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Spawns handoff in namespace `ns` via `ip netns exec` (which execs it: the
/// child's pid is handoff's).
fn spawn_in(ns: &str, a: &[String]) -> Child {
    Command::new(ip_tool().expect("ip"))
        .args(["netns", "exec", ns])
        .arg(bin())
        .args(a)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn handoff")
}

/// The interface indexes that packet sockets in namespace `ns` are bound to
/// (column `Iface` of /proc/net/packet; 0 for an unbound socket).
fn bound_packet_sockets(ns: &str) -> Vec<u32> {
    in_netns(ns, || {
        let text = std::fs::read_to_string("/proc/thread-self/net/packet").unwrap_or_default();
        text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(4)?.parse().ok()).collect()
    })
}

fn ifindex(ns: &str, name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    let index = in_netns(ns, move || {
        // SAFETY: a NUL-terminated name; the lookup runs in this thread's namespace.
        unsafe { libc::if_nametoindex(c.as_ptr()) }
    });
    assert_ne!(index, 0, "no interface {name} in {ns}");
    index
}

/// Waits (at most 20 s) until handoff has a packet socket bound to each of
/// `ifaces` in `ns`. net_af_packet opens its queue's socket at probe, sets up
/// its ring, then binds it: only from then on does it see exactly that
/// interface's traffic (an unbound ETH_P_ALL socket sees every interface's,
/// the probe's temporary socket none). Panics with handoff's output if it
/// exits or times out first.
fn wait_bound(mut child: Child, ns: &str, ifaces: &[&str]) -> Running {
    let want: Vec<u32> = ifaces.iter().map(|i| ifindex(ns, i)).collect();
    let start = Instant::now();
    for _ in 0..400 {
        let bound = bound_packet_sockets(ns);
        if want.iter().all(|i| bound.contains(i)) {
            return Running(Some(child));
        }
        if child.try_wait().expect("try_wait").is_some() || start.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "handoff did not bind AF_PACKET sockets to {ifaces:?} in {ns}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// handoff running in a namespace, killed if the test panics before waiting
/// for it (so the namespace it holds goes away with the guard).
struct Running(Option<Child>);

impl Running {
    fn wait(mut self, limit: Duration) -> std::process::Output {
        wait(self.0.take().expect("a running child"), limit)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "handoff failed: {:?}\nstderr:\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{}\nstderr:\n{stderr}", String::from_utf8_lossy(&out.stdout)))
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend(b"handoff netns af_packet test....");
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

/// Pings `to` `count` times, 50 ms apart, from the calling thread's
/// namespace over a raw ICMP socket; each reply is awaited at most 1 s.
/// Returns how many echo replies came back.
fn ping(to: Ipv4Addr, count: u16, id: u16) -> std::io::Result<u16> {
    // SAFETY: plain socket(2); the fd is owned by `sock` from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, open descriptor owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
    // SAFETY: a valid socket and a timeval of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let dst = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(to).to_be() },
        sin_zero: [0; 8],
    };
    let mut replies = 0;
    for seq in 0..count {
        let req = echo_request(id, seq);
        // SAFETY: a valid socket, buffer and sockaddr_in of the sizes given.
        let sent = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                req.as_ptr() as *const libc::c_void,
                req.len(),
                0,
                &dst as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut buf = [0u8; 2048];
        // At most 1 s (10 timeouts of 100 ms) or 100 unrelated packets per ping.
        for _ in 0..100 {
            if Instant::now() > deadline {
                break;
            }
            // SAFETY: a valid socket and a writable buffer of the size given.
            let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) {
                    continue;
                }
                return Err(e);
            }
            // A raw socket hands over the IP header too.
            let pkt = &buf[..n as usize];
            let Some(icmp) = pkt.first().and_then(|v| pkt.get(usize::from(v & 0xf) * 4..)) else { continue };
            if icmp.len() >= 8 && icmp[0] == 0 && icmp[4..6] == id.to_be_bytes() && icmp[6..8] == seq.to_be_bytes() {
                replies += 1;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(replies)
}

/// SO_NO_CHECK (asm-generic and x86 value; the libc crate exports it only for some targets).
const SO_NO_CHECK: libc::c_int = 11;

/// Sends this socket's datagrams with UDP checksum 0 ("none", valid for
/// IPv4). Otherwise the veth leaves the checksum to "hardware"
/// (CHECKSUM_PARTIAL): AF_PACKET marks such frames TP_STATUS_CSUMNOTREADY,
/// which net_af_packet (DPDK 22.11) ignores, so the forwarded frame would
/// carry a partial checksum and B's kernel would drop it (UDP InCsumErrors).
fn no_udp_checksum(sock: &UdpSocket) -> std::io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket and an int option of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NO_CHECK,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The dpdk-input record texts of thread 1's traced packets.
fn input_records(doc: &serde_json::Value) -> Vec<String> {
    let trace = doc["trace"].as_array().expect("trace");
    let t1 = trace.iter().find(|t| t["thread"] == 1).expect("a trace of thread 1");
    t1["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let r = &p["records"][0];
            assert_eq!(r["node"], "dpdk-input", "{p}");
            r["text"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn af_packet_on_a_veth_sees_pings_between_namespaces() {
    if !can_run("af_packet_on_a_veth_sees_pings_between_namespaces") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let (ns_a, ns_b) = (format!("hoA{pid}"), format!("hoB{pid}"));
    let (va, vb) = (format!("va{pid}"), format!("vb{pid}"));
    let _ns = Namespaces::create(&[&ns_a, &ns_b]);
    veth(&ns_a, &va, "02:00:00:00:0a:01", &ns_b, &vb, "02:00:00:00:0b:01");
    ip(&["-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &va]);
    ip(&["-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &vb]);

    let started = Instant::now();
    let a = Run::new("afpacket").vdev(format!("net_af_packet0,iface={va}")).duration(4).trace(10).json().command_line();
    let running = wait_bound(spawn_in(&ns_a, &a), &ns_a, &[&va]);
    // The kernel in A answers; af_packet sees the requests come in and the replies go out.
    let id = (pid & 0xffff) as u16;
    let replies = in_netns(&ns_b, move || ping(A_ADDR, PINGS, id));
    let out = running.wait(Duration::from_secs(30));
    let doc = json_of(&out);
    let replies = replies.expect("ping from namespace B");
    eprintln!("af_packet ping test: {replies} replies, {:.1} s", started.elapsed().as_secs_f64());

    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "duration");
    assert!(replies > 0, "no echo reply from {A_ADDR}: the veth setup is broken");
    let received = doc["conservation"]["received"].as_u64().unwrap();
    // Every request in, every reply out (plus ARP).
    assert!(received >= u64::from(PINGS + replies), "received {received}, sent {PINGS} pings, {replies} replies");
    let handed = error_count(&doc, 1, "packets handed off processed");
    let congestion = error_count(&doc, 1, "handoff queue congestion drops");
    assert_eq!(handed + congestion, received);
    assert_eq!(error_count(&doc, 2, "completed packets"), handed);
    assert_eq!(node(&doc, 1, "dpdk-input").unwrap()["vectors"], received);
    assert_eq!(node(&doc, 2, "drop").unwrap()["vectors"], handed);

    // The default placement (rx lcore 0, worker lcore 2, --no-pci) works in a namespace.
    let rt = doc["runtime"].as_array().unwrap();
    assert_eq!(rt.len(), 2);
    assert_eq!((rt[0]["thread"].as_u64(), rt[0]["lcore"].as_u64()), (Some(1), Some(0)));
    assert_eq!((rt[1]["thread"].as_u64(), rt[1]["lcore"].as_u64()), (Some(2), Some(2)));

    let ifs = doc["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 1);
    assert_eq!(ifs[0]["name"], "net_af_packet0");
    assert_eq!(ifs[0]["rx_packets"], received);

    let records = input_records(&doc);
    assert_eq!(records.len(), 10.min(received as usize));
    for r in &records {
        assert_eq!(r.lines().next(), Some("net_af_packet0 rx queue 0"), "{r}");
    }
    // Fresh neighbour tables and no IPv6: B's ARP request for A comes first.
    let arp: Vec<&str> = records[0].lines().collect();
    assert!(arp.contains(&"ARP: 02:00:00:00:0b:01 -> ff:ff:ff:ff:ff:ff"), "{}", records[0]);
    assert!(arp.contains(&"request, type ethernet/IP4, address size 6/4"), "{}", records[0]);
    assert!(arp.contains(&"02:00:00:00:0b:01/192.0.2.2 -> 00:00:00:00:00:00/192.0.2.1"), "{}", records[0]);
    let request = records
        .iter()
        .find(|r| r.lines().any(|l| l.starts_with("ICMP echo_request ")))
        .unwrap_or_else(|| panic!("no traced ICMP echo_request in:\n{}", records.join("\n---\n")));
    let lines: Vec<&str> = request.lines().collect();
    assert!(lines.contains(&"IP4: 02:00:00:00:0b:01 -> 02:00:00:00:0a:01"), "{request}");
    assert!(lines.contains(&"ICMP: 192.0.2.2 -> 192.0.2.1"), "{request}");
    assert!(lines.iter().any(|l| l.starts_with("  tos 0x00, ttl 64, length 60, checksum 0x")), "{request}");
    let echo = lines.iter().find(|l| l.starts_with("ICMP echo_request ")).unwrap();
    assert!(echo.starts_with("ICMP echo_request checksum 0x"), "{echo}");
    assert!(echo.ends_with(&format!(" id {id}")), "{echo}");
    assert!(
        records.iter().any(|r| r.lines().any(|l| l == "ICMP: 192.0.2.1 -> 192.0.2.2")),
        "af_packet sees A's replies too"
    );
    // Each traced packet followed across the handoff to the worker.
    let t2 = doc["trace"].as_array().unwrap().iter().find(|t| t["thread"] == 2).expect("trace of thread 2");
    let handed_texts: Vec<&str> =
        t2["packets"].as_array().unwrap().iter().filter_map(|p| p["records"][0]["text"].as_str()).collect();
    assert_eq!(handed_texts.len(), records.len());
    assert!(handed_texts.iter().all(|t| t.starts_with("HANDED-OFF: from thread 1")), "{handed_texts:?}");
}

/// One-way forwarding through handoff: A -> (handoff in H: net_af_packet0 ->
/// net_af_packet1) -> B. A knows B's MAC statically, so nothing needs to come
/// back; B's UDP socket proves every datagram went through handoff.
#[test]
fn af_packet_output_forwards_udp_between_namespaces() {
    if !can_run("af_packet_output_forwards_udp_between_namespaces") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let (ns_a, ns_h, ns_b) = (format!("hfA{pid}"), format!("hfH{pid}"), format!("hfB{pid}"));
    let (fa, fha, fhb, fb) = (format!("fa{pid}"), format!("fha{pid}"), format!("fhb{pid}"), format!("fb{pid}"));
    let _ns = Namespaces::create(&[&ns_a, &ns_h, &ns_b]);
    veth(&ns_a, &fa, "02:00:00:00:0a:02", &ns_h, &fha, "02:00:00:00:0c:01");
    veth(&ns_h, &fhb, "02:00:00:00:0c:02", &ns_b, &fb, "02:00:00:00:0b:02");
    ip(&["-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &fa]);
    ip(&["-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &fb]);
    // handoff forwards one way only, so ARP could not be answered: A knows B's MAC.
    ip(&["-n", &ns_a, "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:0b:02", "dev", &fa, "nud", "permanent"]);

    let started = Instant::now();
    let a = Run::new("afpacket-fwd")
        .vdev(format!("net_af_packet0,iface={fha}"))
        .vdev(format!("net_af_packet1,iface={fhb}"))
        .output("net_af_packet1")
        .duration(3)
        .json()
        .command_line();
    let running = wait_bound(spawn_in(&ns_h, &a), &ns_h, &[&fha, &fhb]);
    const PORT: u16 = 40_000;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let ns_b2 = ns_b.clone();
    let receiver = std::thread::spawn(move || {
        in_netns(&ns_b2, move || -> std::io::Result<Vec<Vec<u8>>> {
            let sock = UdpSocket::bind(SocketAddrV4::new(B_ADDR, PORT))?;
            sock.set_read_timeout(Some(Duration::from_millis(100)))?;
            let _ = ready_tx.send(());
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            // At most 5 s and 1000 reads.
            for _ in 0..1000 {
                if got.len() == DATAGRAMS || Instant::now() > deadline {
                    break;
                }
                match sock.recv(&mut buf) {
                    Ok(n) => got.push(buf[..n].to_vec()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        })
    });
    let sent: Vec<Vec<u8>> = (0..DATAGRAMS).map(|i| format!("handoff datagram {i:02}").into_bytes()).collect();
    let ready = ready_rx.recv_timeout(Duration::from_secs(5)).is_ok();
    let to_send = sent.clone();
    let send_result = in_netns(&ns_a, move || -> std::io::Result<()> {
        let sock = UdpSocket::bind(SocketAddrV4::new(A_ADDR, 0))?;
        no_udp_checksum(&sock)?;
        for d in &to_send {
            sock.send_to(d, SocketAddrV4::new(B_ADDR, PORT))?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    });
    let got = receiver.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let out = running.wait(Duration::from_secs(30));
    let doc = json_of(&out);
    eprintln!("af_packet forwarding test: {:.1} s", started.elapsed().as_secs_f64());
    assert!(ready, "B's receiver did not start");
    send_result.expect("send from namespace A");
    let got = got.expect("receive in namespace B");

    assert_conserved(&doc);
    assert_eq!(doc["stopped_by"], "duration");
    assert_eq!(got, sent, "B must receive every datagram, in order, through handoff");
    let c = &doc["conservation"];
    let received = c["received"].as_u64().unwrap();
    assert!(received >= DATAGRAMS as u64, "received {received}");
    assert_eq!(c["transmitted"], received, "everything received is forwarded: {c}");
    assert_eq!(error_count(&doc, 1, "handoff queue congestion drops"), 0);
    assert_eq!(c["dropped"], 0, "{c}");
    assert_eq!(error_count(&doc, 2, "tx queue full drops"), 0);
    assert_eq!(node(&doc, 2, "interface-output").unwrap()["vectors"], received);
    let ifs = doc["interfaces"].as_array().unwrap();
    let names: Vec<&str> = ifs.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["net_af_packet0", "net_af_packet1"]);
    assert_eq!(ifs[0]["rx_packets"].as_u64().unwrap() + ifs[1]["rx_packets"].as_u64().unwrap(), received);
    assert!(ifs[0]["rx_packets"].as_u64().unwrap() >= DATAGRAMS as u64);
    assert_eq!(ifs[1]["tx_packets"], received);
}

/// Receives up to `n` datagrams on `addr:port` in namespace `ns`, at most 5 s;
/// says on `ready` when its socket is bound.
fn udp_receiver(
    ns: String,
    addr: Ipv4Addr,
    port: u16,
    n: usize,
    ready: std::sync::mpsc::Sender<()>,
) -> std::thread::JoinHandle<std::io::Result<Vec<Vec<u8>>>> {
    std::thread::spawn(move || {
        in_netns(&ns, move || -> std::io::Result<Vec<Vec<u8>>> {
            let sock = UdpSocket::bind(SocketAddrV4::new(addr, port))?;
            sock.set_read_timeout(Some(Duration::from_millis(100)))?;
            let _ = ready.send(());
            let deadline = Instant::now() + Duration::from_secs(5);
            let (mut got, mut buf) = (Vec::new(), vec![0u8; 65536]);
            // At most 5 s and 1000 reads.
            for _ in 0..1000 {
                if got.len() == n || Instant::now() > deadline {
                    break;
                }
                match sock.recv(&mut buf) {
                    Ok(len) => got.push(buf[..len].to_vec()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(got)
        })
    })
}

/// Sends `datagrams` from `from` in namespace `ns` to `to:port`, 20 ms apart.
fn udp_send(ns: &str, from: Ipv4Addr, to: Ipv4Addr, port: u16, datagrams: Vec<Vec<u8>>) -> std::io::Result<()> {
    in_netns(ns, move || -> std::io::Result<()> {
        let sock = UdpSocket::bind(SocketAddrV4::new(from, 0))?;
        no_udp_checksum(&sock)?;
        for d in &datagrams {
            sock.send_to(d, SocketAddrV4::new(to, port))?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    })
}

/// Port pairs, l2fwd-style: `--output 0:1,1:0` between two veth pairs. A's
/// datagrams reach B and B's reach A, each through the other port only.
#[test]
fn af_packet_port_pairs_forward_both_ways() {
    if !can_run("af_packet_port_pairs_forward_both_ways") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let (ns_a, ns_h, ns_b) = (format!("hpA{pid}"), format!("hpH{pid}"), format!("hpB{pid}"));
    let (pa, pha, phb, pb) = (format!("pa{pid}"), format!("pha{pid}"), format!("phb{pid}"), format!("pb{pid}"));
    let _ns = Namespaces::create(&[&ns_a, &ns_h, &ns_b]);
    veth(&ns_a, &pa, "02:00:00:00:0a:03", &ns_h, &pha, "02:00:00:00:0c:03");
    veth(&ns_h, &phb, "02:00:00:00:0c:04", &ns_b, &pb, "02:00:00:00:0b:03");
    ip(&["-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &pa]);
    ip(&["-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &pb]);
    // No ARP needed either way: each side knows the other's MAC.
    ip(&["-n", &ns_a, "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:0b:03", "dev", &pa, "nud", "permanent"]);
    ip(&["-n", &ns_b, "neigh", "replace", "192.0.2.1", "lladdr", "02:00:00:00:0a:03", "dev", &pb, "nud", "permanent"]);

    let a = Run::new("afpacket-pairs")
        .vdev(format!("net_af_packet0,iface={pha}"))
        .vdev(format!("net_af_packet1,iface={phb}"))
        .output("0:1,1:0")
        .duration(3)
        .json()
        .command_line();
    let running = wait_bound(spawn_in(&ns_h, &a), &ns_h, &[&pha, &phb]);
    const PORT: u16 = 40_001;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let at_b = udp_receiver(ns_b.clone(), B_ADDR, PORT, DATAGRAMS, ready_tx.clone());
    let at_a = udp_receiver(ns_a.clone(), A_ADDR, PORT, DATAGRAMS, ready_tx);
    let ready = (0..2).all(|_| ready_rx.recv_timeout(Duration::from_secs(5)).is_ok());
    let from_a: Vec<Vec<u8>> = (0..DATAGRAMS).map(|i| format!("from A {i:02}").into_bytes()).collect();
    let from_b: Vec<Vec<u8>> = (0..DATAGRAMS).map(|i| format!("from B {i:02}").into_bytes()).collect();
    let sent_a = udp_send(&ns_a, A_ADDR, B_ADDR, PORT, from_a.clone());
    let sent_b = udp_send(&ns_b, B_ADDR, A_ADDR, PORT, from_b.clone());
    let got_b = at_b.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let got_a = at_a.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let out = running.wait(Duration::from_secs(30));
    let doc = json_of(&out);
    assert!(ready, "the receivers did not start");
    sent_a.expect("send from A");
    sent_b.expect("send from B");
    assert_eq!(got_b.expect("receive in B"), from_a, "B gets every datagram of A, in order");
    assert_eq!(got_a.expect("receive in A"), from_b, "A gets every datagram of B, in order");

    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["dropped"], 0, "{}", doc["conservation"]);
    // Each port's packets left by its partner only.
    let ifs = doc["interfaces"].as_array().unwrap();
    assert_eq!(ifs[1]["tx_packets"], ifs[0]["rx_packets"], "{ifs:?}");
    assert_eq!(ifs[0]["tx_packets"], ifs[1]["rx_packets"], "{ifs:?}");
    let pairs = doc["pairs"].as_array().expect("per-pair counters");
    assert_eq!(pairs.len(), 2);
    for (p, rx, tx) in [(&pairs[0], 0, 1), (&pairs[1], 1, 0)] {
        assert_eq!((p["rx_port"].as_u64(), p["tx_port"].as_u64()), (Some(rx), Some(tx)), "{p}");
        assert_eq!(p["packets"], ifs[rx as usize]["rx_packets"], "{p}");
        assert!(p["packets"].as_u64().unwrap() >= DATAGRAMS as u64, "{p}");
        assert_eq!(p["refused"], 0, "{p}");
    }
}

/// Jumbo frames over af_packet: veth pairs with MTU 9000, and handoff given
/// no size at all: it reads the interfaces' MTU, sizes af_packet's frames
/// and the mbufs, and 9014-byte frames (9000-byte IP packets) reach B whole.
#[test]
fn af_packet_forwards_jumbo_frames_on_a_9000_mtu_veth() {
    if !can_run("af_packet_forwards_jumbo_frames_on_a_9000_mtu_veth") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let (ns_a, ns_h, ns_b) = (format!("hjA{pid}"), format!("hjH{pid}"), format!("hjB{pid}"));
    let (ja, jha, jhb, jb) = (format!("ja{pid}"), format!("jha{pid}"), format!("jhb{pid}"), format!("jb{pid}"));
    let _ns = Namespaces::create(&[&ns_a, &ns_h, &ns_b]);
    veth(&ns_a, &ja, "02:00:00:00:0a:04", &ns_h, &jha, "02:00:00:00:0c:05");
    veth(&ns_h, &jhb, "02:00:00:00:0c:06", &ns_b, &jb, "02:00:00:00:0b:04");
    for (ns, dev) in [(&ns_a, &ja), (&ns_h, &jha), (&ns_h, &jhb), (&ns_b, &jb)] {
        ip(&["-n", ns, "link", "set", "dev", dev, "mtu", "9000"]);
    }
    ip(&["-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &ja]);
    ip(&["-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &jb]);
    ip(&["-n", &ns_a, "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:0b:04", "dev", &ja, "nud", "permanent"]);

    let a = Run::new("afpacket-jumbo")
        .vdev(format!("net_af_packet0,iface={jha}"))
        .vdev(format!("net_af_packet1,iface={jhb}"))
        .output("net_af_packet1")
        .duration(3)
        .json()
        .command_line();
    let running = wait_bound(spawn_in(&ns_h, &a), &ns_h, &[&jha, &jhb]);
    const PORT: u16 = 40_002;
    const JUMBOS: usize = 10;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let at_b = udp_receiver(ns_b.clone(), B_ADDR, PORT, JUMBOS, ready_tx);
    let ready = ready_rx.recv_timeout(Duration::from_secs(5)).is_ok();
    // 8972 bytes of UDP payload: a 9000-byte IP packet, a 9014-byte frame.
    let sent: Vec<Vec<u8>> = (0..JUMBOS).map(|i| (0..8972).map(|b| (b * 13 + i) as u8).collect()).collect();
    let send_result = udp_send(&ns_a, A_ADDR, B_ADDR, PORT, sent.clone());
    let got = at_b.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let out = running.wait(Duration::from_secs(30));
    let doc = json_of(&out);
    assert!(ready, "B's receiver did not start");
    send_result.expect("send from namespace A");
    let got = got.expect("receive in namespace B");
    let lens: Vec<usize> = got.iter().map(Vec::len).collect();
    assert!(
        got == sent,
        "every 8972-byte datagram arrives whole, in order; got lengths {lens:?}: {}",
        doc["interfaces"]
    );

    assert_conserved(&doc);
    assert_eq!(doc["conservation"]["dropped"], 0, "{}", doc["conservation"]);
    let ifs = doc["interfaces"].as_array().unwrap();
    let tx_bytes = ifs[1]["tx_bytes"].as_u64().unwrap();
    assert!(tx_bytes >= (JUMBOS * 9014) as u64, "{ifs:?}");
    assert_eq!(ifs[1]["tx_errors"], 0, "no frame was too long for the tx ring: {ifs:?}");
    // What af_packet cannot report is said beside each port and once on stderr.
    for i in ifs {
        let caveats = i["caveats"].as_array().unwrap_or_else(|| panic!("caveats on {i}"));
        assert!(caveats.iter().any(|c| c.as_str().unwrap().contains("kernel drops are not counted")), "{i}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("net_af_packet0: kernel drops are not counted").count(), 1, "{stderr}");
}

/// `--max-pkt-len` beyond what a port reports (net_tap: 1522) is one line
/// naming the port and its limit, exit 1; the tap lives in a namespace of
/// the test's own.
#[test]
fn max_pkt_len_beyond_a_ports_limit_is_one_line() {
    if !can_run("max_pkt_len_beyond_a_ports_limit_is_one_line") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let ns = format!("hjT{pid}");
    let _ns = Namespaces::create(&[&ns]);
    let a = Run::new("tap-maxlen")
        .vdev(format!("net_tap0,iface=jt{pid}"))
        .args(["--max-pkt-len", "9018"])
        .duration(1)
        .command_line();
    let out = wait(spawn_in(&ns, &a), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("handoff:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("net_tap0") && lines[0].contains("max_rx_pktlen 1522"), "{stderr}");
}

/// A frame longer than what the tx port's af_packet frames hold (a jumbo
/// from a 9000-MTU veth out to a 1500-MTU one) is dropped by the driver and
/// counted where it tells: that port's `tx_errors`.
#[test]
fn af_packet_counts_frames_too_long_for_its_tx_ring() {
    if !can_run("af_packet_counts_frames_too_long_for_its_tx_ring") {
        return;
    }
    let _g = serial();
    let pid = std::process::id();
    let (ns_a, ns_h, ns_b) = (format!("hkA{pid}"), format!("hkH{pid}"), format!("hkB{pid}"));
    let (ka, kha, khb, kb) = (format!("ka{pid}"), format!("kha{pid}"), format!("khb{pid}"), format!("kb{pid}"));
    let _ns = Namespaces::create(&[&ns_a, &ns_h, &ns_b]);
    veth(&ns_a, &ka, "02:00:00:00:0a:05", &ns_h, &kha, "02:00:00:00:0c:07");
    veth(&ns_h, &khb, "02:00:00:00:0c:08", &ns_b, &kb, "02:00:00:00:0b:05");
    ip(&["-n", &ns_a, "link", "set", "dev", &ka, "mtu", "9000"]);
    ip(&["-n", &ns_h, "link", "set", "dev", &kha, "mtu", "9000"]);
    ip(&["-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &ka]);
    ip(&["-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &kb]);
    ip(&["-n", &ns_a, "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:0b:05", "dev", &ka, "nud", "permanent"]);

    let a = Run::new("afpacket-toolong")
        .vdev(format!("net_af_packet0,iface={kha}"))
        .vdev(format!("net_af_packet1,iface={khb}"))
        .output("net_af_packet1")
        .duration(3)
        .json()
        .command_line();
    let running = wait_bound(spawn_in(&ns_h, &a), &ns_h, &[&kha, &khb]);
    const PORT: u16 = 40_003;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let small: Vec<Vec<u8>> = (0..4).map(|i| format!("small {i}").into_bytes()).collect();
    let at_b = udp_receiver(ns_b.clone(), B_ADDR, PORT, small.len(), ready_tx);
    let ready = ready_rx.recv_timeout(Duration::from_secs(5)).is_ok();
    // Jumbo and small datagrams, alternating.
    let sent: Vec<Vec<u8>> = small.iter().flat_map(|s| [vec![7u8; 8972], s.clone()]).collect();
    let send_result = udp_send(&ns_a, A_ADDR, B_ADDR, PORT, sent);
    let got = at_b.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let out = running.wait(Duration::from_secs(30));
    let doc = json_of(&out);
    assert!(ready, "B's receiver did not start");
    send_result.expect("send from namespace A");
    assert_eq!(got.expect("receive in namespace B"), small, "the small datagrams pass");
    assert_conserved(&doc);
    let ifs = doc["interfaces"].as_array().unwrap();
    assert_eq!(ifs[1]["tx_errors"], 4, "each jumbo is counted where af_packet tells: {ifs:?}");
}
