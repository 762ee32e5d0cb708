//! DPDK telemetry commands answered from Rust closures (`dpdk-telemetry.py`).
//! DPDK 22.11 nests only arrays of scalars and allows `[A-Za-z0-9_/]` in
//! keys, so a command answers one flat dictionary of u64 values whose keys
//! say what each number is (`1/handoffdemo_1/calls`).

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::{Mutex, OnceLock};

use super::eal::Eal;
use super::error::{check, DpdkError};
use super::sys;

/// Makes a command's answer; runs on DPDK's telemetry thread.
pub type Handler = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

fn handlers() -> &'static Mutex<HashMap<String, Handler>> {
    static HANDLERS: OnceLock<Mutex<HashMap<String, Handler>>> = OnceLock::new();
    HANDLERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Registers `cmd` (e.g. `/handoff/errors`). A command registered twice
/// keeps DPDK's first registration but answers with the newest handler.
pub fn register(_eal: &Eal, cmd: &str, help: &str, handler: Handler) -> Result<(), DpdkError> {
    let first = handlers().lock().unwrap_or_else(|e| e.into_inner()).insert(cmd.to_string(), handler).is_none();
    if !first {
        return Ok(());
    }
    let c_cmd = CString::new(cmd).map_err(|_| DpdkError::Invalid("telemetry command has a NUL".into()))?;
    let c_help = CString::new(help).map_err(|_| DpdkError::Invalid("telemetry help has a NUL".into()))?;
    // DPDK keeps the pointers: the strings must live for the whole process.
    let (c_cmd, c_help) = (Box::leak(c_cmd.into_boxed_c_str()), Box::leak(c_help.into_boxed_c_str()));
    // SAFETY: both strings are 'static; `answer` matches telemetry_cb.
    check("rte_telemetry_register_cmd", unsafe {
        sys::rte_telemetry_register_cmd(c_cmd.as_ptr(), Some(answer), c_help.as_ptr())
    })
    .map(|_| ())
}

/// Keeps only the characters DPDK accepts in dictionary keys.
pub fn key(parts: &[&str]) -> String {
    let joined = parts.join("/");
    joined.chars().map(|c| if c.is_ascii_alphanumeric() || c == '/' { c } else { '_' }).take(127).collect()
}

unsafe extern "C" fn answer(cmd: *const c_char, _params: *const c_char, d: *mut sys::rte_tel_data) -> c_int {
    // SAFETY: DPDK passes the NUL-terminated command it matched.
    let cmd = unsafe { CStr::from_ptr(cmd) }.to_string_lossy().into_owned();
    let values = {
        let map = handlers().lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&cmd) {
            // A panicking handler must not unwind into C.
            Some(h) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(h)).unwrap_or_default(),
            None => return -libc::EINVAL,
        }
    };
    // SAFETY: `d` is the live data object DPDK handed to this callback.
    unsafe {
        sys::rte_tel_data_start_dict(d);
        for (k, v) in values.iter().take(sys::RTE_TEL_MAX_DICT_ENTRIES as usize) {
            if let Ok(k) = CString::new(k.as_str()) {
                add_dict_u64(d, k.as_ptr(), *v);
            }
        }
    }
    0
}

// DPDK 23.03 added rte_tel_data_add_dict_uint and deprecated
// rte_tel_data_add_dict_u64 (still there in 24.11, with a warning); build.rs
// sets handoff_tel_dict_uint when the headers have the new one.
#[cfg(not(handoff_tel_dict_uint))]
use sys::rte_tel_data_add_dict_u64 as add_dict_u64;
#[cfg(handoff_tel_dict_uint)]
use sys::rte_tel_data_add_dict_uint as add_dict_u64;
