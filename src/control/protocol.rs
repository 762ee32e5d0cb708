//! The control socket's protocol: one JSON object per line each way.
//!
//! Requests: `{"cmd":"info"}`, `{"cmd":"show","what":"runtime","json":false}`
//! (`what`: errors, runtime, interfaces, xstats, trace, handoff, pairs;
//! `"max":N` with trace: packets per thread to show),
//! `{"cmd":"trace_add","count":50,"filter":"udp port 53"}`,
//! `{"cmd":"clear","what":"trace"}` (trace, runtime, errors, interfaces).
//! Replies: `{"ok":true,"text":"..."}` or `{"ok":true,"json":{...}}`, or
//! `{"ok":false,"error":"..."}`. docs/json-schema.json describes them.

use serde::{Deserialize, Serialize};

/// What `show` shows: the report's sections, one list (`report::Section`).
pub use crate::report::Section as ShowWhat;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ClearWhat {
    /// Empties the trace buffers and stops tracing (VPP's `clear trace`).
    Trace,
    /// Zeroes the node counters shown by `show runtime` (VPP's `clear runtime`).
    Runtime,
    /// Zeroes the counters shown by `show errors` (VPP's `clear errors`).
    Errors,
    /// Zeroes the port counters and port pairs shown by `show interfaces`,
    /// `show xstats` and `show pairs` (VPP's `clear interfaces`).
    Interfaces,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Info,
    Show {
        what: ShowWhat,
        #[serde(default)]
        json: bool,
        /// `show trace`: packets per thread to show, instead of the
        /// forwarder's `--trace-display` (a reply shows at most
        /// `server::MAX_SHOWN`, all threads together).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    TraceAdd {
        count: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
    },
    Clear {
        what: ClearWhat,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn text(text: String) -> Response {
        Response { ok: true, text: Some(text), ..Default::default() }
    }

    pub fn json(json: serde_json::Value) -> Response {
        Response { ok: true, json: Some(json), ..Default::default() }
    }

    pub fn error(error: impl Into<String>) -> Response {
        Response { ok: false, error: Some(error.into()), ..Default::default() }
    }
}

/// `info`: who answers (for `handoff list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub prefix: String,
    pub pid: u32,
    pub ports: Vec<String>,
    pub uptime_seconds: f64,
    /// Packets each rx lcore is armed to trace.
    pub tracing: u32,
}
