//! Running closures on EAL worker lcores, with panics contained and reported.

use std::any::Any;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::eal::Eal;
use super::error::{check, DpdkError};
use super::sys;

type Outcome<T> = Result<T, String>;

struct Job<T> {
    body: Box<dyn FnOnce() -> T + Send>,
    slot: Arc<Mutex<Option<Outcome<T>>>>,
    lcore: u32,
    done: Sender<LcoreEnd>,
}

/// Sent on the `done` channel when a job returns or panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LcoreEnd {
    pub lcore: u32,
    pub panicked: bool,
}

/// A closure running on a worker lcore. Invariant: the lcore runs exactly
/// this job until it returns; `join` waits for it and hands back its result.
/// Waiting (join, or drop while unwinding from a panic) sets the job's stop
/// flag first, so it never waits on a loop nobody told to end.
pub struct LcoreJob<T> {
    lcore: u32,
    slot: Arc<Mutex<Option<Outcome<T>>>>,
    stop: Arc<AtomicBool>,
    joined: bool,
}

/// Runs `body` on worker lcore `lcore`. When it returns (or panics) an
/// `LcoreEnd` is sent on `done`, so the control thread can block instead of
/// spinning. `stop` is the flag that makes `body` end (set before any wait).
pub fn launch<T, F>(
    eal: &Eal,
    lcore: u32,
    done: Sender<LcoreEnd>,
    stop: Arc<AtomicBool>,
    body: F,
) -> Result<LcoreJob<T>, DpdkError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if !eal.lcore_enabled(lcore) {
        return Err(DpdkError::Lcore { lcore, message: "not in the EAL lcore map".into() });
    }
    if lcore == eal.main_lcore() {
        return Err(DpdkError::Lcore { lcore, message: "is the EAL main lcore, which runs the control thread".into() });
    }
    let slot = Arc::new(Mutex::new(None));
    let job: Box<Job<T>> = Box::new(Job { body: Box::new(body), slot: slot.clone(), lcore, done });
    let arg = Box::into_raw(job) as *mut c_void;
    // SAFETY: `trampoline::<T>` matches lcore_function_t and takes back the
    // Box it is given exactly once; if the launch fails the lcore never saw
    // `arg`, so it is reclaimed here instead.
    let ret = unsafe { sys::rte_eal_remote_launch(Some(trampoline::<T>), arg, lcore) };
    if ret < 0 {
        // SAFETY: the launch failed, so ownership of the Box is still ours.
        drop(unsafe { Box::from_raw(arg as *mut Job<T>) });
        check("rte_eal_remote_launch", ret)?;
    }
    Ok(LcoreJob { lcore, slot, stop, joined: false })
}

unsafe extern "C" fn trampoline<T>(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job<T>> leaked by `launch`, given to this lcore only.
    let job = unsafe { Box::from_raw(arg as *mut Job<T>) };
    let Job { body, slot, lcore, done } = *job;
    let outcome = catch_unwind(AssertUnwindSafe(body)).map_err(panic_message);
    let failed = outcome.is_err();
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    let _ = done.send(LcoreEnd { lcore, panicked: failed });
    if failed {
        -1
    } else {
        0
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

impl<T> LcoreJob<T> {
    /// Waits for the job and returns its result, or the panic's message.
    /// Call it after the job reported on its `done` channel to avoid spinning:
    /// rte_eal_wait_lcore busy-waits.
    pub fn join(mut self) -> Result<T, DpdkError> {
        self.wait();
        let outcome = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(msg)) => Err(DpdkError::Lcore { lcore: self.lcore, message: format!("panicked: {msg}") }),
            None => Err(DpdkError::Lcore { lcore: self.lcore, message: "returned no result".into() }),
        }
    }

    fn wait(&mut self) {
        if !self.joined {
            self.stop.store(true, Ordering::Release);
            // SAFETY: the lcore was launched by us; waiting has no other effect.
            unsafe { sys::rte_eal_wait_lcore(self.lcore) };
            self.joined = true;
        }
    }
}

impl<T> Drop for LcoreJob<T> {
    fn drop(&mut self) {
        // An unjoined job must not outlive the state it uses at exit.
        self.wait();
    }
}
