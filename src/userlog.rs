// SPDX-License-Identifier: GPL-2.0

//! Log lines that local users cause with writes to the world-writable `/proc/openmosix` files
//! (`migrate`, `tag`): [`user_warn!`] lets at most `omcore::text::BURST` of them through every
//! `omcore::text::WINDOW_MS` and says how many it left out; text a user wrote is shown through
//! `omcore::text::Escaped`. So no user can flood the kernel log or forge lines in it.

use crate::omcore::text::LogLimit;

/// The budget all such lines share.
pub(crate) static USER_LOG: LogLimit = LogLimit::new();

/// `pr_warn!` for a line a user caused, within [`USER_LOG`]'s budget.
macro_rules! user_warn {
    ($($arg:tt)*) => {
        if let Some(left_out) =
            $crate::userlog::USER_LOG.admit($crate::ksys::sys::now_ms())
        {
            if left_out > 0 {
                ::kernel::prelude::pr_warn!(
                    "{} lines caused by users were left out of the log\n",
                    left_out
                );
            }
            ::kernel::prelude::pr_warn!($($arg)*);
        }
    };
}
pub(crate) use user_warn;
