//! The graph's nodes, as in VPP: each file holds one node's error
//! counters, its trace record, the record's text and its
//! `process(&mut self, &mut Frame)` (see `frame`, the node contract).
//! This module holds what they share: the node table (written once), the
//! error table, the trace record type and the per-packet trace buffer.
//!
//! A packet's path: `dpdk_input` -> `handoffdemo` (1, on the rx lcore) ->
//! ring -> `handoff_trace` + `handoffdemo` (2, on a worker) -> `mac_rewrite`
//! (if asked for) -> `error_drop` (error-drop, drop) or `interface_output`:
//! the worker's `chain`.

pub mod chain;
pub mod counters;
pub mod dpdk_input;
pub mod error_drop;
pub mod flow_hash;
pub mod frame;
pub mod handoff_trace;
pub mod handoffdemo;
pub mod interface_output;
pub mod mac_rewrite;
pub mod ring_stats;

use serde::Serialize;

use crate::dpdk::MAX_BURST;
use crate::trace::text::{port_name, FormatContext, PacketFields, TracePacketText, TraceRecordText};

/// A small trace record's text, as VPP's `show trace` prints it.
pub trait TraceText {
    fn push_text(&self, out: &mut String, ctx: &FormatContext);
}

/// The node table, written once: per node its variant, VPP name, kind, and
/// the trace record it adds (if it has a kind of its own). `Node`, its
/// count, list and names, and `Record` with its text follow from it.
macro_rules! nodes {
    ($( $node:ident $name:literal $kind:ident $(=> $rec:ident($ty:ty))? ;)*) => {
        /// Every node a packet can visit. The discriminant indexes per-lcore counter arrays.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[repr(u8)]
        pub enum Node {
            $($node,)*
        }

        impl Node {
            pub const COUNT: usize = [$(Node::$node,)*].len();
            pub const ALL: [Node; Node::COUNT] = [$(Node::$node,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Node::$node => $name,)*
                }
            }

            /// Input nodes poll; the rest are dispatched with vectors ("active").
            #[inline(always)]
            pub const fn is_input(self) -> bool {
                match self {
                    $(Node::$node => matches!(NodeKind::$kind, NodeKind::Input),)*
                }
            }
        }

        /// A trace record of a node after dpdk-input (whose snapshot is large and
        /// kept once per packet, see `PacketTrace`). Small and `Copy`: records are
        /// filled on the fast path into preallocated buffers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Record {
            $($($rec($ty),)?)*
        }

        impl Record {
            fn push_text(&self, out: &mut String, ctx: &FormatContext) {
                match self {
                    $($(Record::$rec(t) => TraceText::push_text(t, out, ctx),)?)*
                }
            }
        }
    };
}

/// Whether a node polls (input) or is dispatched with vectors (internal).
pub enum NodeKind {
    Input,
    Internal,
}

nodes! {
    DpdkInput       "dpdk-input"       Input;
    HandoffDemo1    "handoffdemo-1"    Internal => HandoffDemo(handoffdemo::Trace);
    HandoffTrace    "handoff_trace"    Internal => HandedOff(handoff_trace::Trace);
    HandoffDemo2    "handoffdemo-2"    Internal;
    MacRewrite      "mac-rewrite"      Internal => MacRewrite(mac_rewrite::Trace);
    ErrorDrop       "error-drop"       Internal => ErrorDrop(error_drop::ErrorDropTrace);
    Drop            "drop"             Internal => Drop(error_drop::DropTrace);
    InterfaceOutput "interface-output" Internal => Output(interface_output::Trace);
}

/// A node's state in `show runtime`, as VPP names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// An input node still polling.
    Polling,
    /// An input node whose finite input ran dry.
    Disabled,
    /// An internal node, dispatched with vectors.
    Active,
}

impl NodeState {
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Polling => "polling",
            NodeState::Disabled => "disabled",
            NodeState::Active => "active",
        }
    }
}

/// Error (and info) counters, each owned by the node VPP reports it under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[repr(u8)]
pub enum Reason {
    /// handoffdemo-1: packets accepted by the handoff ring.
    HandedOff = 0,
    /// handoffdemo-1: packets the full ring refused, freed there.
    Congestion,
    /// handoffdemo-2: counted by the drop node, as VPP does.
    Completed,
    /// interface-output: packets the tx queue refused, freed there.
    TxRefused,
    /// interface-output: packets still held for a retry when the run was
    /// told to stop (backpressure), freed there.
    TxHeldAtStop,
    /// interface-output: bursts the tx queue took only in part (info).
    TxStalls,
    /// interface-output: tx calls that retried a refused tail (info).
    TxRetries,
}

impl Reason {
    pub const COUNT: usize = 7;
    pub const ALL: [Reason; Reason::COUNT] = [
        Reason::HandedOff,
        Reason::Congestion,
        Reason::Completed,
        Reason::TxRefused,
        Reason::TxHeldAtStop,
        Reason::TxStalls,
        Reason::TxRetries,
    ];

    pub fn text(self) -> &'static str {
        match self {
            Reason::HandedOff => handoffdemo::HANDED_OFF,
            Reason::Congestion => handoffdemo::CONGESTION,
            Reason::Completed => handoffdemo::COMPLETED,
            Reason::TxRefused => interface_output::TX_REFUSED,
            Reason::TxHeldAtStop => interface_output::TX_HELD_AT_STOP,
            Reason::TxStalls => interface_output::TX_STALLS,
            Reason::TxRetries => interface_output::TX_RETRIES,
        }
    }

    /// The node `show errors` lists the counter under.
    pub fn node(self) -> Node {
        match self {
            Reason::HandedOff | Reason::Congestion => Node::HandoffDemo1,
            Reason::Completed => Node::HandoffDemo2,
            Reason::TxRefused | Reason::TxHeldAtStop | Reason::TxStalls | Reason::TxRetries => Node::InterfaceOutput,
        }
    }

    /// Whether packets counted here have left the pipeline as drops.
    pub fn is_drop(self) -> bool {
        !matches!(self, Reason::HandedOff | Reason::TxStalls | Reason::TxRetries)
    }
}

/// Records one packet can carry on one thread, the input snapshot included.
pub const MAX_RECORDS_PER_PACKET: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Stamped {
    tsc: u64,
    node: Node,
    record: Record,
}

/// One traced packet's records on one thread: at most one input snapshot
/// (first), then up to MAX_RECORDS_PER_PACKET - 1 small records.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketTrace {
    input: Option<(u64, dpdk_input::Snapshot)>,
    len: u8,
    steps: [Option<Stamped>; MAX_RECORDS_PER_PACKET - 1],
}

impl PacketTrace {
    /// A packet's trace that starts at dpdk-input.
    pub fn from_input(tsc: u64, snapshot: dpdk_input::Snapshot) -> PacketTrace {
        PacketTrace { input: Some((tsc, snapshot)), ..PacketTrace::default() }
    }

    /// Adds a record; a packet that is full keeps its first ones.
    #[inline]
    pub fn push(&mut self, tsc: u64, node: Node, record: Record) {
        if (self.len as usize) < self.steps.len() {
            self.steps[self.len as usize] = Some(Stamped { tsc, node, record });
            self.len += 1;
        }
    }

    pub fn input(&self) -> Option<(u64, &dpdk_input::Snapshot)> {
        self.input.as_ref().map(|(tsc, s)| (*tsc, s))
    }

    /// The records after the input snapshot, in order.
    pub fn records(&self) -> impl Iterator<Item = (u64, Node, Record)> + '_ {
        self.steps[..self.len as usize].iter().flatten().map(|s| (s.tsc, s.node, s.record))
    }

    /// The nodes the packet visited, in order.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.input.map(|_| Node::DpdkInput).into_iter().chain(self.records().map(|(_, n, _)| n))
    }

    /// Every record as VPP's `show trace` prints it.
    pub fn text(&self, ctx: &FormatContext) -> TracePacketText {
        let mut records = Vec::with_capacity(1 + self.len as usize);
        if let Some((tsc, s)) = &self.input {
            let mut text = String::with_capacity(1024);
            s.push_text(&mut text, ctx);
            records.push(TraceRecordText { time: ctx.seconds(*tsc), node: Node::DpdkInput.name().into(), text });
        }
        for (tsc, node, record) in self.records() {
            let mut text = String::new();
            record.push_text(&mut text, ctx);
            records.push(TraceRecordText { time: ctx.seconds(tsc), node: node.name().into(), text });
        }
        TracePacketText { records, packet: self.fields(ctx) }
    }

    /// The packet's structured facts: ports, length, 5-tuple, how it ended.
    pub fn fields(&self, ctx: &FormatContext) -> PacketFields {
        let mut f = PacketFields::default();
        if let Some((_, s)) = &self.input {
            f.rx_port = Some(s.port);
            f.rx_interface = Some(port_name(ctx, s.port).into_owned());
            f.length = Some(s.pkt_len);
            f.decode(s.captured_data());
        }
        for (_, _, record) in self.records() {
            match record {
                Record::ErrorDrop(e) if f.rx_port.is_none() => {
                    f.rx_port = Some(e.rx_port);
                    f.rx_interface = Some(port_name(ctx, e.rx_port).into_owned());
                }
                Record::Output(o) => {
                    f.tx_port = Some(o.port);
                    f.tx_interface = Some(port_name(ctx, o.port).into_owned());
                    f.end = Some("transmitted".into());
                }
                Record::Drop(d) => f.end = Some(format!("{}: {}", d.reason.node().name(), d.reason.text())),
                _ => {}
            }
        }
        f
    }

    /// How the packet's trace ended on this thread, if it did (see `fields`).
    pub fn end(&self) -> Option<String> {
        self.records().fold(None, |end, (_, _, record)| match record {
            Record::Output(_) => Some("transmitted".into()),
            Record::Drop(d) => Some(format!("{}: {}", d.reason.node().name(), d.reason.text())),
            _ => end,
        })
    }
}

/// Where a worker's burst holds traced packets, and each one's slot in the
/// worker's trace buffer: the nodes after handoffdemo-2 add their records there.
pub struct TracedInBurst {
    pos: [u16; MAX_BURST],
    slot: [u32; MAX_BURST],
    len: usize,
}

impl Default for TracedInBurst {
    fn default() -> Self {
        TracedInBurst { pos: [0; MAX_BURST], slot: [0; MAX_BURST], len: 0 }
    }
}

impl TracedInBurst {
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn add(&mut self, pos: usize, slot: usize) {
        if self.len < MAX_BURST {
            self.pos[self.len] = pos as u16;
            self.slot[self.len] = slot as u32;
            self.len += 1;
        }
    }

    /// (position in the burst, slot in the trace buffer) of each traced packet.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.pos[..self.len].iter().zip(&self.slot[..self.len]).map(|(&p, &s)| (usize::from(p), s as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(names: &[String]) -> FormatContext<'_> {
        FormatContext { tsc_hz: 1_000_000, start_tsc: 1_000, port_names: names, dynflags: &[] }
    }

    #[test]
    fn short_records_read_as_vpp_prints_them() {
        let names = vec!["local0".to_string(), "net_tap1".to_string()];
        let c = ctx(&names);
        let cases = [
            (
                Node::HandoffDemo1,
                Record::HandoffDemo(handoffdemo::Trace { thread: 1 }),
                "handoffdemo-1",
                "HANDOFFDEMO: current thread 1",
            ),
            (
                Node::HandoffTrace,
                Record::HandedOff(handoff_trace::Trace { from_thread: 1, trace_index: 4 }),
                "handoff_trace",
                "HANDED-OFF: from thread 1 trace index 4",
            ),
            (Node::ErrorDrop, Record::ErrorDrop(error_drop::ErrorDropTrace { rx_port: 0 }), "error-drop", "rx:local0"),
            (Node::ErrorDrop, Record::ErrorDrop(error_drop::ErrorDropTrace { rx_port: 7 }), "error-drop", "rx:port 7"),
            (
                Node::Drop,
                Record::Drop(error_drop::DropTrace { reason: Reason::Completed }),
                "drop",
                "handoffdemo-2: completed packets",
            ),
            (
                Node::Drop,
                Record::Drop(error_drop::DropTrace { reason: Reason::Congestion }),
                "drop",
                "handoffdemo-1: handoff queue congestion drops",
            ),
            (
                Node::InterfaceOutput,
                Record::Output(interface_output::Trace { port: 1, queue: 2 }),
                "interface-output",
                "net_tap1 tx queue 2",
            ),
        ];
        for (node, record, name, text) in cases {
            let mut p = PacketTrace::default();
            p.push(2_001_000, node, record);
            let t = p.text(&c).records.remove(0);
            assert_eq!((t.node.as_str(), t.text.as_str()), (name, text));
            assert_eq!(t.time, 2.0);
        }
        let zero_hz = FormatContext { tsc_hz: 0, start_tsc: 0, port_names: &names, dynflags: &[] };
        let mut p = PacketTrace::default();
        p.push(5, Node::HandoffDemo2, Record::HandoffDemo(handoffdemo::Trace { thread: 2 }));
        assert_eq!(p.text(&zero_hz).records[0].time, 0.0);
    }

    #[test]
    fn packet_keeps_record_order() {
        let names: Vec<String> = Vec::new();
        let p = handoff_trace::continue_trace(0x100_0000, 10);
        let mut p2 = p;
        p2.push(10, Node::HandoffDemo2, Record::HandoffDemo(handoffdemo::Trace { thread: 2 }));
        let t = p2.text(&ctx(&names));
        let nodes: Vec<&str> = t.records.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(nodes, ["handoff_trace", "handoffdemo-2"]);
        assert!(PacketTrace::default().text(&ctx(&names)).records.is_empty());
    }

    #[test]
    fn a_traced_packet_stays_small() {
        // mac-rewrite's record (old and new addresses, 24 bytes) sets a record's size.
        assert!(std::mem::size_of::<PacketTrace>() <= 512, "{}", std::mem::size_of::<PacketTrace>());
    }

    #[test]
    fn records_come_back_in_order_and_overflow_is_dropped() {
        let mut p = PacketTrace::default();
        for i in 0..20 {
            p.push(i, Node::HandoffDemo1, Record::HandoffDemo(handoffdemo::Trace { thread: 1 }));
        }
        let tscs: Vec<u64> = p.records().map(|r| r.0).collect();
        assert_eq!(tscs, (0..MAX_RECORDS_PER_PACKET as u64 - 1).collect::<Vec<_>>());
    }
}
