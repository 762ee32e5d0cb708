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
