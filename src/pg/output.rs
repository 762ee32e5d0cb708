//! A script's streams as pcap files, one per interface: sized first, against
//! the script-wide caps and the free disk, then written packet by packet.

use std::io;
use std::path::{Path, PathBuf};

use super::pcapio::PcapOut;
use super::{
    PacketGen, PgError, Stream, FREE_SPACE_MARGIN, MAX_PACKETS_PER_SCRIPT, MAX_SCRIPT_BYTES, PCAP_FILE_HEADER,
    PCAP_RECORD_HEADER,
};

/// One interface's pcap file: planned by [`plan_inputs`], or written by
/// [`InputPlan::write`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedInput {
    /// The streams' `interface`.
    pub interface: String,
    /// `DIR/pg-I-INTERFACE.pcap`, I counting interfaces in script order.
    pub path: PathBuf,
    /// Packets in the file.
    pub packets: u64,
    /// Size of the file, headers included.
    pub bytes: u64,
    /// Some stream of the interface sends forever: the file is one period
    /// to replay in a loop (net_pcap's `infinite_rx=1`).
    pub infinite: bool,
}

/// What [`InputPlan::write`] will write; nothing is on disk yet.
#[derive(Debug)]
pub struct InputPlan<'a> {
    streams: &'a [Stream],
    dir: PathBuf,
    pub(super) files: Vec<GeneratedInput>,
    /// Indices into `streams` of each file's streams, in script order.
    members: Vec<Vec<usize>>,
    packets: u64,
    bytes: u64,
}

/// Sizes the pcap files of `streams` in `dir`, exactly, and refuses a script
/// over [`MAX_PACKETS_PER_SCRIPT`] or [`MAX_SCRIPT_BYTES`]. Reads nothing
/// from `dir` and makes no packet.
pub fn plan_inputs<'a>(streams: &'a [Stream], dir: &Path) -> Result<InputPlan<'a>, PgError> {
    let script = streams.first().map_or_else(String::new, |s| s.source.clone());
    let mut gens = Vec::with_capacity(streams.len());
    let mut packets = 0u64;
    for s in streams {
        let gen = PacketGen::new(s)?;
        packets = packets.saturating_add(gen.count());
        gens.push(gen);
    }
    // Counted before any size is summed: summing replays the random sizes.
    if packets > MAX_PACKETS_PER_SCRIPT {
        return Err(PgError::ScriptTooManyPackets { file: script, packets, max: MAX_PACKETS_PER_SCRIPT });
    }

    let mut files: Vec<GeneratedInput> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (k, (s, mut gen)) in streams.iter().zip(gens).enumerate() {
        let n = gen.count();
        // At most 16M records of at most 9016 bytes: no overflow.
        let bytes = n * PCAP_RECORD_HEADER + gen.total_len();
        let i = match files.iter().position(|f| f.interface == s.interface) {
            Some(i) => i,
            None => {
                let i = files.len();
                let path = dir.join(format!("pg-{i}-{}.pcap", sanitize(&s.interface)));
                files.push(GeneratedInput {
                    interface: s.interface.clone(),
                    path,
                    packets: 0,
                    bytes: PCAP_FILE_HEADER,
                    infinite: false,
                });
                members.push(Vec::new());
                i
            }
        };
        let f = &mut files[i];
        f.packets += n;
        f.bytes += bytes;
        f.infinite |= s.is_infinite();
        members[i].push(k);
    }
    let bytes = files.iter().map(|f| f.bytes).sum();
    if bytes > MAX_SCRIPT_BYTES {
        return Err(PgError::ScriptTooBig { file: script, bytes, max: MAX_SCRIPT_BYTES });
    }
    Ok(InputPlan { streams, dir: dir.to_path_buf(), files, members, packets, bytes })
}

/// Plans and writes `streams` as pcap files in `dir`: see [`plan_inputs`]
/// and [`InputPlan::write`].
pub fn write_inputs(streams: &[Stream], dir: &Path) -> Result<Vec<GeneratedInput>, PgError> {
    plan_inputs(streams, dir)?.write()
}

impl InputPlan<'_> {
    /// The files as they will be written.
    pub fn files(&self) -> &[GeneratedInput] {
        &self.files
    }

    /// Packets over all files.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes over all files, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks the free space of the directory, then writes each file as its
    /// packets are made. On error no file of the plan is left behind.
    pub fn write(&self) -> Result<Vec<GeneratedInput>, PgError> {
        let dir = self.dir.display().to_string();
        let free = free_space(&self.dir).map_err(|error| PgError::FreeSpace { dir: dir.clone(), error })?;
        check_free_space(&self.dir, self.bytes, free)?;
        for (i, f) in self.files.iter().enumerate() {
            if let Err(e) = self.write_file(f, &self.members[i]) {
                // The failed file is gone already; the earlier ones are
                // whole but useless without the rest.
                for done in &self.files[..i] {
                    let _ = std::fs::remove_file(&done.path);
                }
                return Err(e);
            }
        }
        Ok(self.files.clone())
    }

    fn write_file(&self, f: &GeneratedInput, members: &[usize]) -> Result<(), PgError> {
        let write_err = |error: io::Error| PgError::Write { file: f.path.display().to_string(), error };
        let res = PcapOut::create(&f.path, f.bytes).map_err(write_err).and_then(|mut out| {
            for &k in members {
                let mut gen = PacketGen::new(&self.streams[k])?;
                while let Some(p) = gen.next_packet() {
                    out.write(p?).map_err(write_err)?;
                }
            }
            let (packets, bytes) = out.finish().map_err(write_err)?;
            if (packets, bytes) != (f.packets, f.bytes) {
                let msg = format!("wrote {packets} packets in {bytes} bytes, planned {} in {}", f.packets, f.bytes);
                return Err(write_err(io::Error::other(msg)));
            }
            Ok(())
        });
        if res.is_err() {
            // Best effort: the write error is the one worth reporting.
            let _ = std::fs::remove_file(&f.path);
        }
        res
    }
}

/// Bytes an unprivileged user may still write on the filesystem of `dir`.
pub fn free_space(dir: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Refuses `needed` bytes in `dir` unless they fit in `free` with
/// [`FREE_SPACE_MARGIN`] to spare.
pub fn check_free_space(dir: &Path, needed: u64, free: u64) -> Result<(), PgError> {
    // checked_add: a sum past u64::MAX does not fit either.
    if needed.checked_add(FREE_SPACE_MARGIN).map_or(true, |n| n > free) {
        return Err(PgError::NoSpace { dir: dir.display().to_string(), needed, free, margin: FREE_SPACE_MARGIN });
    }
    Ok(())
}

/// Interface name made safe for a file name.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}
