//! EAL's runtime files: `<base>/dpdk/<prefix>/` (config, sockets, fbarrays)
//! and `<prefix>map_N` hugepage files. handoff runs as root, so it removes
//! only EAL's own file names, only from the directory this run's EAL used as
//! primary, and a directory only when this run created it. It never removes
//! recursively.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// handoff's control socket, in the runtime directory (`handoff show ...`).
pub const CONTROL_SOCKET: &str = "handoff.sock";

/// Longest `--file-prefix` accepted: EAL builds Unix socket paths from it
/// (`/var/run/dpdk/<prefix>/mp_socket_<pid>_<n>`), which have 108 bytes.
pub const MAX_PREFIX_LEN: usize = 48;

/// Why a `--file-prefix` is refused, or None when it is one safe path component.
pub fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.is_empty() {
        return Some("is empty");
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Some("is longer than 48 characters");
    }
    if prefix.contains('/') {
        return Some("must be one path component, without '/' (it names a directory under /var/run/dpdk)");
    }
    if prefix.starts_with('.') {
        return Some("starts with '.' ('.' and '..' name other directories)");
    }
    if !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Some("may hold only letters, digits, '-', '_' and '.' (it names a directory)");
    }
    None
}

/// Where EAL puts runtime directories: `/var/run/dpdk` as root, else
/// `$XDG_RUNTIME_DIR/dpdk` or `/tmp/dpdk` (DPDK 22.11's eal_create_runtime_dir).
pub fn runtime_base() -> PathBuf {
    // SAFETY: getuid has no preconditions and cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    let dir = if root {
        PathBuf::from("/var/run")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
    };
    dir.join("dpdk")
}

/// One run's runtime files, noted before EAL starts.
#[derive(Clone, Debug)]
pub struct RuntimeFiles {
    prefix: String,
    dir: PathBuf,
    /// The directory did not exist before this run's EAL started.
    dir_is_new: bool,
}

impl RuntimeFiles {
    /// Notes what exists before EAL starts. `prefix` must have passed `prefix_problem`.
    pub fn before_init(prefix: &str) -> RuntimeFiles {
        let dir = runtime_base().join(prefix);
        let dir_is_new = std::fs::symlink_metadata(&dir).is_err();
        RuntimeFiles { prefix: prefix.to_string(), dir, dir_is_new }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// After a successful primary run (EAL held the prefix's lock, so every
    /// EAL file under it was this run's): removes EAL's files, the hugepage
    /// files, and the directory if this run made it.
    pub fn remove_after_run(&self) {
        remove_eal_files(&self.dir);
        remove_hugepage_files(&self.prefix);
        if self.dir_is_new {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// After a failed start: only when this run created the directory is
    /// anything under the prefix ours (else another primary may own it).
    pub fn remove_after_failed_init(&self) {
        if self.dir_is_new && std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir()) {
            self.remove_after_run();
        }
    }
}

/// Removes EAL's own file names (not directories, not anything else) from `dir`.
fn remove_eal_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        // handoff.sock is handoff's own control socket, beside EAL's.
        let eal_file = matches!(name.as_ref(), "config" | "hugepage_info" | "mp_socket" | CONTROL_SOCKET)
            || ["fbarray_", "mp_socket_", "dpdk_telemetry"].iter().any(|p| name.starts_with(p));
        let Ok(ft) = e.file_type() else { continue };
        if eal_file && (ft.is_file() || ft.is_socket()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Removes `<prefix>map_<N>` files from every hugetlbfs mount.
fn remove_hugepage_files(prefix: &str) {
    for dir in hugetlbfs_mounts() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name();
            let is_ours = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.strip_prefix("map_"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if is_ours && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn hugetlbfs_mounts() -> Vec<PathBuf> {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else { return Vec::new() };
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_, dir, fs) = (f.next()?, f.next()?, f.next()?);
            (fs == "hugetlbfs").then(|| PathBuf::from(dir))
        })
        .collect()
}

/// Reclaims `handoff-<pid>` runtime directories and hugepage files left by
/// handoff processes that died (SIGKILL, power loss): only when the pid is
/// gone and no process holds EAL's lock on the directory's `config` file.
/// Returns the prefixes reclaimed.
pub fn reclaim_stale() -> Vec<String> {
    let mut reclaimed = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(runtime_base()) {
        candidates.extend(entries.flatten().filter_map(|e| e.file_name().to_str().map(String::from)));
    }
    for mount in hugetlbfs_mounts() {
        let Ok(entries) = std::fs::read_dir(mount) else { continue };
        for e in entries.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|n| n.split_once("map_")).map(|(p, _)| p.to_string()) {
                candidates.push(p);
            }
        }
    }
    candidates.sort();
    candidates.dedup();
    for prefix in candidates {
        let Some(pid) = prefix.strip_prefix("handoff-").and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = runtime_base().join(&prefix);
        let is_dir = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
        if is_dir && config_is_locked(&dir.join("config")) {
            continue;
        }
        let files = RuntimeFiles { prefix: prefix.clone(), dir, dir_is_new: is_dir };
        files.remove_after_run();
        reclaimed.push(prefix);
    }
    reclaimed
}

/// Whether a process holds a write lock on EAL's config file (a live primary does).
fn config_is_locked(config: &Path) -> bool {
    let Ok(file): Result<File, _> = OpenOptions::new().read(true).open(config) else {
        return false;
    };
    // SAFETY: flock is plain data; all-zero is a valid value before we fill it.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_GETLK on an open descriptor with a valid flock; it only reads lock state.
    let ret = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    // On error, assume it is in use: never remove what might be live.
    ret != 0 || lock.l_type != libc::F_UNLCK as libc::c_short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_one_safe_component() {
        for bad in ["", ".", "..", "../../tmp/victim", "a/b", "/abs", ".hidden", "a b", "x\n", &"p".repeat(49)] {
            assert!(prefix_problem(bad).is_some(), "{bad:?} should be refused");
        }
        for good in ["rte", "handoff-123", "my_run.1", "A-b_c"] {
            assert_eq!(prefix_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn removes_only_eal_names_and_no_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["config", "hugepage_info", "mp_socket", "mp_socket_12_34", "fbarray_memzone", "user-notes.txt"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("fbarray_dir")).unwrap();
        remove_eal_files(dir.path());
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, vec!["fbarray_dir", "user-notes.txt"]);
    }

    #[test]
    fn an_unlocked_config_is_free_and_a_missing_one_is_not_locked() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        assert!(!config_is_locked(&config));
        std::fs::write(&config, [0u8; 64]).unwrap();
        assert!(!config_is_locked(&config));
    }
}
