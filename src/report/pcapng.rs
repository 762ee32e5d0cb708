//! `--trace-pcapng FILE`: the traced packets (the bytes dpdk-input kept) as
//! pcapng, each with its node path across threads as a packet comment, for
//! Wireshark / tshark. Where it goes (a file replaced atomically, a device,
//! stdout) is `output::TraceDestination`'s business.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use super::RunFacts;
use crate::trace::record::{RawPacketTrace, RecordKind, TRACE_DATA_BYTES};

/// Writes the capture to `out`; returns how many packets it holds.
pub fn write(out: &mut dyn Write, f: &RunFacts) -> Result<usize> {
    let mut w = PcapNgWriter::new(BufWriter::new(out)).context("pcapng header")?;
    // One interface per port, timestamps in nanoseconds (what pcap-file writes).
    for name in &f.port_names {
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: TRACE_DATA_BYTES as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::from(name.as_str())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })?;
    }
    // Worker-side continuations, by (rx thread, trace index).
    let n_rx = f.rx_traces.len() as u32;
    let mut continued: HashMap<(u32, u32), (u32, &RawPacketTrace)> = HashMap::new();
    for (w_i, traces) in f.worker_traces.iter().enumerate() {
        for t in traces {
            if let Some(RecordKind::HandedOff { from_thread, trace_index }) = t.iter().next().map(|r| r.kind) {
                continued.insert((from_thread, trace_index), (n_rx + 1 + w_i as u32, t));
            }
        }
    }
    let hz = f.tsc_hz.max(1) as f64;
    let mut written = 0;
    for (r_i, traces) in f.rx_traces.iter().enumerate() {
        let thread = r_i as u32 + 1;
        for (index, t) in traces.iter().enumerate() {
            let Some((tsc, snap)) = t.iter().find_map(|r| match r.kind {
                RecordKind::Input(s) => Some((r.tsc, s)),
                _ => None,
            }) else {
                continue;
            };
            let mut path: Vec<String> = vec![format!("thread {thread}:")];
            path.extend(t.iter().map(|r| r.node.name().to_string()));
            if let Some((w_thread, wt)) = continued.get(&(thread, index as u32)) {
                path.push(format!("-> thread {w_thread}:"));
                path.extend(wt.iter().map(|r| r.node.name().to_string()));
            }
            let since = tsc.saturating_sub(f.start_tsc) as f64 / hz;
            let data = &snap.data[..usize::from(snap.captured).min(TRACE_DATA_BYTES)];
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: u32::from(snap.port),
                timestamp: f.start_unix + Duration::from_secs_f64(since),
                original_len: snap.pkt_len,
                data: Cow::from(data),
                options: vec![EnhancedPacketOption::Comment(Cow::from(path.join(" ")))],
            })?;
            written += 1;
        }
    }
    w.into_inner().flush().context("pcapng")?;
    Ok(written)
}
