//! The one list of show sections: `--show` picks from it, the control
//! protocol's `show` names one (`handoff show X`, JSON `"what"`), and the
//! report holds every one. A new section is a variant here, its rows in
//! `Sections`, one arm in each of `build`, `text` and `json`, and its renderer.

use serde::{Deserialize, Serialize};

use crate::pipeline::facts::RunFacts;

use super::model::{ErrorRow, InterfaceRow, PairRow, RingRow, ThreadRuntime, ThreadTrace};
use super::text;

/// A section of `show` output (VPP's `show errors`, `show runtime`, ...).
/// Its snake_case name is the `--show` value, the `handoff show` argument
/// and the protocol's `"what"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Errors,
    Runtime,
    Trace,
    Interfaces,
    /// Interfaces with the PMDs' nonzero extended statistics
    Xstats,
    /// Per handoff ring: traffic, congestion, high-water mark, wait percentiles
    Handoff,
    /// Per port pair of --output A:B,...
    Pairs,
}

/// What `show` was asked beyond the section.
pub struct Shown<'a> {
    /// Packets per thread rendered into `trace`.
    pub trace_max: usize,
    /// Per thread, traces held when the facts carry only the first ones
    /// (a running forwarder's); empty: all of them are in the facts.
    pub held: &'a [u64],
}

/// Every section's rows; a section not built is empty. In the report's
/// JSON these are its first keys.
#[derive(Default, Serialize)]
pub struct Sections {
    pub errors: Vec<ErrorRow>,
    pub runtime: Vec<ThreadRuntime>,
    pub interfaces: Vec<InterfaceRow>,
    pub trace: Vec<ThreadTrace>,
    /// Per handoff ring: traffic, congestion, high-water mark, wait percentiles.
    pub handoff: Vec<RingRow>,
    /// `--output A:B,...` only: per port pair.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairRow>,
}

impl Section {
    pub const ALL: &'static [Section] = &[
        Section::Errors,
        Section::Runtime,
        Section::Trace,
        Section::Interfaces,
        Section::Xstats,
        Section::Handoff,
        Section::Pairs,
    ];

    /// Fills this section's rows from the facts.
    fn build(self, f: &RunFacts, shown: &Shown, out: &mut Sections) {
        match self {
            Section::Errors => out.errors = super::errors(f),
            Section::Runtime => out.runtime = super::runtime(f),
            Section::Trace => out.trace = super::traces_shown(f, shown.trace_max, shown.held),
            Section::Interfaces | Section::Xstats => out.interfaces = super::interfaces(f),
            Section::Handoff => out.handoff = super::handoff(f),
            Section::Pairs => out.pairs = super::pairs(f),
        }
    }

    /// The section as VPP text.
    pub fn text(self, s: &Sections, trace_max: usize) -> String {
        match self {
            Section::Errors => text::show_errors(&s.errors),
            Section::Runtime => text::show_runtime(&s.runtime),
            Section::Trace => text::show_trace(&s.trace, trace_max),
            Section::Interfaces => text::show_interfaces(&s.interfaces, false),
            Section::Xstats => text::show_interfaces(&s.interfaces, true),
            Section::Handoff => text::show_handoff(&s.handoff),
            Section::Pairs => text::show_pairs(&s.pairs),
        }
    }

    /// The section's rows as JSON (the control socket's `show --json`).
    pub fn json(self, s: &Sections) -> serde_json::Result<serde_json::Value> {
        match self {
            Section::Errors => serde_json::to_value(&s.errors),
            Section::Runtime => serde_json::to_value(&s.runtime),
            Section::Trace => serde_json::to_value(&s.trace),
            Section::Interfaces | Section::Xstats => serde_json::to_value(&s.interfaces),
            Section::Handoff => serde_json::to_value(&s.handoff),
            Section::Pairs => serde_json::to_value(&s.pairs),
        }
    }
}

impl Sections {
    /// The rows of `sections`, from the facts.
    pub fn build(f: &RunFacts, sections: &[Section], shown: &Shown) -> Sections {
        let mut out = Sections::default();
        for s in sections {
            s.build(f, shown, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_section_has_one_name_for_the_flag_the_protocol_and_the_report() {
        assert_eq!(Section::value_variants(), Section::ALL);
        for s in Section::ALL {
            let flag = s.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(serde_json::to_value(s).unwrap(), flag);
            let parsed: Section = serde_json::from_value(serde_json::Value::String(flag.clone())).unwrap();
            assert_eq!(parsed, *s);
        }
    }
}
