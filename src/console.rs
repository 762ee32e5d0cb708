//! Every write of a run to stdout and stderr goes through here. A closed
//! pipe or any other write error never panics (as `eprint!` does) and never
//! stops the run: once stderr fails, what only informs (stats, progress)
//! stops; the report's own write reports its failure to the caller.
//! Periodic lines to a pipe or file are written by a thread of their own,
//! so a reader that stops reading cannot block thread 0.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};

static STDERR_FAILED: AtomicBool = AtomicBool::new(false);
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Notes whether stdout was closed when the process started (`>&-`). Rust's
/// runtime reopens a closed stdout on /dev/null (read-write, which no shell
/// redirection does), where the report would vanish without an error.
pub fn note_closed_stdout() {
    let on_null = std::fs::read_link("/proc/self/fd/1").is_ok_and(|p| p.as_os_str() == "/dev/null");
    let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
        info.lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .is_some_and(|flags| flags & 0o3 == 0o2)
    });
    STDOUT_CLOSED.store(on_null && read_write, Ordering::Relaxed);
}

/// Whether stderr still takes what is written to it.
pub fn stderr_ok() -> bool {
    !STDERR_FAILED.load(Ordering::Relaxed)
}

/// Writes `text` to stderr; false (and stderr is given up) when it fails.
pub fn err(text: &str) -> bool {
    if !stderr_ok() {
        return false;
    }
    let mut e = std::io::stderr().lock();
    let ok = e.write_all(text.as_bytes()).and_then(|()| e.flush()).is_ok();
    if !ok {
        STDERR_FAILED.store(true, Ordering::Relaxed);
    }
    ok
}

/// Writes one line to stderr (see `err`).
pub fn errln(line: &str) -> bool {
    err(&format!("{line}\n"))
}

/// An error when stdout was closed at start (see `note_closed_stdout`).
pub fn stdout_usable() -> std::io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed"));
    }
    Ok(())
}

/// Writes the whole of `text` to stdout and flushes it.
pub fn out(text: &[u8]) -> std::io::Result<()> {
    stdout_usable()?;
    let mut o = std::io::stdout().lock();
    o.write_all(text)?;
    o.flush()
}

/// Stderr as a `Write` (for the logger): errors are absorbed as `err` does.
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        err(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Message {
    Text(String),
    Settled(Sender<()>),
}

/// Lines queued for stderr beyond this are dropped: their reader is stuck.
const QUEUED_LINES: usize = 64;

static INFORMER: OnceLock<Option<Sender<Message>>> = OnceLock::new();

fn informer() -> Option<&'static Sender<Message>> {
    INFORMER
        .get_or_init(|| {
            let (tx, rx) = bounded::<Message>(QUEUED_LINES);
            let spawned = std::thread::Builder::new().name("handoff-stderr".into()).spawn(move || {
                for m in rx {
                    match m {
                        Message::Text(t) => {
                            err(&t);
                        }
                        Message::Settled(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            });
            spawned.ok().map(|_| tx)
        })
        .as_ref()
}

/// Queues informational text (stats lines) for stderr without blocking;
/// dropped when stderr failed or its reader is far behind.
pub fn inform(text: String) {
    if !stderr_ok() {
        return;
    }
    match informer() {
        Some(tx) => {
            let _ = tx.try_send(Message::Text(text));
        }
        None => {
            err(&text);
        }
    }
}

/// Waits (at most a second) until the queued informational text is written,
/// so that the lines at the end of a run come after it.
pub fn settle() {
    let Some(Some(tx)) = INFORMER.get() else { return };
    let (done_tx, done_rx) = bounded(1);
    if tx.try_send(Message::Settled(done_tx)).is_ok() {
        let _ = done_rx.recv_timeout(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn informing_never_blocks_and_settles() {
        for i in 0..1000 {
            super::inform(if i == 0 { "informing\n".into() } else { String::new() });
        }
        super::settle();
    }
}
