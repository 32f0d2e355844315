// SPDX-License-Identifier: GPL-2.0

//! A count of the SIGUSR1 signals a test program took (a handler that only counts), for the
//! programs that show signals survive a move or a restart (`omx-soak`, `omx-ckpt`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static SIGNALS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_usr1(_: i32) {
    SIGNALS.fetch_add(1, Relaxed);
}

extern "C" {
    fn signal(sig: i32, handler: extern "C" fn(i32)) -> usize;
}

const SIGUSR1: i32 = 10;

/// Counts SIGUSR1 from now on.
pub(crate) fn count() {
    // SAFETY: `on_usr1` only touches an atomic, which is safe in a signal handler.
    unsafe { signal(SIGUSR1, on_usr1) };
}

/// How many were taken.
pub(crate) fn taken() -> u64 {
    SIGNALS.load(Relaxed)
}
