//! Files a run writes. handoff runs as root, so an output is decided and
//! opened before EAL starts: a regular file is written to a temporary file
//! beside it and renamed over it only when the run has a report to show
//! (a failed run leaves the user's file as it was); a device, FIFO or `-`
//! is written into; a directory or an unwritable place is refused.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cleanup;

/// Where an output's bytes go.
#[derive(Debug)]
pub enum Sink {
    /// A regular file (or none yet): written to `temp`, renamed over `target`.
    Replace { temp: PathBuf, target: PathBuf, mode: u32 },
    /// A character device, FIFO or socket (or a symlink to one): written into.
    Into { target: PathBuf },
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

    /// The path the writer (handoff or a PMD) opens.
    pub fn write_path(&self) -> &Path {
        match self {
            Sink::Replace { temp, .. } => temp,
            Sink::Into { target } => target,
        }
    }

    pub fn target(&self) -> &Path {
        match self {
            Sink::Replace { target, .. } | Sink::Into { target } => target,
        }
    }

    /// Whether what was written can be read back and checked (not a device or FIFO).
    pub fn can_verify(&self) -> bool {
        matches!(self, Sink::Replace { .. })
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
        if let Sink::Replace { temp, .. } = self {
            let _ = std::fs::remove_file(temp);
            cleanup::forget_temp_file(temp);
        }
    }
}

/// `--trace-pcapng`'s destination: a sink opened now, or standard output.
pub enum TraceDestination {
    Stdout,
    File { sink: Sink, file: File },
}

impl TraceDestination {
    pub fn prepare(target: &Path) -> Result<TraceDestination> {
        if target.as_os_str() == "-" {
            return Ok(TraceDestination::Stdout);
        }
        let sink = Sink::prepare("--trace-pcapng", target)?;
        // Opened now, so an unwritable device is found before EAL starts (a
        // FIFO waits here for its reader); never truncated or created here.
        let file = OpenOptions::new()
            .write(true)
            .open(sink.write_path())
            .with_context(|| format!("cannot write --trace-pcapng {}", target.display()))?;
        Ok(TraceDestination::File { sink, file })
    }

    pub fn is_stdout(&self) -> bool {
        matches!(self, TraceDestination::Stdout)
    }

    /// Writes with `write`, then commits; on failure the target is left as it was.
    pub fn write_with(self, write: impl FnOnce(&mut dyn Write) -> Result<usize>) -> Result<usize> {
        match self {
            TraceDestination::Stdout => {
                let mut out = std::io::stdout().lock();
                let n = write(&mut out)?;
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
    fn a_symlink_to_a_file_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.pcapng");
        let link = dir.path().join("link.pcapng");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let dest = TraceDestination::prepare(&link).unwrap();
        dest.write_with(|w| {
            w.write_all(b"new")?;
            Ok(1)
        })
        .unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }
}
