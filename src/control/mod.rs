//! Operating a running forwarder, as `vppctl` does VPP: a Unix stream
//! socket of handoff's own in the run's runtime directory
//! (`<runtime dir>/<prefix>/handoff.sock`, mode 0600 in EAL's 0700
//! directory), one JSON request per line, one JSON reply per line.
//!
//! `server` answers on threads of its own (one per client) while the lcores run, reading
//! their single-writer counters and asking them, through their mailboxes,
//! for what they own (trace buffers, ring-wait histograms); `client` is
//! `handoff show|trace|clear|list`. Above `report` (whose text it serves),
//! below `cli`.

pub mod client;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod trust;
