//! The node tier: each node run on real mbufs through `Frame`, without
//! spawning the binary. The EAL starts once per test binary (no hugepages,
//! no shared config, its own `handoff-<pid>` prefix), with one net_null port
//! to poll and send on.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use handoff::dpdk::port::ports;
use handoff::dpdk::runtime_files::RuntimeFiles;
use handoff::dpdk::{self, rdtsc, Buffers, Burst, Eal, Port, PortConfig, RxQueue, TxQueue};
use handoff::ids::{QueueId, ThreadId, TraceHandle};
use handoff::nodes::chain::{ErrorDrop, Step, WorkerChain};
use handoff::nodes::counters::LcoreCounters;
use handoff::nodes::dpdk_input::{self, Tracer};
use handoff::nodes::frame::{Frame, FrameParts};
use handoff::nodes::handoffdemo::Handoff;
use handoff::nodes::interface_output::{PairOutput, TxOutput, TxRetry};
use handoff::nodes::mac_rewrite::{MacMode, MacRewrite, PeerRewrite, TxPorts};
use handoff::nodes::{error_drop, Node, PacketTrace, Reason, Record, TracedInBurst};
use handoff::trace::text::FormatContext;

struct Env {
    eal: Eal,
    buffers: Arc<Buffers>,
    /// net_null0: rx makes 64-byte frames, tx frees what it takes. Kept
    /// started for the whole binary (its queues are used through the handles).
    _port: Port,
    /// Its queue handles, each taken once (the tests that send take one each).
    txqs: Mutex<Vec<TxQueue>>,
    rxq: Mutex<Option<RxQueue>>,
}

impl Env {
    fn txq(&self) -> TxQueue {
        self.txqs.lock().unwrap_or_else(|e| e.into_inner()).pop().expect("a tx queue left for this test")
    }
}

static ENV: OnceLock<Env> = OnceLock::new();
/// One per test that transmits.
const TX_QUEUES: u16 = 4;
/// One test at a time on the port's single queues.
static SERIAL: Mutex<()> = Mutex::new(());

fn env() -> (&'static Env, MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = ENV.get_or_init(|| {
        let args: Vec<String> = [
            "--no-huge",
            "--no-shconf",
            "-m",
            "128",
            "-l",
            "0",
            "--vdev",
            "net_null0",
            "--log-level",
            "lib.*:error",
            "--file-prefix",
            &format!("handoff-{}", std::process::id()),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let files = RuntimeFiles::before_init(&format!("handoff-{}", std::process::id()));
        let eal = Eal::init(&args).expect("EAL starts");
        // --no-shconf: EAL keeps nothing in its runtime directory, so it goes now.
        files.remove_after_run();
        let buffers = Arc::new(Buffers::create(&eal, &[0], 2047, 0, 2048, true).expect("a pool"));
        let info = ports(&eal).expect("ports").into_iter().next().expect("net_null0");
        let config = PortConfig {
            rx_queues: 1,
            tx_queues: TX_QUEUES,
            rx_desc: 256,
            tx_desc: 256,
            fast_free: false,
            mtu: None,
            rx_scatter: false,
            tx_multi_segs: false,
        };
        let mut port = Port::configure(&eal, info, config, &buffers).expect("net_null0 configures");
        port.start().expect("net_null0 starts");
        let txqs = (0..TX_QUEUES).map(|q| port.take_tx_queue(QueueId(q)).expect("a tx queue")).collect();
        let rxq = port.take_rx_queue(QueueId(0));
        Env { eal, buffers, _port: port, txqs: Mutex::new(txqs), rxq: Mutex::new(rxq) }
    });
    (env, guard)
}

/// An Ethernet/IPv4/UDP frame from ...:src to ...:dst.
fn frame(dst: u8, src: u8, i: u8) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, src], [2, 0, 0, 0, 0, dst])
        .ipv4([10, 0, 0, 1], [10, 0, 0, i], 64)
        .udp(1024, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[i; 40]).unwrap();
    v
}

/// A burst of `frames`, each (rx port, bytes).
fn burst_of(env: &Env, frames: &[(u16, Vec<u8>)]) -> Burst {
    let mut b = Burst::new();
    for (port, bytes) in frames {
        let m = env.buffers.alloc_frame(0, bytes, *port).expect("a free mbuf");
        assert!(b.push(m).is_ok());
    }
    b
}

/// A thread's state a frame borrows.
struct Thread {
    counters: LcoreCounters,
    traces: Vec<PacketTrace>,
    traced: TracedInBurst,
}

impl Thread {
    fn new() -> Thread {
        Thread { counters: LcoreCounters::default(), traces: Vec::with_capacity(64), traced: TracedInBurst::default() }
    }

    /// Traces the packets at `positions` as if an rx lcore had (each gets an empty trace).
    fn trace_positions(&mut self, positions: &[usize]) {
        for &p in positions {
            self.traced.add(p, self.traces.len());
            self.traces.push(PacketTrace::default());
        }
    }

    fn frame<'a>(&'a mut self, env: &'a Env, burst: &'a mut Burst) -> Frame<'a> {
        let parts = FrameParts {
            traced: &mut self.traced,
            traces: &mut self.traces,
            trace_limit: 64,
            counters: &self.counters,
            buffers: &env.buffers,
            give_back: None,
        };
        Frame::new(burst, parts)
    }

    fn calls_vectors(&self, n: Node) -> (u64, u64) {
        let (calls, vectors, _) = self.counters.node_snapshot(n);
        (calls, vectors)
    }

    fn text(&self, slot: usize) -> Vec<(String, String)> {
        let names = vec!["net_null0".to_string()];
        let ctx = FormatContext { tsc_hz: 1_000_000, start_tsc: 0, port_names: &names, dynflags: &[] };
        self.traces[slot].text(&ctx).records.into_iter().map(|r| (r.node, r.text)).collect()
    }
}

fn mac(last: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, last]
}

#[test]
fn error_drop_and_drop_free_count_and_trace_each_packet() {
    let (env, _g) = env();
    let before = env.buffers.available();
    let mut t = Thread::new();
    t.trace_positions(&[0, 3]);
    let mut b = burst_of(env, &(0..5).map(|i| (0, frame(1, 2, i))).collect::<Vec<_>>());
    let mut f = t.frame(env, &mut b);
    error_drop::process(&mut f);
    assert_eq!(f.ran(), (2, 10));
    assert!(b.is_empty());
    assert_eq!(env.buffers.available(), before);
    assert_eq!(t.calls_vectors(Node::ErrorDrop), (1, 5));
    assert_eq!(t.calls_vectors(Node::Drop), (1, 5));
    assert_eq!(t.counters.error_count(Reason::Completed), 5);
    let text = t.text(1);
    assert_eq!(text[0], ("error-drop".into(), "rx:net_null0".into()));
    assert_eq!(text[1], ("drop".into(), "handoffdemo-2: completed packets".into()));
}

#[test]
fn mac_swap_swaps_the_addresses_and_nothing_else() {
    let (env, _g) = env();
    let frames: Vec<(u16, Vec<u8>)> = (0..4).map(|i| (0, frame(0x10 + i, 0x20 + i, i))).collect();
    let mut t = Thread::new();
    t.trace_positions(&[2]);
    let mut b = burst_of(env, &frames);
    let mut node = MacRewrite::new(MacMode::Swap, TxPorts::One(0));
    node.process(&mut t.frame(env, &mut b));
    for (m, (_, sent)) in b.as_slice().iter().zip(&frames) {
        let d = m.data();
        assert_eq!((&d[..6], &d[6..12]), (&sent[6..12], &sent[..6]));
        assert_eq!(&d[12..], &sent[12..]);
    }
    assert_eq!(t.calls_vectors(Node::MacRewrite), (1, 4));
    assert_eq!(
        t.text(0),
        [(
            "mac-rewrite".to_string(),
            "MAC-REWRITE: 02:00:00:00:00:22 -> 02:00:00:00:00:12 becomes 02:00:00:00:00:12 -> 02:00:00:00:00:22"
                .to_string()
        )]
    );
    assert_eq!(env.buffers.free_burst(&mut b), 4);
}

#[test]
fn eth_peer_rewrites_by_the_port_each_packet_leaves() {
    let (env, _g) = env();
    // Port 0's frames leave by port 1 (peer ...:bb from ...:b1); port 1's by port 0 (no peer).
    let mut by_tx = vec![None; 2];
    by_tx[1] = Some(PeerRewrite { src: mac(0xb1), dst: mac(0xbb) });
    let mut node = MacRewrite::new(MacMode::Peers(by_tx), TxPorts::ByRx(vec![Some(1), Some(0)]));
    let frames = vec![(0, frame(1, 2, 0)), (1, frame(3, 4, 1)), (0, frame(5, 6, 2))];
    let mut t = Thread::new();
    let mut b = burst_of(env, &frames);
    node.process(&mut t.frame(env, &mut b));
    let got: Vec<Vec<u8>> = b.as_slice().iter().map(|m| m.data()[..12].to_vec()).collect();
    assert_eq!(got[0], [mac(0xbb), mac(0xb1)].concat());
    assert_eq!(got[1], frames[1].1[..12]);
    assert_eq!(got[2], [mac(0xbb), mac(0xb1)].concat());
    assert_eq!(env.buffers.free_burst(&mut b), 3);
}

#[test]
fn interface_output_sends_on_a_real_queue_and_traces_it() {
    let (env, _g) = env();
    let before = env.buffers.available();
    let mut t = Thread::new();
    t.trace_positions(&[1]);
    let mut b = burst_of(env, &(0..8).map(|i| (0, frame(1, 2, i))).collect::<Vec<_>>());
    let txq = env.txq();
    let queue = txq.queue();
    let mut out = TxOutput::new(txq, TxRetry::Drop);
    out.process(&mut t.frame(env, &mut b));
    assert!(b.is_empty());
    assert_eq!(out.sent(), 8);
    assert_eq!(t.calls_vectors(Node::InterfaceOutput), (1, 8));
    assert_eq!(t.counters.left(), 8);
    assert_eq!(t.text(0), [("interface-output".to_string(), format!("net_null0 tx queue {queue}"))]);
    assert_eq!(env.buffers.available(), before);
}

#[test]
fn the_chain_lists_and_runs_its_nodes_in_order() {
    let (env, _g) = env();
    let steps = vec![
        Step::MacRewrite(MacRewrite::new(MacMode::Swap, TxPorts::One(0))),
        Step::Tx(TxOutput::new(env.txq(), TxRetry::Drop)),
    ];
    let mut chain = WorkerChain::new(ThreadId(2), steps);
    assert_eq!(chain.nodes(), [Node::HandoffDemo2, Node::MacRewrite, Node::InterfaceOutput]);
    assert_eq!(
        WorkerChain::new(ThreadId(2), vec![Step::ErrorDrop(ErrorDrop)]).nodes(),
        [Node::HandoffDemo2, Node::ErrorDrop, Node::Drop]
    );
    let mut b = burst_of(env, &(0..6).map(|i| (0, frame(1, 2, i))).collect::<Vec<_>>());
    // Packets 1 and 4 come traced from rx thread 1 (trace indices 7 and 9).
    for (pos, index) in [(1, 7), (4, 9)] {
        b.as_mut_slice()[pos].set_trace(TraceHandle::new(ThreadId(1), index).raw());
    }
    let mut t = Thread::new();
    let mut f = t.frame(env, &mut b);
    chain.process(&mut f);
    assert_eq!(f.ran(), (3, 18));
    for n in [Node::HandoffDemo2, Node::MacRewrite, Node::InterfaceOutput] {
        assert_eq!(t.calls_vectors(n), (1, 6), "{n:?}");
    }
    assert_eq!(t.traces.len(), 2);
    let nodes: Vec<String> = t.text(1).into_iter().map(|(n, _)| n).collect();
    assert_eq!(nodes, ["handoff_trace", "handoffdemo-2", "mac-rewrite", "interface-output"]);
    assert_eq!(t.text(1)[0].1, "HANDED-OFF: from thread 1 trace index 9");
    assert!(matches!(t.traces[0].records().nth(2), Some((_, Node::MacRewrite, Record::MacRewrite(_)))));
}

/// `show runtime` in pairs mode: each part is one interface-output call of
/// its own packets, error-drop counts only the unpaired ones, and no cycle
/// is booked twice (the clocks of all nodes fit in the time they took).
#[test]
fn pairs_book_each_cycle_to_one_node() {
    let (env, _g) = env();
    let before = env.buffers.available();
    // Rx ports 0, 1 and 2 are paired (all leave by net_null0's one queue); 3 is not.
    let pairs = PairOutput::new(vec![env.txq()], vec![Some(0), Some(0), Some(0)], TxRetry::Drop);
    let mut chain = WorkerChain::new(ThreadId(2), vec![Step::Pairs(Box::new(pairs))]);
    assert_eq!(chain.nodes(), [Node::HandoffDemo2, Node::InterfaceOutput, Node::ErrorDrop, Node::Drop]);
    let frames: Vec<(u16, Vec<u8>)> = (0..32u8).map(|i| (u16::from(i % 4), frame(1, 2, i))).collect();
    let mut b = burst_of(env, &frames);
    b.as_mut_slice()[3].set_trace(TraceHandle::new(ThreadId(1), 0).raw());
    let mut t = Thread::new();
    let start = rdtsc();
    let mut f = t.frame(env, &mut b);
    chain.process(&mut f);
    let elapsed = rdtsc() - start;
    assert_eq!(t.calls_vectors(Node::InterfaceOutput), (3, 24));
    assert_eq!(t.calls_vectors(Node::ErrorDrop), (1, 8));
    assert_eq!(t.calls_vectors(Node::Drop), (1, 8));
    assert_eq!(t.counters.error_count(Reason::Completed), 8);
    let booked: u64 = Node::ALL.iter().map(|&n| t.counters.node_snapshot(n).2).sum();
    assert!(booked <= elapsed, "{booked} clocks booked in {elapsed}");
    // The unpaired traced packet ends at drop.
    let nodes: Vec<String> = t.text(0).into_iter().map(|(n, _)| n).collect();
    assert_eq!(nodes, ["handoff_trace", "handoffdemo-2", "error-drop", "drop"]);
    assert_eq!(env.buffers.available(), before);
}

/// dpdk-input on a real rx queue: its tracer works inside its own time,
/// and handoffdemo-1 hands each packet to the ring with its record.
#[test]
fn dpdk_input_traces_within_its_own_call_and_handoff_enqueues() {
    let (env, _g) = env();
    let (producer, mut consumer) =
        dpdk::handoff_ring(&env.eal, "nodes_test_ring", 1024, 0, env.buffers.clone()).expect("a ring");
    let stop = Arc::new(AtomicBool::new(false));
    let mut handoff = Handoff::new(ThreadId(1), vec![producer], (false, false), stop);
    let mut rxq = env.rxq.lock().unwrap_or_else(|e| e.into_inner()).take().expect("the rx queue, taken once");
    let mut t = Thread::new();
    let mut b = Burst::new();
    let tracer = Tracer { thread: ThreadId(1), filter: None, base: 0 };
    let mut f = t.frame(env, &mut b);
    let one_burst = dpdk_input::Poll { burst: 16, frame: 16 };
    f.run(Node::DpdkInput, |f| dpdk_input::process(&mut rxq, f, one_burst, Some(&tracer)));
    f.run(Node::HandoffDemo1, |f| handoff.process(f));
    assert_eq!(f.ran(), (1, 16));
    assert_eq!(t.calls_vectors(Node::DpdkInput), (1, 16));
    assert_eq!(t.calls_vectors(Node::HandoffDemo1), (1, 16));
    assert_eq!(t.counters.error_count(Reason::HandedOff), 16);
    assert_eq!(t.traces.len(), 16);
    assert_eq!(t.text(5)[1], ("handoffdemo-1".to_string(), "HANDOFFDEMO: current thread 1".to_string()));
    let mut out = Burst::new();
    assert_eq!(consumer.dequeue(&mut out, 64), 16);
    assert!(out.as_slice().iter().all(|m| m.is_traced()));
    assert_eq!(env.buffers.free_burst(&mut out), 16);

    // net_null's bursts always come back full: dpdk-input polls on until
    // the frame is whole, the last poll only for what is missing.
    let mut b = Burst::new();
    let mut f = t.frame(env, &mut b);
    f.run(Node::DpdkInput, |f| dpdk_input::process(&mut rxq, f, dpdk_input::Poll { burst: 8, frame: 44 }, None));
    assert_eq!(f.burst.len(), 44);
    assert_eq!(t.calls_vectors(Node::DpdkInput), (2, 60), "one call, one frame");
    assert_eq!(env.buffers.free_burst(&mut b), 44);
}

/// Freed plain mbufs go back to the rx lcore's return ring, unread, when
/// the frame has one; unmarked ones (never through a handoff ring) and
/// those a full return ring refuses go back to the pool. Nothing is lost.
#[test]
fn drop_gives_plain_mbufs_back_to_the_return_ring() {
    let (env, _g) = env();
    let before = env.buffers.available();
    let (mut handoff, mut worker_side) =
        dpdk::handoff_ring(&env.eal, "nodes_test_handoff", 64, 0, env.buffers.clone()).expect("a ring");
    let (mut give_back, mut take_back) =
        dpdk::handoff_ring(&env.eal, "nodes_test_return", 8, 0, env.buffers.clone()).expect("a return ring");
    let fresh = |n: usize| {
        let mut b = Burst::new();
        for _ in 0..n {
            let m = env.buffers.alloc_frame(0, &[0u8; 60], 0).expect("an mbuf");
            assert!(b.push(m).is_ok());
        }
        b
    };
    let mut t = Thread::new();
    let mut drop_with_return = |burst: &mut Burst, give_back: &mut dpdk::RingProducer| {
        let parts = FrameParts {
            traced: &mut t.traced,
            traces: &mut t.traces,
            trace_limit: 0,
            counters: &t.counters,
            buffers: &env.buffers,
            give_back: Some(give_back),
        };
        error_drop::process(&mut Frame::new(burst, parts));
    };

    // Through the handoff ring: marked plain, so they go back whole.
    let mut sent = fresh(6);
    assert_eq!(handoff.enqueue(&mut sent), 6);
    let mut got = Burst::new();
    assert_eq!(worker_side.dequeue(&mut got, 64), 6);
    drop_with_return(&mut got, &mut give_back);
    let mut returned = Burst::new();
    assert_eq!(take_back.dequeue(&mut returned, 64), 6, "all six back to the rx lcore");
    assert_eq!(env.buffers.free_burst(&mut returned), 6);

    // More than the return ring holds (8): the rest to the pool.
    let mut sent = fresh(20);
    assert_eq!(handoff.enqueue(&mut sent), 20);
    assert_eq!(worker_side.dequeue(&mut got, 64), 20);
    drop_with_return(&mut got, &mut give_back);
    assert_eq!(take_back.dequeue(&mut returned, 64), 8);
    assert_eq!(env.buffers.free_burst(&mut returned), 8);

    // Not marked (never through a handoff ring): straight to the pool.
    let mut unmarked = fresh(5);
    drop_with_return(&mut unmarked, &mut give_back);
    assert_eq!(take_back.dequeue(&mut returned, 64), 0);

    assert_eq!(t.counters.error_count(Reason::Completed), 31);
    assert_eq!(env.buffers.available(), before, "every mbuf is back");
}
