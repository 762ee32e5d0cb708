//! handoff_trace, VPP's vlib/handoff_trace.c: the first record of a traced
//! packet on the thread it was handed to, pointing back to its trace on
//! the thread it came from. Trace: `HANDED-OFF: from thread T trace index I`.

use std::fmt::Write as _;

use crate::ids::TraceHandle;

use super::{Node, PacketTrace, Record};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub from_thread: u32,
    pub trace_index: u32,
}

impl super::TraceText for Trace {
    fn push_text(&self, out: &mut String, _: &crate::trace::text::FormatContext) {
        let _ = write!(out, "HANDED-OFF: from thread {} trace index {}", self.from_thread, self.trace_index);
    }
}

/// A packet's trace on the receiving thread; it shares the next node's
/// timestamp, as in VPP.
#[inline]
pub fn continue_trace(handle: u32, tsc: u64) -> PacketTrace {
    let h = TraceHandle::from_raw(handle);
    let mut t = PacketTrace::default();
    t.push(tsc, Node::HandoffTrace, Record::HandedOff(Trace { from_thread: h.thread().0, trace_index: h.index() }));
    t
}
