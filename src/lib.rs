//! handoff: VPP's handoffdemo on DPDK. Layers, each importing only from
//! those below it:
//!
//! 1. `dpdk` (the safe wrapper, the only `unsafe` code), `ids`, `flag_error`,
//!    `console` (every write to stdout and stderr), `ab` (the variant
//!    switch of an in-process A/B, `scripts/ab.sh`).
//! 2. `trace`: header decode, the trace filter, shared trace text helpers.
//! 3. `nodes`: one file per graph node (its counters, trace record, text
//!    and burst function), the per-lcore counters, the flow hash.
//! 4. What a run reads and writes: `eal_args`, `devices`, `input`,
//!    `linktype`, `output`, `pg`, `cleanup`, `drivers` (what each PMD can and cannot report).
//! 5. `pipeline`: the topology, set-up, launch, the lcore loops,
//!    supervision on thread 0, telemetry, and the facts a run leaves.
//! 6. `report`: VPP text, JSON, the conservation check, pcapng.
//! 7. `control`: the control socket (server and `handoff show|trace|clear|list`).
//! 8. `cli`: flags into a validated plan; `main` on top.

#![deny(unsafe_code)]

pub mod ab;
// The one module allowed `unsafe`: every block in it says why it is sound.
pub mod console;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod flag_error;
pub mod ids;

pub mod trace;

pub mod nodes;

pub mod cleanup;
pub mod devices;
pub mod drivers;
pub mod eal_args;
pub mod input;
pub mod linktype;
pub mod output;
pub mod pg;

pub mod pipeline;

pub mod report;

pub mod control;

pub mod cli;
