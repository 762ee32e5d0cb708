//! EAL start-up (once per process), lcore facts and the TSC.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use super::error::{rte_errno, strerror, DpdkError};
use super::sys;

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// Proof that the EAL is initialised. Invariant: at most one exists per
/// process, and `rte_eal_init` succeeded before it was made. Everything that
/// needs the EAL (mempools, ports, rings, lcore launch) borrows it.
pub struct Eal {
    main_lcore: u32,
    /// What EAL logged while starting (warnings and errors), one line each.
    init_log: Vec<String>,
}

/// EAL's log stream after start-up: stderr, so stdout keeps only our report.
static LOG_TO_STDERR: AtomicBool = AtomicBool::new(false);
/// That stream (null until start-up ends), to point the log back at after a capture.
static STDERR_LOG: AtomicPtr<libc::FILE> = AtomicPtr::new(std::ptr::null_mut());

/// Runs `call` (a DPDK call on the control thread, before the lcores run)
/// with EAL's log captured, echoes what was logged to stderr as it would have
/// been, and returns it too: the driver's own reason for a failure is often
/// only there (tap: "number of rx queues 2 must be equal to number of tx
/// queues 1" beside an errno of EPERM).
pub(crate) fn logged_during<T>(call: impl FnOnce() -> T) -> (T, Vec<String>) {
    let log = Capture::log();
    let out = call();
    let logged = log.map(Capture::finish).unwrap_or_default();
    let lines: Vec<String> = logged.lines().map(str::trim_end).filter(|l| !l.is_empty()).map(String::from).collect();
    for l in &lines {
        crate::console::errln(l);
    }
    (out, lines)
}

impl Eal {
    /// Starts the EAL with `args` (argv[0] excluded). Refuses a second start.
    /// EAL's log lines are echoed to stderr; its usage text is not (a wrong
    /// argument gets one line from us instead of 100 from EAL).
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
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let log = Capture::log();
        let stdout = Capture::fd(1);
        let stderr = Capture::fd(2);
        // SAFETY: argv holds argc valid NUL-terminated strings that live until
        // after the call; EAL_STARTED guarantees this runs once per process.
        let ret = unsafe { sys::rte_eal_init(argv.len() as c_int, argv.as_mut_ptr()) };
        let errno = rte_errno();
        let said = stderr.map(Capture::finish).unwrap_or_default();
        let printed = stdout.map(Capture::finish).unwrap_or_default();
        let logged = log.map(Capture::finish).unwrap_or_default();
        log_to_stderr();
        // EAL's usage text (printed on a bad argument) is dropped; the rest is echoed.
        let printed = printed.split("Usage:").next().unwrap_or("").to_string();
        let lines: Vec<String> = said
            .lines()
            .chain(logged.lines())
            .chain(printed.lines())
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect();
        for l in &lines {
            crate::console::errln(l);
        }
        if ret < 0 {
            let message = eal_reason(&lines, errno);
            let hint = eal_hint(errno, args, &message);
            return Err(DpdkError::EalInit { message, hint });
        }
        // SAFETY: the EAL is initialised.
        let main_lcore = unsafe { sys::rte_get_main_lcore() };
        Ok(Eal { main_lcore, init_log: lines })
    }

    /// EAL's log lines that mention `device`, for saying why it did not come up.
    pub fn log_about(&self, device: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, l) in self.init_log.iter().enumerate() {
            if l.contains(device) {
                // The PMD's own reason usually comes on the line before "failed to initialize".
                if l.contains("failed to initialize") && i > 0 && !out.contains(&self.init_log[i - 1]) {
                    out.push(self.init_log[i - 1].clone());
                }
                if !out.contains(l) {
                    out.push(l.clone());
                }
            }
        }
        out
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

    /// The CPUs EAL lets `lcore` run on (its --lcores cpuset), ascending.
    pub fn lcore_cpus(&self, lcore: u32) -> Vec<u32> {
        if !self.lcore_enabled(lcore) {
            return Vec::new();
        }
        let mut bits = [0u64; 16];
        // SAFETY: the EAL is initialised and `lcore` is below RTE_MAX_LCORE
        // (enabled); `bits` has the 16 words the call is told of.
        unsafe { sys::handoff_lcore_cpus(lcore, bits.as_mut_ptr(), bits.len() as u32) };
        (0..bits.len() as u32 * 64).filter(|&c| bits[c as usize / 64] >> (c % 64) & 1 == 1).collect()
    }

    /// NUMA socket of an enabled lcore.
    pub fn lcore_socket(&self, lcore: u32) -> u32 {
        // SAFETY: the EAL is initialised; unknown lcores give socket 0.
        unsafe { sys::rte_lcore_to_socket_id(lcore) }
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
    /// The runtime files are removed by `RuntimeFiles`, which knows which are ours.
    pub fn cleanup(self) {
        // SAFETY: called once, at the end, after ports, rings and pools were
        // released (they borrow `self`, so they cannot outlive this call).
        unsafe { sys::rte_eal_cleanup() };
    }
}

/// Output captured while EAL starts: its log stream or file descriptor 1,
/// into an anonymous temporary file, read back by `finish`.
struct Capture {
    file: *mut libc::FILE,
    /// For a descriptor capture: the saved copy, and which descriptor.
    saved_fd: Option<(c_int, c_int)>,
}

impl Capture {
    /// EAL's log stream (rte_log) into a temporary file.
    fn log() -> Option<Capture> {
        // SAFETY: tmpfile returns a new stream or NULL; rte_openlog_stream
        // only stores the pointer, which stays valid until `finish` swaps it out.
        unsafe {
            let file = libc::tmpfile();
            if file.is_null() {
                return None;
            }
            sys::rte_openlog_stream(file as *mut sys::FILE);
            Some(Capture { file, saved_fd: None })
        }
    }

    /// File descriptor `fd` (1 or 2) into a temporary file: EAL prints its
    /// usage on stdout, getopt and EAL's alerts on stderr.
    fn fd(fd: c_int) -> Option<Capture> {
        // SAFETY: dup/dup2 on the process's own descriptors and a stream we
        // just opened; on any failure everything is left as it was.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            let file = libc::tmpfile();
            if file.is_null() {
                return None;
            }
            let saved = libc::dup(fd);
            if saved < 0 || libc::dup2(libc::fileno(file), fd) < 0 {
                if saved >= 0 {
                    libc::close(saved);
                }
                libc::fclose(file);
                return None;
            }
            Some(Capture { file, saved_fd: Some((saved, fd)) })
        }
    }

    /// Restores what was redirected and returns what was written (at most 1 MiB).
    fn finish(self) -> String {
        let mut text = Vec::new();
        // SAFETY: `file` is the stream opened in `log`/`stdout`, still open.
        // The log stream is pointed away from it and fd 1 restored from the
        // saved copy before it is closed; `buf` is a valid writable buffer.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            if let Some((saved, fd)) = self.saved_fd {
                libc::dup2(saved, fd);
                libc::close(saved);
            } else {
                // Back to stderr once start-up set it up; before that, EAL's default.
                sys::rte_openlog_stream(STDERR_LOG.load(Ordering::Acquire) as *mut sys::FILE);
            }
            let fd = libc::fileno(self.file);
            if libc::lseek(fd, 0, libc::SEEK_SET) == 0 {
                let mut buf = [0u8; 4096];
                while text.len() < 1 << 20 {
                    let n = libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len());
                    if n <= 0 {
                        break;
                    }
                    text.extend_from_slice(&buf[..n as usize]);
                }
            }
            libc::fclose(self.file);
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// Points EAL's log at stderr for the rest of the process (after start-up
/// Debian's EAL logs to stdout, where it would corrupt the JSON report).
fn log_to_stderr() {
    if LOG_TO_STDERR.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: fdopen on descriptor 2 gives a stream that lives for the
    // process (never closed); rte_openlog_stream stores the pointer.
    unsafe {
        let err = libc::fdopen(2, c"w".as_ptr());
        if !err.is_null() {
            libc::setvbuf(err, std::ptr::null_mut(), libc::_IOLBF, 0);
            STDERR_LOG.store(err, Ordering::Release);
            sys::rte_openlog_stream(err as *mut sys::FILE);
        }
    }
}

/// EAL's reason for failing, from what it logged. rte_eal_init's alert
/// prints "FATAL: <headline>" on stderr itself and logs the headline last;
/// the detail that says why comes on a line before it.
fn eal_reason(lines: &[String], errno: i32) -> String {
    let clean = |l: &str| {
        let l = l.trim();
        let l = l.strip_prefix("EAL: ").or_else(|| l.strip_prefix("handoff-eal: ")).unwrap_or(l);
        l.strip_prefix("FATAL: ").unwrap_or(l).trim_end_matches('.').to_string()
    };
    // EAL's start-up facts ("Detected NUMA nodes: 1") say nothing about a failure.
    let useful: Vec<String> = lines
        .iter()
        .map(|l| clean(l))
        .filter(|l| !l.contains("Error - exiting") && !l.starts_with("Detected ") && !l.starts_with("Selected "))
        .collect();
    if let Some(headline) = useful.last() {
        return match useful.iter().rev().find(|l| *l != headline) {
            Some(detail) => format!("{headline}: {detail}"),
            None => headline.clone(),
        };
    }
    if errno != 0 {
        return strerror(errno);
    }
    "invalid EAL arguments (EAL said why on the line above)".into()
}

/// The current TSC value.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: reads the time-stamp counter; no memory is touched.
    unsafe { sys::rte_rdtsc() }
}

/// What to try when rte_eal_init fails. EAL says "Permission denied" both
/// without root and without free hugepages, so the causes are checked here
/// rather than read from errno alone.
fn eal_hint(errno: i32, args: &[String], reason: &str) -> String {
    let no_huge = args.iter().any(|a| a == "--no-huge");
    let mut causes = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let hugepages = !no_huge && (free_hugepages() == Some(0) || reason.to_lowercase().contains("hugepage"));
    if !no_huge && free_hugepages() == Some(0) {
        causes.push("no free hugepages (HugePages_Free is 0 in /proc/meminfo)");
    }
    if reason.contains("another primary") {
        causes.push("another DPDK primary process uses this --file-prefix; give this run its own");
    }
    if !root && matches!(errno, libc::EACCES | libc::EPERM) {
        causes.push("EAL needs root (or CAP_SYS_ADMIN and CAP_IPC_LOCK) for hugepages and devices");
    }
    if errno == libc::ENOMEM && no_huge {
        causes.push("not enough memory for -m (megabytes)");
    }
    let mut hint: String = causes.iter().map(|c| format!("; {c}")).collect();
    if hugepages {
        hint.push_str("; reserve hugepages with scripts/setup-hugepages.sh, or run with --no-huge");
    }
    hint
}

fn free_hugepages() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|l| l.strip_prefix("HugePages_Free:")).and_then(|v| v.trim().parse().ok())
}
