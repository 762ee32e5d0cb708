//! In-process A/B of a fast-path idea. This VM's speed changes by 2-5x
//! every few seconds, so two processes run one after the other cannot tell
//! a few percent apart; one process that switches between the two variants
//! every few milliseconds can. Code under test asks `ab::b()` which variant
//! to run; `pipeline::ab` flips it and reports each variant's rate
//! (`scripts/ab.sh`). Without the `ab` feature `b()` is `false` and the B
//! arm compiles away.

#[cfg(feature = "ab")]
static B: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether variant B runs now (always false without the `ab` feature).
#[inline(always)]
pub fn b() -> bool {
    #[cfg(feature = "ab")]
    {
        B.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "ab"))]
    {
        false
    }
}

/// Switches to variant B (true) or A.
#[cfg(feature = "ab")]
pub fn set_b(on: bool) {
    B.store(on, std::sync::atomic::Ordering::Relaxed);
}
