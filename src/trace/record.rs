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

/// One traced packet's records on one thread.
#[derive(Clone, Copy, Debug)]
pub struct RawPacketTrace {
    pub len: u8,
    pub records: [Option<RawRecord>; MAX_RECORDS_PER_PACKET],
}

impl Default for RawPacketTrace {
    fn default() -> Self {
        RawPacketTrace { len: 0, records: [None; MAX_RECORDS_PER_PACKET] }
    }
}

impl RawPacketTrace {
    /// Adds a record; a packet that already has the maximum keeps its first ones.
    pub fn push(&mut self, record: RawRecord) {
        if (self.len as usize) < MAX_RECORDS_PER_PACKET {
            self.records[self.len as usize] = Some(record);
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &RawRecord> {
        self.records[..self.len as usize].iter().flatten()
    }
}
