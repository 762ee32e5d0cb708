//! FD.io VPP packet-generator scripts (`packet-generator new { ... }`).
//!
//! [`parse_file`] / [`parse_str`] read the stanzas (VPP's `src/vnet/pg/cli.c`
//! grammar); [`write_inputs`] (or [`plan_inputs`] then [`InputPlan::write`])
//! stores each interface's streams as one classic Ethernet pcap for a DPDK
//! net_pcap vdev. Packets go to disk as they are made, so memory does not
//! grow with `limit`; the whole script is sized first and refused if it
//! would pass the script-wide caps or the free disk. Nothing here panics on
//! bad input: every problem is a [`PgError`] in one line.

mod build;
mod output;
mod parse;
mod pcapio;

#[cfg(test)]
mod output_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use build::Template;

pub use output::{check_free_space, free_space, plan_inputs, write_inputs, GeneratedInput, InputPlan};
#[cfg(test)]
pub use pcapio::write_pcap;

/// Largest packet we make or accept (jumbo frame).
pub const MAX_PACKET_SIZE: u16 = 9000;
/// Most packets one stream may materialise.
pub const MAX_PACKETS_PER_STREAM: u64 = 1_000_000;
/// Most bytes one stream may materialise, so a big `limit` of big packets
/// fails with a message instead of exhausting memory.
pub const MAX_BYTES_PER_STREAM: u64 = 2 << 30;
/// First nodes the pipeline accepts; the first one is the default.
pub const SUPPORTED_NODES: [&str; 3] = ["handoffdemo-1", "ethernet-input", "dpdk-input"];
/// Packets in one period of an endless `size A+B` stream.
pub const RANDOM_PERIOD: u64 = 256;
/// Most bytes of pcap files one script may make, headers included. The
/// per-stream caps alone leave a many-stream script unbounded; 2 GiB is the
/// old per-stream budget, far more than a functional run needs, and small
/// enough that net_pcap's `infinite_rx=1` (which copies the whole file into
/// mbufs) and the disk under the temp dir cope.
pub const MAX_SCRIPT_BYTES: u64 = 2 << 30;
/// Most packets one script may make, over all streams: with tiny packets
/// the byte cap would allow ~125M records, and planning replays every
/// random stream's sizes, so this keeps planning and writing to seconds.
pub const MAX_PACKETS_PER_SCRIPT: u64 = 16 * MAX_PACKETS_PER_STREAM;
/// Free space left untouched on the output filesystem: block rounding and
/// metadata of the files, and room for whatever else writes there (logs,
/// the run's own output pcaps), so the inputs never take the last bytes.
pub const FREE_SPACE_MARGIN: u64 = 16 << 20;
/// Bytes of a classic pcap file header.
pub const PCAP_FILE_HEADER: u64 = 24;
/// Bytes of a classic pcap record header, before each packet's data.
pub const PCAP_RECORD_HEADER: u64 = 16;

/// Packet sizes of a stream, in bytes (VPP's `size A-B` / `size A+B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSpec {
    /// `size A-B`: A, A+1, ..., B, then A again.
    Step { min: u16, max: u16 },
    /// `size A+B`: uniformly random in [A, B], from a fixed per-stream seed.
    Random { min: u16, max: u16 },
}

impl SizeSpec {
    /// (min, max) whatever the kind.
    pub fn bounds(&self) -> (u16, u16) {
        match *self {
            SizeSpec::Step { min, max } | SizeSpec::Random { min, max } => (min, max),
        }
    }
}

/// One `packet-generator new` stanza.
#[derive(Debug, Clone)]
pub struct Stream {
    /// `name` (default `streamN`, N counting stanzas from 0).
    pub name: String,
    /// `limit`: packets to send, 0 = forever. For a `pcap` stream given no
    /// limit this is the file's packet count, as VPP does.
    pub limit: u64,
    /// `size` (default 64-64); for `pcap` the smallest and largest packet.
    pub size: SizeSpec,
    /// `interface` (default `local0`): the rx interface the packets claim.
    pub interface: String,
    /// `node` (default `handoffdemo-1`): the first node.
    pub node: String,
    /// `worker N`.
    pub worker: Option<u32>,
    /// `rate` in packets per second; `rate 0` (VPP: no limit) is `None`.
    pub rate: Option<f64>,
    /// `maxframe N`.
    pub maxframe: Option<u32>,
    /// Line of the `packet-generator new` that started the stanza.
    pub line: usize,
    /// Script name as given, for error messages.
    source: String,
    data: DataSpec,
}

/// Where a stream's bytes come from.
#[derive(Debug, Clone)]
enum DataSpec {
    /// `data { ... }`, starting on `line`.
    Template { tpl: Template, line: usize },
    /// `pcap FILE`, read when the script was parsed.
    Pcap { path: PathBuf, packets: Vec<Vec<u8>> },
}

/// What went wrong, without the position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("no packet data given")]
    NoData,
    #[error("max-size < min-size")]
    MaxLessThanMin,
    #[error("unknown input '{0}'")]
    UnknownInput(String),
    #[error("unterminated '{{' (no matching '}}')")]
    Unterminated,
    #[error("'{0}' needs a value")]
    MissingValue(String),
    #[error("bad {what} '{value}'")]
    BadValue { what: &'static str, value: String },
    #[error("expected {expected}, found {found}")]
    Expected { expected: String, found: String },
    #[error("packet size must be at least 1 byte")]
    SizeZero,
    #[error("packet size {0} is over the jumbo frame limit of 9000 bytes")]
    SizeTooBig(u64),
    #[error("min-size {min} < total header size {header}")]
    HeaderTooBig { min: u16, header: usize },
    #[error("node '{0}' is not supported (expected handoffdemo-1)")]
    UnsupportedNode(String),
    #[error("limit {0} is too big to materialise (at most 1000000 packets per stream)")]
    LimitTooBig(u64),
    #[error("stream needs {0} bytes of packets, more than the 2 GiB that can be materialised")]
    TooManyBytes(u64),
    #[error("'{0}' given twice")]
    Duplicate(&'static str),
    #[error("both 'data' and 'pcap' given")]
    DataAndPcap,
    #[error("stream name '{name}' already used at line {first}")]
    DuplicateName { name: String, first: usize },
    #[error("{0}")]
    Layer(String),
    #[error("pcap '{file}': {msg}")]
    Pcap { file: String, msg: String },
    #[error("no 'packet-generator new' stanza")]
    NoStreams,
}

/// A script error. Display is one line: `FILE:LINE: message`, or
/// `FILE: cannot read: ...` when the script itself cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The io error is in the message, not `source()`, so that printing the
    /// chain still gives one line.
    #[error("{file}: cannot read: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{file}:{line}: {kind}")]
    At { file: String, line: usize, kind: ErrorKind },
    #[error("{file}: the streams make {packets} packets, over the limit of {max} packets per script")]
    ScriptTooManyPackets { file: String, packets: u64, max: u64 },
    #[error("{file}: the streams need {bytes} bytes of pcap files, over the limit of {max} bytes per script")]
    ScriptTooBig { file: String, bytes: u64, max: u64 },
    #[error(
        "{dir}: the pg inputs need {needed} bytes but only {free} bytes are free \
         ({margin} bytes are kept spare)"
    )]
    NoSpace { dir: String, needed: u64, free: u64, margin: u64 },
    /// io errors in the message, as for `Read`.
    #[error("{dir}: cannot check free space: {error}")]
    FreeSpace { dir: String, error: std::io::Error },
    #[error("{file}: cannot write: {error}")]
    Write { file: String, error: std::io::Error },
}

impl PgError {
    /// The problem without its position (`None` for an unreadable script).
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self {
            PgError::At { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Line of the problem (`None` for an unreadable script and for errors
    /// about the script as a whole or the files written).
    pub fn line(&self) -> Option<usize> {
        match self {
            PgError::At { line, .. } => Some(*line),
            _ => None,
        }
    }
}

fn at(file: &str, line: usize, kind: ErrorKind) -> PgError {
    PgError::At { file: file.to_string(), line, kind }
}

/// Reads and parses a script; `pcap FILE` paths are relative to its directory.
pub fn parse_file(path: &Path) -> Result<Vec<Stream>, PgError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| PgError::Read { file: file.clone(), error })?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parse_str(&text, &file, base)
}

/// Parses script text; `source` names it in errors, `base_dir` anchors
/// relative `pcap FILE` paths.
pub fn parse_str(text: &str, source: &str, base_dir: &Path) -> Result<Vec<Stream>, PgError> {
    parse::parse(text, source, base_dir)
}

impl Stream {
    /// The packets this stream sends, all at once (tests only: the product
    /// streams them to disk through [`PacketGen`]). For limit 0 (forever)
    /// returns one period that the caller loops (one packet per distinct
    /// size for Step, 256 packets for Random, all packets for `pcap`).
    #[cfg(test)]
    pub fn packets(&self) -> Result<Vec<Vec<u8>>, PgError> {
        let mut gen = PacketGen::new(self)?;
        let mut out = Vec::new();
        while let Some(p) = gen.next_packet() {
            out.push(p?.to_vec());
        }
        Ok(out)
    }

    /// True when the stream sends forever (limit 0, not from a pcap file).
    pub fn is_infinite(&self) -> bool {
        self.limit == 0 && !matches!(self.data, DataSpec::Pcap { .. })
    }

    /// How many packets the stream puts in its pcap file (one period when
    /// it is infinite).
    pub fn packet_count(&self) -> Result<u64, PgError> {
        let n = match (&self.data, self.limit) {
            (DataSpec::Pcap { packets, .. }, 0) => packets.len() as u64,
            (DataSpec::Template { .. }, 0) => match self.size {
                SizeSpec::Step { min, max } => u64::from(max.saturating_sub(min)) + 1,
                SizeSpec::Random { .. } => RANDOM_PERIOD,
            },
            (_, n) => n,
        };
        if n > MAX_PACKETS_PER_STREAM {
            return Err(at(&self.source, self.line, ErrorKind::LimitTooBig(n)));
        }
        Ok(n)
    }

    /// The `pcap FILE` this stream replays, resolved against the script's directory.
    pub fn pcap_file(&self) -> Option<&Path> {
        match &self.data {
            DataSpec::Pcap { path, .. } => Some(path),
            DataSpec::Template { .. } => None,
        }
    }

    /// Fixed seed per stream name: runs repeat, streams differ.
    fn seed(&self) -> u64 {
        // FNV-1a: stable across Rust versions, unlike DefaultHasher.
        self.name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    }
}

/// Validates a size range; returns (min, max).
fn check_size(size: SizeSpec) -> Result<(u16, u16), ErrorKind> {
    let (min, max) = size.bounds();
    for v in [min, max] {
        if v == 0 {
            return Err(ErrorKind::SizeZero);
        }
        if v > MAX_PACKET_SIZE {
            return Err(ErrorKind::SizeTooBig(u64::from(v)));
        }
    }
    if max < min {
        return Err(ErrorKind::MaxLessThanMin);
    }
    Ok((min, max))
}

/// Refuses streams whose packets would not fit the byte budget.
fn check_bytes(count: u64, max_size: u16) -> Result<(), ErrorKind> {
    let bytes = count.saturating_mul(u64::from(max_size));
    if bytes > MAX_BYTES_PER_STREAM {
        return Err(ErrorKind::TooManyBytes(bytes));
    }
    Ok(())
}

/// Where a checked stream's packets come from.
enum Source<'a> {
    Pcap(&'a [Vec<u8>]),
    Template {
        tpl: &'a Template,
        line: usize,
        min: u16,
        max: u16,
        random: bool,
        /// Packets built so far, one per distinct size, built on first use:
        /// at most 9000 sizes of at most 9000 bytes, whatever the limit.
        cache: Vec<Option<Vec<u8>>>,
    },
}

/// A stream's packets one at a time, in order: the sizes alone for the
/// planner ([`PacketGen::total_len`]), the bytes for the writer. Both walk
/// the same sequence, so the planned size is the written size.
pub(crate) struct PacketGen<'a> {
    stream: &'a Stream,
    src: Source<'a>,
    rng: fastrand::Rng,
    next: u64,
    count: u64,
}

impl<'a> PacketGen<'a> {
    /// Checks the stream again (its fields are public and may have been
    /// edited since parsing) and starts at its first packet.
    pub fn new(stream: &'a Stream) -> Result<PacketGen<'a>, PgError> {
        let err = |line: usize, kind: ErrorKind| at(&stream.source, line, kind);
        let count = stream.packet_count()?;
        let src = match &stream.data {
            DataSpec::Pcap { packets, .. } => {
                if packets.is_empty() {
                    return Err(err(stream.line, ErrorKind::NoData));
                }
                let longest = packets.iter().map(Vec::len).max().unwrap_or(0);
                let longest = u16::try_from(longest).unwrap_or(u16::MAX);
                check_bytes(count, longest).map_err(|k| err(stream.line, k))?;
                Source::Pcap(packets)
            }
            DataSpec::Template { tpl, line } => {
                let (min, max) = check_size(stream.size).map_err(|k| err(stream.line, k))?;
                if usize::from(min) < tpl.header_len() {
                    return Err(err(*line, ErrorKind::HeaderTooBig { min, header: tpl.header_len() }));
                }
                check_bytes(count, max).map_err(|k| err(stream.line, k))?;
                let random = matches!(stream.size, SizeSpec::Random { .. });
                Source::Template { tpl, line: *line, min, max, random, cache: Vec::new() }
            }
        };
        Ok(PacketGen { stream, src, rng: fastrand::Rng::with_seed(stream.seed()), next: 0, count })
    }

    /// Packets this stream makes in all.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Steps to the next packet: for `pcap` its index in the file's
    /// packets, for `data` its size.
    fn pick(&mut self) -> Option<usize> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(match &self.src {
            // i % len < len, so it fits usize.
            Source::Pcap(p) => (i % p.len() as u64) as usize,
            Source::Template { min, max, random: true, .. } => usize::from(self.rng.u16(*min..=*max)),
            Source::Template { min, max, .. } => {
                let span = u64::from(max - min) + 1;
                // i % span < span <= 9000.
                usize::from(*min) + (i % span) as usize
            }
        })
    }

    /// Sum of the lengths of the packets not yet made, consuming them.
    pub fn total_len(&mut self) -> u64 {
        let mut sum = 0u64;
        while let Some(k) = self.pick() {
            sum += match &self.src {
                Source::Pcap(p) => p[k].len() as u64,
                Source::Template { .. } => k as u64,
            };
        }
        sum
    }

    /// The next packet, or `None` after the last.
    pub fn next_packet(&mut self) -> Option<Result<&[u8], PgError>> {
        let k = self.pick()?;
        Some(match &mut self.src {
            Source::Pcap(p) => Ok(p[k].as_slice()),
            Source::Template { tpl, line, min, max, cache, .. } => {
                if cache.is_empty() {
                    *cache = vec![None; usize::from(*max - *min) + 1];
                }
                let slot = &mut cache[k - usize::from(*min)];
                if slot.is_none() {
                    match tpl.build(k) {
                        Ok(p) => *slot = Some(p),
                        Err(m) => return Some(Err(at(&self.stream.source, *line, ErrorKind::Layer(m)))),
                    }
                }
                Ok(slot.as_deref().unwrap_or_default())
            }
        })
    }
}
