//! Files a run writes. handoff runs as root, so an output is decided and
//! opened before EAL starts: a regular file is written to a temporary file
//! beside it and renamed over it only when the run has a report to show
//! (a failed run leaves the user's file as it was); a device, FIFO or `-`
//! is written into; a directory or an unwritable place is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{never, Receiver};

use crate::cleanup;
use crate::input::CaptureTotals;

/// How long opening a FIFO output waits for its reader: at most `limit`
/// (the run's --duration), and not past a signal on `interrupt`.
pub struct ReaderWait {
    pub limit: Option<Duration>,
    pub interrupt: Receiver<&'static str>,
}

impl ReaderWait {
    /// Waits for ever (tests and callers without a run).
    pub fn unbounded() -> ReaderWait {
        ReaderWait { limit: None, interrupt: never() }
    }
}

/// Opens `target` for writing, never truncating or creating it. A FIFO
/// without a reader is waited for, with a line that says so, within `wait`.
pub fn open_for_writing(what: &str, target: &Path, wait: &ReaderWait) -> Result<File> {
    let shown = target.display();
    let open = || OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(target);
    let started = Instant::now();
    let mut said = false;
    let file = loop {
        match open() {
            Ok(f) => break f,
            // ENXIO: a FIFO that nobody has open for reading (or a socket, which cannot be opened).
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && is_fifo(target) => {
                if !said {
                    crate::console::errln(&format!("handoff: waiting for a reader on FIFO {shown} ({what})"));
                    said = true;
                }
                if let Some(limit) = wait.limit.filter(|l| started.elapsed() >= *l) {
                    bail!("no reader opened FIFO {shown} ({what}) within {} s (--duration)", limit.as_secs_f64());
                }
                if let Ok(sig) = wait.interrupt.recv_timeout(Duration::from_millis(100)) {
                    bail!("stopped by {sig} while waiting for a reader on FIFO {shown} ({what})");
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot write {what} {shown}")),
        }
    };
    // Writes block again, as the writer (a PMD, the relay) expects.
    let flags = rustix::fs::fcntl_getfl(&file).with_context(|| format!("cannot write {what} {shown}"))?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
        .with_context(|| format!("cannot write {what} {shown}"))?;
    Ok(file)
}

fn is_fifo(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Where an output's bytes go.
#[derive(Debug)]
pub enum Sink {
    /// A regular file (or none yet): written to `temp`, renamed over `target`.
    Replace { temp: PathBuf, target: PathBuf, mode: u32 },
    /// A character device, FIFO or socket (or a symlink to one): written into.
    Into { target: PathBuf },
    /// A device or FIFO a PMD writes: through a FIFO of ours, relayed into
    /// the target by a thread that counts what reached it.
    Relay(Relay),
}

impl Sink {
    /// Chooses and prepares the sink for `target`; `what` names the flag in errors.
    pub fn prepare(what: &str, target: &Path) -> Result<Sink> {
        let shown = target.display();
        match std::fs::metadata(target) {
            Ok(m) if m.is_dir() => bail!("{what} {shown} is a directory; name a file"),
            Ok(m) if !m.is_file() => {
                let t = m.file_type();
                if t.is_char_device() || t.is_fifo() || t.is_socket() {
                    return Ok(Sink::Into { target: target.to_path_buf() });
                }
                bail!("{what} {shown} is neither a regular file, a device nor a FIFO");
            }
            Ok(m) => {
                // A symlink to a regular file: replace the file it names, keep the link.
                let resolved = target.canonicalize().with_context(|| format!("{what} {shown}"))?;
                Self::replace(what, &resolved, m.permissions().mode() & 0o7777)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(target).is_ok() {
                    bail!("{what} {shown} is a symlink to nothing; name a real file");
                }
                Self::replace(what, target, 0o644)
            }
            Err(e) => bail!("{what} {shown}: {e}"),
        }
    }

    fn replace(what: &str, target: &Path, mode: u32) -> Result<Sink> {
        let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{what} {}: directory {} does not exist", target.display(), dir.display());
        }
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Made with O_EXCL under a random name, so nobody can plant a symlink there.
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.handoff-"))
            .tempfile_in(dir)
            .with_context(|| format!("{what} {}: cannot write in {}", target.display(), dir.display()))?;
        let (_, temp) = tmp.keep().with_context(|| format!("{what} {}", target.display()))?;
        cleanup::note_temp_file(temp.clone());
        Ok(Sink::Replace { temp, target: target.to_path_buf(), mode })
    }

    /// For a file a PMD writes (tx_pcap): a device or FIFO gets a relay,
    /// so that what reaches it is counted too.
    pub fn prepare_for_pmd(what: &str, target: &Path, wait: &ReaderWait) -> Result<Sink> {
        match Self::prepare(what, target)? {
            Sink::Into { target } => Ok(Sink::Relay(Relay::start(what, &target, wait)?)),
            other => Ok(other),
        }
    }

    /// The path the writer (handoff or a PMD) opens.
    pub fn write_path(&self) -> &Path {
        match self {
            Sink::Replace { temp, .. } => temp,
            Sink::Into { target } => target,
            Sink::Relay(r) => &r.fifo,
        }
    }

    pub fn target(&self) -> &Path {
        match self {
            Sink::Replace { target, .. } | Sink::Into { target } => target,
            Sink::Relay(r) => &r.target,
        }
    }

    /// Whether what was written can be checked after the run.
    pub fn can_verify(&self) -> bool {
        !matches!(self, Sink::Into { .. })
    }

    /// What reached the target, once its writer closed it: re-read from a
    /// file, or counted by the relay; with the cause when it fell short.
    pub fn written(&self) -> Option<Written> {
        match self {
            Sink::Replace { temp, .. } => Some(Written::File(temp.clone())),
            Sink::Into { .. } => None,
            Sink::Relay(r) => Some(Written::Relayed(r.finish())),
        }
    }

    /// Makes the written file the user's: renames it over the target.
    pub fn commit(&self) -> Result<()> {
        if let Sink::Replace { temp, target, mode } = self {
            std::fs::set_permissions(temp, std::fs::Permissions::from_mode(*mode))
                .with_context(|| format!("cannot write {}", target.display()))?;
            std::fs::rename(temp, target).with_context(|| format!("cannot write {}", target.display()))?;
            cleanup::forget_temp_file(temp);
        }
        Ok(())
    }

    /// Drops what was written; the target stays as it was.
    pub fn discard(&self) {
        match self {
            Sink::Replace { temp, .. } => {
                let _ = std::fs::remove_file(temp);
                cleanup::forget_temp_file(temp);
            }
            Sink::Relay(r) => {
                let _ = r.finish();
            }
            Sink::Into { .. } => {}
        }
    }
}

/// What a sink's target holds after the run.
pub enum Written {
    /// A regular file to read back.
    File(PathBuf),
    /// What the relay wrote, and why it stopped writing if it did.
    Relayed(Result<CaptureTotals, (CaptureTotals, String)>),
}

const RELAY_DIR_PREFIX: &str = "handoff-relay-";
const RELAY_FIFO: &str = "tx.fifo";

/// Removes the relay directories (`handoff-relay-<pid>-*` in the temporary
/// directory) of runs that were killed: only directories (never a symlink)
/// of this uid whose pid is gone, holding nothing but the relay's FIFO.
/// Returns those removed.
pub fn reclaim_stale_relays() -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in cleanup::dead_runs_dirs(&[RELAY_DIR_PREFIX]) {
        let fifo = dir.join(RELAY_FIFO);
        if std::fs::symlink_metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo()) {
            let _ = std::fs::remove_file(&fifo);
        }
        // Fails, and leaves it, if anything else is in it.
        if std::fs::remove_dir(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

/// A FIFO of our own between a PMD and a device or FIFO target.
#[derive(Debug)]
pub struct Relay {
    fifo: PathBuf,
    target: PathBuf,
    done: Receiver<Result<CaptureTotals, (CaptureTotals, String)>>,
    result: Mutex<Option<Result<CaptureTotals, (CaptureTotals, String)>>>,
}

impl Relay {
    fn start(what: &str, target: &Path, wait: &ReaderWait) -> Result<Relay> {
        let out = open_for_writing(what, target, wait)?;
        // Named by our pid, so that a later run can tell when it is a dead run's.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RELAY_DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .context("cannot make a relay FIFO")?;
        let dir = dir.keep();
        cleanup::note_temp_dir(dir.clone());
        let fifo = dir.join(RELAY_FIFO);
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600))
            .with_context(|| format!("cannot make a relay FIFO for {what}"))?;
        let (tx, done) = crossbeam_channel::bounded(1);
        let reader_path = fifo.clone();
        std::thread::Builder::new()
            .name("handoff-relay".into())
            .spawn(move || {
                let _ = tx.send(relay(&reader_path, out));
            })
            .context("cannot start a relay thread")?;
        Ok(Relay { fifo, target: target.to_path_buf(), done, result: Mutex::new(None) })
    }

    /// Waits (bounded) for the writer to close the FIFO and the relay to drain it.
    fn finish(&self) -> Result<CaptureTotals, (CaptureTotals, String)> {
        let mut result = self.result.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = result.as_ref() {
            return r.clone();
        }
        // A PMD that never opened the FIFO (EAL failed) leaves the relay
        // waiting in open(): a writer that comes and goes releases it
        // (O_RDWR never blocks on a FIFO, and is a writer).
        if self.done.is_empty() {
            drop(OpenOptions::new().read(true).write(true).open(&self.fifo));
        }
        let r = self
            .done
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| Err((CaptureTotals::default(), "the relay did not finish".to_string())));
        *result = Some(r.clone());
        r
    }
}

/// Copies a pcap stream from `fifo` into `out` until the writer closes it;
/// counts the records that reached `out` whole. After a write error it
/// keeps draining (so the PMD never blocks) and reports the error.
fn relay(fifo: &Path, mut out: File) -> Result<CaptureTotals, (CaptureTotals, String)> {
    let mut input = match File::open(fifo) {
        Ok(f) => f,
        Err(e) => return Err((CaptureTotals::default(), format!("relay FIFO: {e}"))),
    };
    let mut counter = PcapStreamCounter::default();
    let mut failed: Option<String> = None;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                failed.get_or_insert(format!("relay read: {e}"));
                break;
            }
        };
        if failed.is_none() {
            match out.write_all(&buf[..n]) {
                Ok(()) => counter.feed(&buf[..n]),
                Err(e) => failed = Some(format!("writing it failed: {e}")),
            }
        }
    }
    match failed {
        None => Ok(counter.totals),
        Some(why) => Err((counter.totals, why)),
    }
}

/// Counts whole records in a pcap byte stream as it goes by.
#[derive(Default)]
struct PcapStreamCounter {
    /// Bytes of the file header still to skip, then of the current record.
    header: Vec<u8>,
    big_endian: Option<bool>,
    /// Bytes of the current record's data still to come.
    data_left: u64,
    record: (u32, u32),
    totals: CaptureTotals,
}

impl PcapStreamCounter {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.data_left > 0 {
                let take = (self.data_left as usize).min(bytes.len());
                self.data_left -= take as u64;
                bytes = &bytes[take..];
                if self.data_left == 0 {
                    self.count_record();
                }
                continue;
            }
            let want = if self.big_endian.is_none() { 24 } else { 16 };
            let take = (want - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.header.len() < want {
                continue;
            }
            let word = |i: usize, be: bool| {
                let w = [self.header[i], self.header[i + 1], self.header[i + 2], self.header[i + 3]];
                if be {
                    u32::from_be_bytes(w)
                } else {
                    u32::from_le_bytes(w)
                }
            };
            match self.big_endian {
                None => {
                    let le = word(0, false);
                    self.big_endian = Some(!(le == 0xa1b2_c3d4 || le == 0xa1b2_3c4d));
                }
                Some(be) => {
                    let (caplen, len) = (word(8, be), word(12, be));
                    self.record = (caplen, len);
                    self.data_left = u64::from(caplen);
                    if caplen == 0 {
                        self.count_record();
                    }
                }
            }
            self.header.clear();
        }
    }

    fn count_record(&mut self) {
        let (caplen, len) = self.record;
        self.totals.packets += 1;
        self.totals.captured_bytes += u64::from(caplen);
        self.totals.original_bytes += u64::from(len);
        self.totals.truncated += u64::from(caplen < len);
    }
}

/// `--trace-pcapng`'s destination: a sink opened now, or standard output.
pub enum TraceDestination {
    Stdout,
    File { sink: Sink, file: File },
}

impl TraceDestination {
    pub fn prepare(target: &Path, wait: &ReaderWait) -> Result<TraceDestination> {
        if target.as_os_str() == "-" {
            return Ok(TraceDestination::Stdout);
        }
        let sink = Sink::prepare("--trace-pcapng", target)?;
        // Opened now, so an unwritable device is found before EAL starts (a
        // FIFO waits here for its reader, within `wait`).
        let file = open_for_writing("--trace-pcapng", sink.write_path(), wait)?;
        Ok(TraceDestination::File { sink, file })
    }

    pub fn is_stdout(&self) -> bool {
        matches!(self, TraceDestination::Stdout)
    }

    /// Writes with `write`, then commits; on failure the target is left as it was.
    pub fn write_with(self, write: impl FnOnce(&mut dyn Write) -> Result<usize>) -> Result<usize> {
        match self {
            TraceDestination::Stdout => {
                crate::console::stdout_usable().context("cannot write --trace-pcapng to stdout")?;
                let mut out = std::io::stdout().lock();
                let n = write(&mut out).context("cannot write --trace-pcapng to stdout")?;
                out.flush().context("cannot write --trace-pcapng to stdout")?;
                Ok(n)
            }
            TraceDestination::File { sink, mut file } => {
                let result = write(&mut file).and_then(|n| {
                    file.flush()?;
                    if sink.can_verify() {
                        file.sync_all()?;
                    }
                    Ok(n)
                });
                drop(file);
                match result {
                    Ok(n) => {
                        sink.commit()?;
                        Ok(n)
                    }
                    Err(e) => {
                        sink.discard();
                        Err(e.context(format!("cannot write --trace-pcapng {}", sink.target().display())))
                    }
                }
            }
        }
    }

    pub fn discard(self) {
        if let TraceDestination::File { sink, .. } = self {
            sink.discard();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_replaced_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.pcap");
        std::fs::write(&target, b"precious").unwrap();
        let sink = Sink::prepare("tx_pcap", &target).unwrap();
        std::fs::write(sink.write_path(), b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        sink.discard();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is gone");
        let sink = Sink::prepare("tx_pcap", &target).unwrap();
        std::fs::write(sink.write_path(), b"new").unwrap();
        sink.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn devices_are_written_into_and_directories_refused() {
        let sink = Sink::prepare("tx_pcap", Path::new("/dev/null")).unwrap();
        assert!(matches!(sink, Sink::Into { .. }));
        let e = Sink::prepare("tx_pcap", Path::new("/tmp")).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = Sink::prepare("tx_pcap", Path::new("/nonexistent/dir/x.pcap")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn the_stream_counter_counts_whole_records_in_any_chunking() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        stream.extend_from_slice(&[0u8; 20]);
        for (caplen, len) in [(60u32, 60u32), (100, 1500), (0, 0)] {
            for w in [0, 0, caplen, len] {
                stream.extend_from_slice(&w.to_le_bytes());
            }
            stream.extend(std::iter::repeat_n(7u8, caplen as usize));
        }
        for chunk in [1, 3, 7, 16, 1000] {
            let mut c = PcapStreamCounter::default();
            stream.chunks(chunk).for_each(|b| c.feed(b));
            assert_eq!(c.totals, CaptureTotals { packets: 3, captured_bytes: 160, original_bytes: 1560, truncated: 1 });
        }
        // A record cut off by a write error is not counted.
        let mut c = PcapStreamCounter::default();
        c.feed(&stream[..stream.len() - 120]);
        assert_eq!(c.totals.packets, 1);
    }

    #[test]
    fn a_relay_into_dev_full_reports_the_failure() {
        let mut relay_dirs = Vec::new();
        let sink = Sink::prepare_for_pmd("tx_pcap", Path::new("/dev/full"), &ReaderWait::unbounded()).unwrap();
        relay_dirs.push(sink.write_path().parent().unwrap().to_path_buf());
        let mut w = OpenOptions::new().write(true).open(sink.write_path()).unwrap();
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
        w.write_all(&[0u8; 20]).unwrap();
        drop(w);
        match sink.written() {
            Some(Written::Relayed(Err((_, why)))) => assert!(why.contains("No space left"), "{why}"),
            _ => panic!("a write into /dev/full must fail"),
        }
        let sink = Sink::prepare_for_pmd("tx_pcap", Path::new("/dev/null"), &ReaderWait::unbounded()).unwrap();
        relay_dirs.push(sink.write_path().parent().unwrap().to_path_buf());
        drop(OpenOptions::new().write(true).open(sink.write_path()).unwrap());
        assert!(matches!(sink.written(), Some(Written::Relayed(Ok(t))) if t.packets == 0));
        // Never opened by a writer (EAL failed): finishing does not hang.
        let sink = Sink::prepare_for_pmd("tx_pcap", Path::new("/dev/null"), &ReaderWait::unbounded()).unwrap();
        relay_dirs.push(sink.write_path().parent().unwrap().to_path_buf());
        sink.discard();
        // What a run's exit would remove (cleanup::remove_all), without touching other tests' files.
        for d in relay_dirs {
            assert!(d
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("handoff-relay-{}-", std::process::id())));
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn a_fifo_without_a_reader_waits_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let wait = ReaderWait { limit: Some(Duration::from_millis(300)), interrupt: never() };
        let started = Instant::now();
        let e = open_for_writing("tx_pcap", &fifo, &wait).unwrap_err();
        assert!(e.to_string().contains("no reader opened FIFO"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let (tx, interrupt) = crossbeam_channel::bounded(1);
        tx.send("SIGINT").unwrap();
        let e = open_for_writing("tx_pcap", &fifo, &ReaderWait { limit: None, interrupt }).unwrap_err();
        assert!(e.to_string().contains("stopped by SIGINT"), "{e}");
        // With a reader, it opens, and writes block again.
        let _reader = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(&fifo).unwrap();
        let w = open_for_writing("tx_pcap", &fifo, &wait).unwrap();
        assert!(!rustix::fs::fcntl_getfl(&w).unwrap().contains(rustix::fs::OFlags::NONBLOCK));
        // A socket is not waited for.
        let sock = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let started = Instant::now();
        assert!(open_for_writing("tx_pcap", &sock, &ReaderWait::unbounded()).is_err());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_symlink_to_a_file_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.pcapng");
        let link = dir.path().join("link.pcapng");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let dest = TraceDestination::prepare(&link, &ReaderWait::unbounded()).unwrap();
        dest.write_with(|w| {
            w.write_all(b"new")?;
            Ok(1)
        })
        .unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }
}
