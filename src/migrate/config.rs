// SPDX-License-Identifier: GPL-2.0

//! The fixed values of migration: the guest stub's path, queue bounds and time limits.

use kernel::prelude::*;

/// The guest stub a host starts for each incoming process.
pub(crate) const STUB_PATH: &CStr = c"/lib/openmosix/omx-guest";
/// Most image bytes waiting for a restore before the sender is held back.
pub(crate) const GUEST_QUEUE_BYTES: usize = 4 << 20;
/// How long a home waits for the host's answer, and a guest slot for its image, in ms.
pub(crate) const ANSWER_MS: u64 = 30_000;
/// How often a host sending a guest's image to a third node tells the home how far it got,
/// in ms (the home gives the move up after [`ANSWER_MS`] without a word).
pub(crate) const PROGRESS_MS: u64 = 1000;
/// Poll period of waits that also watch for a dead peer, in ms.
pub(crate) const POLL_MS: u32 = 100;
/// How long a guest waits for its home to take it back before a call that needs home fails
/// with `EAGAIN` (and how long such calls keep failing after), in ms.
pub(crate) const HOME_RETRY_MS: u64 = 5000;
/// Most guests arriving at once (each has a stub running as root until its restore), from all
/// peers together.
pub(crate) const MAX_ARRIVING: usize = 8;
/// Most guests arriving at once from one peer.
pub(crate) const MAX_ARRIVING_PER_PEER: usize = 4;
/// Most guests a node hosts.
pub(crate) const MAX_GUESTS: usize = 256;

/// Moves of guests between two other nodes that this node expects as their homes announced
/// them (`MigCtl Expect`), at most; the oldest is forgotten first.
pub(crate) const MAX_EXPECTED: usize = 64;
