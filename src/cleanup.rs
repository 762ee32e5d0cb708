//! What this run created and must remove on every way out: normal end,
//! failure, a second SIGINT, a panic. handoff runs as root, so only paths
//! registered here (made by this run) are ever removed.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::dpdk::runtime_files::RuntimeFiles;

#[derive(Default)]
struct Registry {
    /// EAL's runtime files, and whether EAL started (then they are ours).
    runtime: Option<(RuntimeFiles, bool)>,
    /// Temporary files (pending outputs), removed unless persisted.
    files: Vec<PathBuf>,
    /// Temporary directories this run made (generated pg inputs).
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { runtime: None, files: Vec::new(), dirs: Vec::new() });

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Notes EAL's runtime files before EAL starts.
pub fn note_runtime(files: RuntimeFiles) {
    registry().runtime = Some((files, false));
}

/// EAL started as primary: the runtime files are this run's.
pub fn eal_started() {
    if let Some((_, started)) = registry().runtime.as_mut() {
        *started = true;
    }
}

pub fn note_temp_file(path: PathBuf) {
    registry().files.push(path);
}

/// A temporary file became the user's output: it is no longer ours to remove.
pub fn forget_temp_file(path: &std::path::Path) {
    registry().files.retain(|p| p != path);
}

pub fn note_temp_dir(path: PathBuf) {
    registry().dirs.push(path);
}

/// Removes everything registered, once (later calls find nothing).
pub fn remove_all() {
    let taken = std::mem::take(&mut *registry());
    for f in &taken.files {
        let _ = std::fs::remove_file(f);
    }
    for d in &taken.dirs {
        // Made by tempfile with a random name under the temporary directory: ours alone.
        let _ = std::fs::remove_dir_all(d);
    }
    match &taken.runtime {
        Some((files, true)) => files.remove_after_run(),
        Some((files, false)) => files.remove_after_failed_init(),
        None => {}
    }
}

/// The way out of the process that comes first: `main` returning its exit
/// code, or a second signal aborting. The other one then waits for the
/// process to end, so a run never says "aborting" and exits 0, nor the reverse.
static EXIT: Mutex<()> = Mutex::new(());

/// Claims the way out; a later claim blocks until the process has ended.
pub fn claim_exit() {
    // Never unlocked: whoever comes second waits here for the exit.
    std::mem::forget(EXIT.lock().unwrap_or_else(|e| e.into_inner()));
}

/// Removes this run's files when dropped: held by `main`, so a panic that
/// unwinds out of the control thread still cleans up.
pub struct OnExit;

impl Drop for OnExit {
    fn drop(&mut self) {
        remove_all();
    }
}

/// Prefixes of the temporary directories a run makes for its inputs
/// (generated pg pcaps, Ethernet copies of other link types); the pid that
/// follows says whose they are, so a later run can reclaim a dead run's.
pub const INPUT_DIR_PREFIXES: [&str; 2] = ["handoff-pg-", "handoff-ethernet-"];

/// A temporary directory for this run's inputs, `<prefix><pid>-XXXXXX`
/// under `$TMPDIR`, noted for removal on every way out.
pub fn input_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(&format!("{prefix}{}-", std::process::id())).tempdir()?;
    note_temp_dir(dir.path().to_path_buf());
    Ok(dir)
}

/// The directories in `$TMPDIR` named `<prefix><pid>` or `<prefix><pid>-...`
/// for one of `prefixes` whose handoff run is gone (killed, power loss):
/// real directories (never a symlink) owned by this user, named by a pid
/// that no process has. What to remove in them is the caller's to decide.
pub fn dead_runs_dirs(prefixes: &[&str]) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else { return Vec::new() };
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let mut dead = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| prefixes.iter().find_map(|p| n.strip_prefix(p))) else {
            continue;
        };
        let Ok(pid) = rest.split('-').next().unwrap_or("").parse::<u32>() else { continue };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        if meta.is_dir() && Some(meta.uid()) == me {
            dead.push(dir);
        }
    }
    dead
}

/// Removes the input directories of handoff runs that are gone, those
/// holding nothing but plain files and FIFOs (removed, never followed).
/// Returns what was removed.
pub fn reclaim_dead_input_dirs() -> Vec<PathBuf> {
    dead_runs_dirs(&INPUT_DIR_PREFIXES).into_iter().filter(|d| remove_flat_dir(d)).collect()
}

/// Removes `dir` when it holds only plain files and FIFOs (a bounded
/// listing); leaves it, and everything in it, otherwise.
fn remove_flat_dir(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    const MAX_ENTRIES: usize = 4096;
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let mut files = Vec::new();
    for e in entries.take(MAX_ENTRIES + 1) {
        let Ok(e) = e else { return false };
        match e.file_type() {
            Ok(t) if t.is_file() || t.is_fifo() => files.push(e.path()),
            _ => return false,
        }
    }
    if files.len() > MAX_ENTRIES {
        return false;
    }
    files.iter().all(|f| std::fs::remove_file(f).is_ok()) && std::fs::remove_dir(dir).is_ok()
}
