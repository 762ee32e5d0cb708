//! handoff: VPP's handoffdemo on DPDK. The layout follows the data:
//!
//! - `dpdk`: the safe wrapper over DPDK, the only module with `unsafe`.
//! - `pipeline`: the nodes on the rx lcores and workers, their counters.
//! - `control`: thread 0, which supervises a run without busy-polling.
//! - `trace`: raw trace records (fast path) and their text (thread 0).
//! - `report`: VPP-style text and JSON, the conservation check.
//! - `pg`: VPP packet-generator scripts made into pcap input.
//! - `cli`, `eal_args`, `devices`, `input`, `output`: flags, EAL arguments,
//!   named devices, capture files read and written.
//! - `cleanup`: what this run created, removed on every way out.

#![deny(unsafe_code)]

pub mod cleanup;
pub mod cli;
pub mod control;
// The one module allowed `unsafe`: every block in it says why it is sound.
pub mod devices;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod eal_args;
pub mod input;
pub mod output;
pub mod pg;
pub mod pipeline;
pub mod report;
pub mod trace;
