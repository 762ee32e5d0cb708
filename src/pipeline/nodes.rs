//! The graph's nodes and the error table they share, with VPP's names.

use serde::Serialize;

/// Every node a packet can visit. The discriminant indexes per-lcore counter arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[repr(u8)]
pub enum Node {
    DpdkInput = 0,
    HandoffDemo1,
    HandoffTrace,
    HandoffDemo2,
    ErrorDrop,
    Drop,
    InterfaceOutput,
}

impl Node {
    pub const COUNT: usize = 7;
    pub const ALL: [Node; Node::COUNT] = [
        Node::DpdkInput,
        Node::HandoffDemo1,
        Node::HandoffTrace,
        Node::HandoffDemo2,
        Node::ErrorDrop,
        Node::Drop,
        Node::InterfaceOutput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Node::DpdkInput => "dpdk-input",
            Node::HandoffDemo1 => "handoffdemo-1",
            Node::HandoffTrace => "handoff_trace",
            Node::HandoffDemo2 => "handoffdemo-2",
            Node::ErrorDrop => "error-drop",
            Node::Drop => "drop",
            Node::InterfaceOutput => "interface-output",
        }
    }

    /// Input nodes poll; the rest are dispatched with vectors ("active").
    pub fn is_input(self) -> bool {
        matches!(self, Node::DpdkInput)
    }
}

/// The nodes an rx lcore runs, and a worker lcore.
pub const RX_NODES: &[Node] = &[Node::DpdkInput, Node::HandoffDemo1];
pub const WORKER_NODES: &[Node] = &[Node::HandoffDemo2, Node::ErrorDrop, Node::Drop, Node::InterfaceOutput];

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
}

impl Reason {
    pub const COUNT: usize = 4;
    pub const ALL: [Reason; Reason::COUNT] =
        [Reason::HandedOff, Reason::Congestion, Reason::Completed, Reason::TxRefused];

    pub fn text(self) -> &'static str {
        match self {
            Reason::HandedOff => "packets handed off processed",
            Reason::Congestion => "handoff queue congestion drops",
            Reason::Completed => "completed packets",
            Reason::TxRefused => "tx queue full drops",
        }
    }

    /// The node `show errors` lists the counter under.
    pub fn node(self) -> Node {
        match self {
            Reason::HandedOff | Reason::Congestion => Node::HandoffDemo1,
            Reason::Completed => Node::HandoffDemo2,
            Reason::TxRefused => Node::InterfaceOutput,
        }
    }

    /// Whether packets counted here have left the pipeline as drops.
    pub fn is_drop(self) -> bool {
        !matches!(self, Reason::HandedOff)
    }
}
