//! The tracer's shared parts: the header decode of a packet's first bytes
//! (`decode`), the pcap-filter that chooses which packets to trace
//! (`filter`) and the text helpers (`text`). Each node's own trace record
//! and its text live with the node (`crate::nodes`).

pub mod decode;
pub mod filter;
pub mod text;
