// SPDX-License-Identifier: GPL-2.0

//! Log lines that others cause: local users with writes to the world-writable `/proc/openmosix`
//! files (`migrate`, `tag`), and peers with what they send. [`user_warn!`] and [`peer_warn!`]
//! each let at most `omcore::text::BURST` lines through every `omcore::text::WINDOW_MS`, from
//! budgets of their own, and say how many they left out; text a user wrote is shown through
//! `omcore::text::Escaped`. So no user and no peer can flood the kernel log or forge lines in
//! it.

use crate::omcore::text::LogLimit;

/// The budget of lines users cause.
pub(crate) static USER_LOG: LogLimit = LogLimit::new();
/// The budget of lines peers cause.
pub(crate) static PEER_LOG: LogLimit = LogLimit::new();

/// `pr_warn!` within `$budget`, saying first how many lines `$who` caused were left out.
macro_rules! limited_warn {
    ($budget:expr, $who:literal, $($arg:tt)*) => {
        if let Some(left_out) = $budget.admit($crate::ksys::sys::now_ms()) {
            if left_out > 0 {
                ::kernel::prelude::pr_warn!(
                    "{} lines caused by {} were left out of the log\n",
                    left_out,
                    $who
                );
            }
            ::kernel::prelude::pr_warn!($($arg)*);
        }
    };
}
pub(crate) use limited_warn;

/// `pr_warn!` for a line a user caused, within [`USER_LOG`]'s budget.
macro_rules! user_warn {
    ($($arg:tt)*) => {
        $crate::userlog::limited_warn!($crate::userlog::USER_LOG, "users", $($arg)*)
    };
}
pub(crate) use user_warn;

/// `pr_warn!` for a line a peer caused, within [`PEER_LOG`]'s budget.
macro_rules! peer_warn {
    ($($arg:tt)*) => {
        $crate::userlog::limited_warn!($crate::userlog::PEER_LOG, "peers", $($arg)*)
    };
}
pub(crate) use peer_warn;
