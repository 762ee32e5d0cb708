//! EAL start-up (once per process), lcore facts and the TSC.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{rte_errno, strerror, DpdkError};
use super::sys;

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// Proof that the EAL is initialised. Invariant: at most one exists per
/// process, and `rte_eal_init` succeeded before it was made. Everything that
/// needs the EAL (mempools, ports, rings, lcore launch) borrows it.
pub struct Eal {
    main_lcore: u32,
    /// This process's runtime files: removed at cleanup (see `cleanup`).
    runtime_dir: Option<std::path::PathBuf>,
    file_prefix: Option<String>,
}

impl Eal {
    /// Starts the EAL with `args` (argv[0] excluded). Refuses a second start.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalAlreadyStarted);
        }
        let mut owned: Vec<CString> = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("handoff-eal").expect("static name"));
        for a in args {
            owned.push(
                CString::new(a.as_str())
                    .map_err(|_| DpdkError::Invalid(format!("EAL argument {a:?} contains a NUL byte")))?,
            );
        }
        // rte_eal_init may permute argv, so it gets its own array of pointers
        // into `owned`, which outlives the call.
        let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        // EAL prints its usage text on stdout when an argument is wrong; keep
        // stdout for our report (JSON) by sending EAL's output to stderr.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _stdout = StdoutToStderr::new();
        // SAFETY: argv holds argc valid NUL-terminated strings that live until
        // after the call; EAL_STARTED guarantees this runs once per process.
        let ret = unsafe { sys::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
        drop(_stdout);
        if ret < 0 {
            let errno = rte_errno();
            return Err(DpdkError::EalInit {
                message: format!("{} (rte_errno {errno})", strerror(errno)),
                hint: eal_hint(errno, args),
            });
        }
        // SAFETY: the EAL is initialised.
        let main_lcore = unsafe { sys::rte_get_main_lcore() };
        let in_memory = args.iter().any(|a| a == "--in-memory");
        Ok(Eal {
            main_lcore,
            runtime_dir: if in_memory { None } else { runtime_dir() },
            file_prefix: if in_memory { None } else { file_prefix(args) },
        })
    }

    pub fn main_lcore(&self) -> u32 {
        self.main_lcore
    }

    /// Whether `lcore` is in the EAL's lcore map.
    pub fn lcore_enabled(&self, lcore: u32) -> bool {
        // SAFETY: the EAL is initialised; out-of-range ids return 0.
        lcore < sys::RTE_MAX_LCORE && unsafe { sys::rte_lcore_is_enabled(lcore) } != 0
    }

    /// Enabled lcores in ascending order, the main lcore included.
    pub fn lcores(&self) -> Vec<u32> {
        (0..sys::RTE_MAX_LCORE).filter(|&l| self.lcore_enabled(l)).collect()
    }

    /// NUMA socket of an enabled lcore.
    pub fn lcore_socket(&self, lcore: u32) -> u32 {
        // SAFETY: the EAL is initialised; unknown lcores give socket 0.
        unsafe { sys::rte_lcore_to_socket_id(lcore) }
    }

    /// First CPU of an lcore's cpuset.
    pub fn lcore_cpu(&self, lcore: u32) -> i32 {
        // SAFETY: the EAL is initialised; unknown lcores give -1.
        unsafe { sys::rte_lcore_to_cpu_id(lcore as c_int) }
    }

    /// TSC ticks per second, as calibrated by the EAL.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: the EAL is initialised.
        unsafe { sys::rte_get_tsc_hz() }
    }

    /// Makes rte_pdump able to capture from this process's ports
    /// (`dpdk-dumpcap`). Fails without multi-process support (--no-shconf).
    pub fn enable_pdump(&self) -> Result<(), DpdkError> {
        // SAFETY: the EAL is initialised.
        let ret = unsafe { sys::rte_pdump_init() };
        super::error::check("rte_pdump_init", ret).map(|_| ())
    }

    /// Releases the EAL's resources. Everything made with it must be gone.
    /// Also removes this process's runtime directory and hugepage files,
    /// which EAL leaves behind: the prefix is ours alone while we run (EAL
    /// locks it), so nobody else can be using them.
    pub fn cleanup(self) {
        // SAFETY: called once, at the end, after ports, rings and pools were
        // released (they borrow `self`, so they cannot outlive this call).
        unsafe { sys::rte_eal_cleanup() };
        if let Some(dir) = &self.runtime_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(prefix) = &self.file_prefix {
            remove_hugepage_files(prefix);
        }
    }
}

/// The `--file-prefix` in effect (EAL's default is "rte").
fn file_prefix(args: &[String]) -> Option<String> {
    let mut prefix = None;
    for (i, a) in args.iter().enumerate() {
        if a == "--file-prefix" {
            prefix = args.get(i + 1).cloned();
        } else if let Some(p) = a.strip_prefix("--file-prefix=") {
            prefix = Some(p.to_string());
        }
    }
    Some(prefix.unwrap_or_else(|| "rte".into()))
}

/// Removes `<prefix>map_*` files from every hugetlbfs mount.
fn remove_hugepage_files(prefix: &str) {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else { return };
    let want = format!("{prefix}map_");
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(_), Some(dir), Some(fs)) = (f.next(), f.next(), f.next()) else { continue };
        if fs != "hugetlbfs" {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&want) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// While alive, file descriptor 1 points at stderr; dropping it restores stdout.
struct StdoutToStderr {
    saved: c_int,
}

impl StdoutToStderr {
    fn new() -> Option<StdoutToStderr> {
        // SAFETY: dup/dup2 on the process's own standard descriptors; a
        // failure leaves them as they were and we skip the redirect.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            let saved = libc::dup(1);
            if saved < 0 {
                return None;
            }
            if libc::dup2(2, 1) < 0 {
                libc::close(saved);
                return None;
            }
            Some(StdoutToStderr { saved })
        }
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        // SAFETY: restores fd 1 from the copy made in `new`, then closes the copy.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

/// EAL's runtime directory for this process (`/var/run/dpdk/<prefix>` as
/// root). Set early in rte_eal_init, so it is known even if init failed.
pub fn runtime_dir() -> Option<std::path::PathBuf> {
    // SAFETY: returns a pointer to EAL's static, NUL-terminated buffer.
    let dir = unsafe { std::ffi::CStr::from_ptr(sys::rte_eal_get_runtime_dir()) };
    let dir = dir.to_string_lossy();
    (!dir.is_empty()).then(|| dir.into_owned().into())
}

/// The current TSC value.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: reads the time-stamp counter; no memory is touched.
    unsafe { sys::rte_rdtsc() }
}

/// What went wrong and what to try when rte_eal_init fails. EAL says
/// "Permission denied" both without root and without free hugepages, so
/// the causes are checked here rather than read from errno alone.
fn eal_hint(errno: i32, args: &[String]) -> String {
    let no_huge = args.iter().any(|a| a == "--no-huge");
    let mut causes = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !no_huge && free_hugepages() == Some(0) {
        causes.push("no free hugepages (HugePages_Free is 0 in /proc/meminfo)");
    }
    if !root && matches!(errno, libc::EACCES | libc::EPERM) {
        causes.push("EAL needs root (or CAP_SYS_ADMIN and CAP_IPC_LOCK) for hugepages and devices");
    }
    if errno == libc::EINVAL {
        causes.push("an EAL argument is invalid (see the EAL lines above)");
    }
    if errno == libc::ENOMEM && no_huge {
        causes.push("not enough memory for -m (megabytes)");
    }
    let mut hint: String = causes.iter().map(|c| format!("; {c}")).collect();
    if !no_huge {
        hint.push_str("; reserve hugepages with scripts/setup-hugepages.sh, or run with --no-huge");
    }
    hint
}

fn free_hugepages() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|l| l.strip_prefix("HugePages_Free:")).and_then(|v| v.trim().parse().ok())
}
