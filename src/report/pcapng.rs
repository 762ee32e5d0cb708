//! `--trace-pcapng FILE`: the traced packets (the bytes dpdk-input kept) as
//! pcapng, each with its node path across threads as a packet comment, for
//! Wireshark / tshark. Where it goes (a file replaced atomically, a device,
//! stdout) is `output::TraceDestination`'s business.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, PcapError};

use crate::ids::ThreadId;
use crate::nodes::dpdk_input::TRACE_DATA_BYTES;
use crate::nodes::{PacketTrace, Record};
use crate::pipeline::facts::RunFacts;
use crate::pipeline::topology::Role;

/// Writes the capture to `out`; returns how many packets it holds.
pub fn write(out: &mut dyn Write, f: &RunFacts) -> Result<usize> {
    let mut w = PcapNgWriter::new(BufWriter::new(out)).map_err(io_error)?;
    // One interface per port, timestamps in nanoseconds (what pcap-file writes).
    for name in &f.port_names {
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: TRACE_DATA_BYTES as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::from(name.as_str())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .map_err(io_error)?;
    }
    // Worker-side continuations, by the trace handle's (thread, index).
    let mut continued: HashMap<(u32, u32), (ThreadId, &PacketTrace)> = HashMap::new();
    for facts in f.threads.iter().filter(|t| matches!(t.thread.role, Role::Worker { .. })) {
        for p in &facts.traces {
            if let Some((_, _, Record::HandedOff(h))) = p.records().next() {
                continued.insert((h.from_thread, h.trace_index), (facts.thread.id, p));
            }
        }
    }
    let hz = f.tsc_hz.max(1) as f64;
    let mut written = 0;
    for facts in f.threads.iter().filter(|t| matches!(t.thread.role, Role::Rx { .. })) {
        let t = &facts.thread;
        for p in &facts.traces {
            let Some((tsc, snap)) = p.input() else { continue };
            let index = crate::ids::TraceHandle::from_raw(snap.trace_handle).index();
            let mut path: Vec<String> = vec![format!("thread {}:", t.id)];
            path.extend(p.nodes().map(|n| n.name().to_string()));
            let mut end = p.end();
            if let Some((w_thread, wp)) = continued.get(&(t.id.0, index)) {
                path.push(format!("-> thread {w_thread}:"));
                path.extend(wp.nodes().map(|n| n.name().to_string()));
                end = wp.end().or(end);
            }
            // Where the packet ended: sent, or the drop counter that took it.
            let mut comment = path.join(" ");
            if let Some(end) = end {
                comment.push_str("; end: ");
                comment.push_str(&end);
            }
            let since = tsc.saturating_sub(f.start_tsc) as f64 / hz;
            w.write_pcapng_block(EnhancedPacketBlock {
                interface_id: u32::from(snap.port),
                timestamp: f.start_unix + Duration::from_secs_f64(since),
                original_len: snap.pkt_len,
                data: Cow::from(snap.captured_data()),
                options: vec![EnhancedPacketOption::Comment(Cow::from(comment))],
            })
            .map_err(io_error)?;
            written += 1;
        }
    }
    w.into_inner().flush()?;
    Ok(written)
}

/// pcap-file says "Error reading bytes" for any I/O error, writes included:
/// the I/O error itself says what failed (the caller names the file).
fn io_error(e: PcapError) -> anyhow::Error {
    match e {
        PcapError::IoError(io) => io.into(),
        other => other.into(),
    }
}
