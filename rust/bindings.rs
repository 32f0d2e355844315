// SPDX-License-Identifier: GPL-2.0

//! Raw bindings for kernel interfaces that the `kernel` crate's bindings do not cover.
//!
//! Generated at build time by bindgen with the kernel's own C flags from
//! `rust/bindings_helper.h`, restricted to the items listed in `rust/bindgen_parameters`.
//! Everything the `kernel` crate's bindings define is re-exported, so one path names both.
//! Only `rust/` uses this module: abstract or re-export what the module needs in a safe type.

#![allow(
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unreachable_pub,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

use kernel::ffi;
// Types the generated items mention but do not define come from here; local items shadow them.
pub(crate) use kernel::bindings::*;

include!("bindings_generated.rs");
