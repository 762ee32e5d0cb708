//! Identifiers every layer shares: VPP thread numbers, EAL lcores, ports,
//! queues, and the trace handle that ties one packet's records together
//! across threads.

use serde::Serialize;

/// A VPP thread number: 0 is the control thread, rx lcores are 1..=N,
/// workers follow (see `pipeline::topology`, the one place that assigns them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ThreadId(pub u32);

/// An EAL lcore id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Lcore(pub u32);

/// A DPDK port id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PortId(pub u16);

/// A queue of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct QueueId(pub u16);

impl std::fmt::Display for ThreadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for Lcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// VPP's trace handle: `thread << 24 | index`, the index of the packet's
/// trace on the thread that started it. It rides in an mbuf dynfield.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceHandle(u32);

impl TraceHandle {
    const INDEX_BITS: u32 = 24;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;

    pub fn new(thread: ThreadId, index: u32) -> TraceHandle {
        TraceHandle((thread.0 << Self::INDEX_BITS) | (index & Self::INDEX_MASK))
    }

    pub fn from_raw(raw: u32) -> TraceHandle {
        TraceHandle(raw)
    }

    pub fn raw(self) -> u32 {
        self.0
    }

    pub fn thread(self) -> ThreadId {
        ThreadId(self.0 >> Self::INDEX_BITS)
    }

    pub fn index(self) -> u32 {
        self.0 & Self::INDEX_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_handles_pack_as_vpp_does() {
        let h = TraceHandle::new(ThreadId(1), 4);
        assert_eq!(h.raw(), 0x100_0004);
        assert_eq!((h.thread(), h.index()), (ThreadId(1), 4));
    }
}
