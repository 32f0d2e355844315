// SPDX-License-Identifier: GPL-2.0

//! `omlayout`: checks and draws the file layout of the openmosix-rs module, and draws the
//! sequence diagrams of the documentation.
//!
//! # `omlayout check ROOT`
//!
//! Reads every `*.rs` under `ROOT/src` and `ROOT/rust` (generated files left out: named
//! `*_generated.rs` or saying "automatically generated" in their first line, as bindgen's
//! `rust/bindings_generated.rs` does) and prints one line per problem, `FILE: problem`, exiting
//! with 1, when
//!
//! - a file has more than [`check::MAX_LINES`] lines;
//! - the crate root `src/openmosix_main.rs` holds anything but comments, attributes, `mod`
//!   declarations (without a body), `use` items, the `module!` invocation, the module's struct
//!   (the `type:` of `module!`) and `impl Module`, `impl InPlaceModule`, `impl Drop` and
//!   `#[pinned_drop] impl PinnedDrop` blocks for that struct;
//! - a `mod NAME;` has no file;
//! - files import each other in a circle: `cycle: a.rs -> b.rs -> a.rs`.
//!
//! When all is well it prints `layout: N files, longest F (L lines), no import circle` and
//! exits with 0. `omlayout edges ROOT` lists the graph's edges, each with the first place that
//! makes it (`FILE:LINE path`): what to look at to break a circle.
//!
//! ## The graph
//!
//! Its nodes are the files; an edge A -> B says that A refers to an item of B through a path:
//! in a `use` item (brace trees, `self`, globs, renames and several lines included) or anywhere
//! in code (`crate::a::b::f()`), never in comments or literals. Module paths are resolved as
//! rustc does for this tree: the crate root's `mod foo;` is `src/foo.rs` (or `src/foo/mod.rs`),
//! `mod bar;` in `src/foo.rs` is `src/foo/bar.rs`, `#[path = "..."]` names the file relative to
//! the declaring file's directory, and a file loaded through `#[path]` (like `rust/ksys.rs`)
//! keeps its children beside it (`mod bindings;` there is `rust/bindings.rs`). Inline modules
//! (`mod tests { ... }`) belong to their file.
//!
//! A path names the file of its deepest prefix that is a module: `crate::a::b::C` is `a/b.rs`
//! if `b` is a module of `a`, else `a.rs`. `super::` and `self::` count from the module the
//! path is written in (an inline module's too), and a path that starts with the name of a child
//! module (`deputy::Deputy`, after `mod deputy;`) names the child. Re-exports are not followed:
//! `crate::a::X` is an edge to `a.rs` even if `a.rs` only re-exports `X` from `a/x.rs` (and
//! `a.rs` has its own edge to `a/x.rs`). Declaring `mod child;` is not an edge; a child using
//! its parent (`super::X`) and a parent using its child are. Paths into modules outside the
//! checked files (`crate::omcore::...`, whose file is `tools/omcore/src/lib.rs`) and into other
//! crates make no edge.
//!
//! Every circle is reported as the shortest circle through each edge that lies on one, each
//! circle once, starting from its least file.
//!
//! # `omlayout graph ROOT > FILE.svg`
//!
//! Draws the same graph (see [`graph`]): a box per file with its path below `src/` or `rust/`
//! and its line count, users above what they use, one colour per directory.
//!
//! # `omlayout seq SOURCE > FILE.svg`
//!
//! Draws a sequence diagram from a text file, one statement a line:
//!
//! ```text
//! # A comment; blank lines are ignored too.
//! title One forwarded call
//! # Number the messages 1, 2, 3, ...
//! autonumber
//! # Lifelines, left to right in declaration order (without a label, the ID is shown).
//! actor guest "Guest\n(sys_enter probe)"
//! actor home "Deputy"
//! # A band behind the lifelines from guest to home, labelled.
//! group guest home "two nodes"
//! # An arrow with its text; a dashed one (a reply); one from a lifeline to itself.
//! guest -> home: Syscall request
//! home -> guest: SyscallReply [dashed]
//! guest -> guest: result to registers
//! # A note box on a lifeline.
//! note home: the call runs at home
//! ```
//!
//! IDs are letters, digits, `_`, `-` and `.`; actors are declared before they are used. In
//! labels and texts, `\n` (backslash, n) breaks the line. `#` starts a comment only at the start
//! of a line. A line that is none of these is an error naming its line (`line 7: ...`). The
//! output is deterministic, its text XML-escaped.

pub mod check;
pub mod graph;
pub mod lex;
pub mod seq;
pub mod svg;
pub mod tree;

#[cfg(test)]
mod tests;
