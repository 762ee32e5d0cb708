//! error-drop and drop: where a packet the seed drops ends. error-drop
//! notes the interface it came in on (`rx:<interface>`); drop frees it and
//! counts the reason where the packet dies, as VPP's drop node does
//! (`<node>: <reason>`).

use std::fmt::Write as _;

use crate::trace::text::{port_name, FormatContext};

use super::frame::Frame;
use super::{Node, Reason, Record};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorDropTrace {
    pub rx_port: u16,
}

impl super::TraceText for ErrorDropTrace {
    fn push_text(&self, out: &mut String, ctx: &FormatContext) {
        let _ = write!(out, "rx:{}", port_name(ctx, self.rx_port));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropTrace {
    pub reason: Reason,
}

impl super::TraceText for DropTrace {
    fn push_text(&self, out: &mut String, _: &FormatContext) {
        let _ = write!(out, "{}: {}", self.reason.node().name(), self.reason.text());
    }
}

/// error-drop then drop for a whole burst: every packet carries
/// `completed packets` and is freed. Each is a node of its own on the
/// frame's clock.
#[inline]
pub fn process(f: &mut Frame) {
    process_as(f, Reason::Completed);
}

/// error-drop then drop, the packets counted under `reason`.
#[inline]
pub fn process_as(f: &mut Frame, reason: Reason) {
    f.run(Node::ErrorDrop, |f| {
        f.trace_each(Node::ErrorDrop, |m| Record::ErrorDrop(ErrorDropTrace { rx_port: m.port() }));
    });
    f.run(Node::Drop, |f| {
        f.trace_each(Node::Drop, |_| Record::Drop(DropTrace { reason }));
        // Plain mbufs go back to their pool unread (see Buffers::free_burst).
        let freed = f.free_burst() as u64;
        f.counters.error(reason, freed);
    });
}
