//! Typed errors for DPDK calls, carrying `rte_strerror(rte_errno)`.

use std::ffi::CStr;

use super::sys;

#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    /// A DPDK call failed; `errno` is rte_errno or the negative return value.
    #[error("{call} failed: {message}")]
    Call { call: &'static str, errno: i32, message: String },
    /// `rte_eal_init` failed: the message says why, the hint what to do.
    #[error("EAL cannot start: {message}{hint}")]
    EalInit { message: String, hint: String },
    #[error("EAL was already started in this process; it cannot be restarted")]
    EalAlreadyStarted,
    #[error("{0}")]
    Invalid(String),
    #[error("lcore {lcore}: {message}")]
    Lcore { lcore: u32, message: String },
}

/// Text of a DPDK or libc error number.
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local,
    // NUL-terminated string for any errno value.
    unsafe { CStr::from_ptr(sys::rte_strerror(errno)) }.to_string_lossy().into_owned()
}

/// The calling thread's rte_errno.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads a per-lcore (thread-local) int through the C shim.
    unsafe { sys::handoff_rte_errno() }
}

/// An error for a call that reported failure through rte_errno.
pub(crate) fn from_errno(call: &'static str) -> DpdkError {
    let errno = rte_errno();
    DpdkError::Call { call, errno, message: strerror(errno) }
}

/// An error for a call that returned a negative errno.
pub(crate) fn from_ret(call: &'static str, ret: i32) -> DpdkError {
    let errno = ret.abs();
    DpdkError::Call { call, errno, message: strerror(errno) }
}

/// `check` for a call made through [`super::eal::logged_during`]: a failure
/// carries what the driver logged, its own reason (the last few lines; not
/// ethdev's "Port0 dev_configure = -1", which only repeats the return value).
pub(crate) fn check_logged(call: &'static str, (ret, said): (i32, Vec<String>)) -> Result<i32, DpdkError> {
    let restated = format!("= {ret}");
    let said: Vec<&str> = said.iter().map(|l| l.trim()).filter(|l| !l.ends_with(&restated)).collect();
    check(call, ret).map_err(|e| match e {
        DpdkError::Call { call, errno, message } if !said.is_empty() => {
            let reason: Vec<&str> = said.iter().rev().take(3).rev().copied().collect();
            DpdkError::Call { call, errno, message: format!("{message} (the driver said: {})", reason.join(" / ")) }
        }
        other => other,
    })
}

/// `Ok(ret)` for non-negative returns, the typed error otherwise.
pub(crate) fn check(call: &'static str, ret: i32) -> Result<i32, DpdkError> {
    if ret < 0 {
        Err(from_ret(call, ret))
    } else {
        Ok(ret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_the_drivers_lines_but_not_the_restated_return() {
        let said = vec![
            "tap_dev_configure(): net_tap0: number of rx queues 2 must be equal to number of tx queues 1".to_string(),
            "Port0 dev_configure = -1".to_string(),
        ];
        let e = check_logged("rte_eth_dev_configure", (-1, said)).unwrap_err().to_string();
        assert_eq!(
            e,
            "rte_eth_dev_configure failed: Operation not permitted (the driver said: tap_dev_configure(): net_tap0: \
             number of rx queues 2 must be equal to number of tx queues 1)"
        );
        assert_eq!(check_logged("x", (0, vec!["info".into()])).unwrap(), 0);
        assert_eq!(check_logged("x", (-22, Vec::new())).unwrap_err().to_string(), "x failed: Invalid argument");
    }
}
