//! Raw trace records: small `Copy` structs filled on the fast path into
//! preallocated per-lcore buffers. Text is made from them only on thread 0
//! (see `trace::format`).

use crate::pipeline::nodes::{Node, Reason};

/// Bytes of packet data kept per traced packet (VPP's dump shows 128).
pub const TRACE_DATA_BYTES: usize = 128;
/// Records one packet can carry on one thread.
pub const MAX_RECORDS_PER_PACKET: usize = 8;

/// What dpdk-input saw of an mbuf, copied at rx time.
#[derive(Clone, Copy, Debug)]
pub struct InputSnapshot {
    pub buffer_index: u32,
    pub trace_handle: u32,
    pub port: u16,
    pub queue: u16,
    /// Which per-socket mempool ("buffer-pool").
    pub pool: u8,
    pub refcnt: u16,
    pub nb_segs: u16,
    pub pkt_len: u32,
    pub data_len: u16,
    pub buf_len: u16,
    pub data_off: u16,
    pub ol_flags: u64,
    pub buf_iova: u64,
    pub packet_type: u32,
    pub l2_len: u16,
    pub l3_len: u16,
    pub outer_l2_len: u16,
    pub outer_l3_len: u16,
    pub rss: u32,
    pub fdir_hi: u32,
    /// How many bytes of `data` are valid (min of data_len and TRACE_DATA_BYTES).
    pub captured: u16,
    pub data: [u8; TRACE_DATA_BYTES],
}

#[derive(Clone, Copy, Debug)]
pub enum RecordKind {
    /// dpdk-input: the mbuf as received.
    Input(InputSnapshot),
    /// handoffdemo-1 / handoffdemo-2: `HANDOFFDEMO: current thread N`.
    HandoffDemo { thread: u32 },
    /// handoff_trace: `HANDED-OFF: from thread T trace index I`.
    HandedOff { from_thread: u32, trace_index: u32 },
    /// error-drop: `rx:<interface of port>`.
    ErrorDrop { rx_port: u16 },
    /// drop: `<node>: <reason>`.
    Drop { reason: Reason },
    /// interface-output: `<interface of port> tx queue Q`.
    Output { port: u16, queue: u16 },
}

#[derive(Clone, Copy, Debug)]
pub struct RawRecord {
    /// TSC when the node ran.
    pub tsc: u64,
    pub node: Node,
    pub kind: RecordKind,
}

/// A record other than the input snapshot, kept small so a traced packet
/// costs a few hundred bytes, not one snapshot per record slot.
#[derive(Clone, Copy, Debug)]
enum Step {
    HandoffDemo { thread: u32 },
    HandedOff { from_thread: u32, trace_index: u32 },
    ErrorDrop { rx_port: u16 },
    Drop { reason: Reason },
    Output { port: u16, queue: u16 },
}

#[derive(Clone, Copy, Debug)]
struct StepRecord {
    tsc: u64,
    node: Node,
    step: Step,
}

/// One traced packet's records on one thread: at most one input snapshot
/// (first), then up to MAX_RECORDS_PER_PACKET - 1 small records.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawPacketTrace {
    input: Option<(u64, Node, InputSnapshot)>,
    len: u8,
    steps: [Option<StepRecord>; MAX_RECORDS_PER_PACKET - 1],
}

impl RawPacketTrace {
    /// Adds a record; a packet that is full keeps its first ones, and an
    /// input snapshot is kept only as the first record.
    pub fn push(&mut self, record: RawRecord) {
        let step = match record.kind {
            RecordKind::Input(s) => {
                if self.input.is_none() && self.len == 0 {
                    self.input = Some((record.tsc, record.node, s));
                }
                return;
            }
            RecordKind::HandoffDemo { thread } => Step::HandoffDemo { thread },
            RecordKind::HandedOff { from_thread, trace_index } => Step::HandedOff { from_thread, trace_index },
            RecordKind::ErrorDrop { rx_port } => Step::ErrorDrop { rx_port },
            RecordKind::Drop { reason } => Step::Drop { reason },
            RecordKind::Output { port, queue } => Step::Output { port, queue },
        };
        if (self.len as usize) < self.steps.len() {
            self.steps[self.len as usize] = Some(StepRecord { tsc: record.tsc, node: record.node, step });
            self.len += 1;
        }
    }

    /// The records in order, as full `RawRecord`s.
    pub fn iter(&self) -> impl Iterator<Item = RawRecord> + '_ {
        let input = self.input.map(|(tsc, node, s)| RawRecord { tsc, node, kind: RecordKind::Input(s) });
        input.into_iter().chain(self.steps[..self.len as usize].iter().flatten().map(|r| RawRecord {
            tsc: r.tsc,
            node: r.node,
            kind: match r.step {
                Step::HandoffDemo { thread } => RecordKind::HandoffDemo { thread },
                Step::HandedOff { from_thread, trace_index } => RecordKind::HandedOff { from_thread, trace_index },
                Step::ErrorDrop { rx_port } => RecordKind::ErrorDrop { rx_port },
                Step::Drop { reason } => RecordKind::Drop { reason },
                Step::Output { port, queue } => RecordKind::Output { port, queue },
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traced_packet_stays_small() {
        assert!(std::mem::size_of::<RawPacketTrace>() <= 400, "{}", std::mem::size_of::<RawPacketTrace>());
    }

    #[test]
    fn records_come_back_in_order_and_overflow_is_dropped() {
        let mut p = RawPacketTrace::default();
        for i in 0..20 {
            p.push(RawRecord { tsc: i, node: Node::HandoffDemo1, kind: RecordKind::HandoffDemo { thread: 1 } });
        }
        let tscs: Vec<u64> = p.iter().map(|r| r.tsc).collect();
        assert_eq!(tscs, (0..MAX_RECORDS_PER_PACKET as u64 - 1).collect::<Vec<_>>());
    }
}
