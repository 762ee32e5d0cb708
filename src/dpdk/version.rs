//! The DPDK version handoff was built against and the one it runs with
//! (they differ when the shared libraries were upgraded since the build).

use std::ffi::CStr;
use std::sync::OnceLock;

use super::sys;

/// The DPDK version of the headers handoff was compiled against, from
/// `pkg-config --modversion libdpdk` at build time (e.g. "22.11.11").
pub fn built_with() -> &'static str {
    env!("HANDOFF_DPDK_BUILD_VERSION")
}

/// The version of the DPDK library loaded now (e.g. "22.11.11"), from
/// `rte_version()`, which needs no EAL.
pub fn running() -> String {
    // SAFETY: rte_version takes no arguments, needs no EAL initialisation and
    // returns a pointer to a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(sys::rte_version()) }.to_string_lossy().into_owned();
    // "DPDK 22.11.11" (a release candidate adds "-rc1").
    v.strip_prefix("DPDK ").map(str::to_string).unwrap_or(v)
}

/// handoff's `--version` text after its name:
/// `0.1.0 (DPDK 22.11.11 built, DPDK 22.11.11 running)`.
pub fn summary() -> &'static str {
    static SUMMARY: OnceLock<String> = OnceLock::new();
    SUMMARY.get_or_init(|| {
        format!("{} (DPDK {} built, DPDK {} running)", env!("CARGO_PKG_VERSION"), built_with(), running())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dotted_numbers() {
        for v in [built_with().to_string(), running()] {
            let parts: Vec<&str> = v.split(['.', '-']).collect();
            assert!(parts.len() >= 2, "{v}");
            assert!(parts[0].parse::<u32>().unwrap() >= 22, "{v}");
        }
        // The library loaded is the one built against, up to the stable release.
        let major = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        assert_eq!(major(built_with()), major(&running()));
        assert!(summary().contains(built_with()));
    }
}
