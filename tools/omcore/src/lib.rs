// SPDX-License-Identifier: GPL-2.0

//! openmosix-rs wire formats and pure logic, shared by the kernel module and the userspace tools.
//!
//! Everything here is plain `core` Rust with no kernel types, so the same source is compiled into
//! `openmosix.ko` (the module's Kbuild includes this file as a module) and into the tools, and is
//! unit-tested and fuzzed on the host. Bytes that come from a peer are decoded here and nowhere
//! else: every decoder validates its whole input and returns an error, never panics.

#![cfg_attr(not(MODULE), no_std)]
#![forbid(unsafe_code)]

pub mod addr;
#[cfg(not(MODULE))]
pub mod aead;
pub mod balance;
#[cfg(not(MODULE))]
pub mod ckpt;
pub mod ckptdir;
pub mod frame;
pub mod fwd;
pub mod gossip;
pub mod hide;
pub mod image;
pub mod keyring;
pub mod map;
pub mod mig;
pub mod moves;
pub mod msg;
pub mod ownproc;
pub mod packed;
pub mod pids;
pub mod regs;
pub mod restore;
pub mod revive;
pub mod seccomp;
#[cfg(not(MODULE))]
pub mod sha256;
pub mod swim;
pub mod syscalls;
pub mod text;
pub mod version;
