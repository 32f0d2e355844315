// SPDX-License-Identifier: GPL-2.0

//! What a node checks of an image against itself before the image may replace a process.
//!
//! The image reader (`image.rs`) checks the format, which is the same on every node. What is
//! checked here depends on the node that restores: the lowest address it lets a process map
//! (`vm.mmap_min_addr`), the format of its FPU state and the XSAVE components its processes may
//! use, and, for a process coming home, the limits it has at home. Each check is a pure function
//! of the image's values and the node's, so the module runs them and the host tests them with
//! hostile values. A host is not trusted with what it sends home: nothing in an image may give
//! a process more than it had when it left, or reach `XRSTOR` with state the CPU would refuse.

use super::image::{Limits, MM_START_BRK, MM_VDSO, NLIMITS, PAGE_SIZE, TASK_SIZE, XSAVE_HEADER};

/// Indices of [`super::image::Mm`] values that start a range (the next one ends it).
const MM_START_CODE: usize = 0;
const MM_START_DATA: usize = 2;
const MM_ARG_START: usize = 7;
const MM_ENV_START: usize = 9;
use core::fmt;

/// Why a node refuses to restore an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An area starts below the lowest address this node lets a process map (`start`, floor).
    AreaBelowFloor(u64, u64),
    /// An area is empty or ends above the user address space (`start`, `end`).
    AreaOutsideUser(u64, u64),
    /// The FPU state does not fit this node; the name says what.
    Xstate(&'static str),
    /// The memory layout (`Mm`) is not one a process could set itself; the name says what.
    Layout(&'static str),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AreaBelowFloor(s, floor) => write!(
                f,
                "area at {s:#x} starts below {floor:#x}, the lowest address a process may map here"
            ),
            Self::AreaOutsideUser(s, e) => {
                write!(f, "area {s:#x}-{e:#x} is outside the user address space")
            }
            Self::Xstate(what) => write!(f, "FPU state refused: {what}"),
            Self::Layout(what) => write!(f, "memory layout refused: {what}"),
        }
    }
}

/// The lowest address an area may start at on a node whose `vm.mmap_min_addr` is `min_addr`:
/// never page 0, and never below what the node lets an unprivileged process map.
pub fn area_floor(min_addr: u64) -> u64 {
    min_addr.max(PAGE_SIZE as u64)
}

/// Checks an area `[start, end)` of an image against this node: at or above
/// [`area_floor`]`(min_addr)`, not empty, and wholly below [`TASK_SIZE`].
pub fn check_area(start: u64, end: u64, min_addr: u64) -> Result<(), Refusal> {
    let floor = area_floor(min_addr);
    if start < floor {
        return Err(Refusal::AreaBelowFloor(start, floor));
    }
    if start >= end || end > TASK_SIZE {
        return Err(Refusal::AreaOutsideUser(start, end));
    }
    Ok(())
}

/// Checks an image's memory layout (the first [`MM_VDSO`] values of its `Mm` record: code,
/// data, heap, stack, arguments, environment) as `prctl(PR_SET_MM_MAP)` checks one that a
/// process sets itself: every address below [`TASK_SIZE`] and none in `1..floor` (see
/// [`area_floor`]), each range in order, the heap's end not below its start.
pub fn check_layout(v: &[u64], min_addr: u64) -> Result<(), Refusal> {
    let v = v.get(..MM_VDSO).ok_or(Refusal::Layout("too few values"))?;
    let floor = area_floor(min_addr);
    if v.iter().any(|&a| a >= TASK_SIZE || (a != 0 && a < floor)) {
        return Err(Refusal::Layout("an address outside the user address space"));
    }
    let ranges = [
        (MM_START_CODE, "code"),
        (MM_START_DATA, "data"),
        (MM_START_BRK, "heap"),
        (MM_ARG_START, "arguments"),
        (MM_ENV_START, "environment"),
    ];
    for (at, name) in ranges {
        if v[at] > v[at + 1] {
            return Err(Refusal::Layout(name));
        }
    }
    Ok(())
}

/// Offset of MXCSR in an XSAVE area.
pub const MXCSR: usize = 24;
/// The MXCSR bits a CPU that reports no `MXCSR_MASK` implements (all but DAZ).
pub const MXCSR_DEFAULT_MASK: u32 = 0xffbf;
/// Bit 63 of `xcomp_bv`: the compacted format (`XSAVES`/`XSAVEC`).
pub const XCOMP_COMPACTED: u64 = 1 << 63;

/// This node's FPU state, as its kernel keeps a process's (`struct fpstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpuFormat {
    /// Size of the XSAVE buffer.
    pub size: usize,
    /// Components the buffer has room for, user and supervisor (`fpstate->xfeatures`).
    pub xfeatures: u64,
    /// Components a user process may have in use (`fpstate->user_xfeatures`): no supervisor
    /// component ever is.
    pub user_xfeatures: u64,
    /// `xcomp_bv` of this node's buffers: 0 in the standard format, [`XCOMP_COMPACTED`] and the
    /// components in the compacted one.
    pub xcomp_bv: u64,
    /// The MXCSR bits this CPU implements (`MXCSR_MASK`; 0: [`MXCSR_DEFAULT_MASK`]).
    pub mxcsr_mask: u32,
}

/// `xcomp_bv` of an XSAVE area (0 when it is too short to have a header).
pub fn xcomp_bv(xsave: &[u8]) -> u64 {
    xsave
        .get(XSAVE_HEADER + 8..XSAVE_HEADER + 16)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Checks an image's XSAVE area (`xstate`, whose `Begin` declared `xfeatures`) against this
/// node before it can reach `XRSTOR`/`XRSTORS`: same size and components as this node's
/// buffers; `xcomp_bv` exactly as this node's format needs (0, or compacted with this node's
/// components); `xstate_bv` only within the user components (no supervisor component, nothing
/// this node lacks); the reserved bytes of the XSAVE header zero; no MXCSR bit outside the mask
/// of this CPU.
pub fn check_xstate(node: &FpuFormat, xfeatures: u64, xstate: &[u8]) -> Result<(), Refusal> {
    let bad = |what| Err(Refusal::Xstate(what));
    if xfeatures != node.xfeatures || xstate.len() != node.size {
        return bad("format differs from this node's");
    }
    let le = |at: usize, n: usize| -> Option<u64> {
        let b = xstate.get(at..at.checked_add(n)?)?;
        Some(b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
    };
    let (Some(mxcsr), Some(xstate_bv), Some(reserved)) = (
        le(MXCSR, 4),
        le(XSAVE_HEADER, 8),
        xstate.get(XSAVE_HEADER + 16..XSAVE_HEADER + 64),
    ) else {
        return bad("shorter than an XSAVE header");
    };
    let compacted = node.xcomp_bv & XCOMP_COMPACTED != 0;
    if xcomp_bv(xstate) != if compacted { node.xcomp_bv } else { 0 } {
        return bad("xcomp_bv is not this node's format");
    }
    if xstate_bv & !node.user_xfeatures != 0 {
        return bad("xstate_bv has a supervisor or unknown component");
    }
    if reserved.iter().any(|&b| b != 0) {
        return bad("reserved bytes of the XSAVE header are set");
    }
    let mask = match node.mxcsr_mask {
        0 => MXCSR_DEFAULT_MASK,
        m => m,
    };
    if mxcsr & !u64::from(mask) != 0 {
        return bad("MXCSR has reserved bits set");
    }
    Ok(())
}

/// The limits a process coming home gets: those of the image (what it had on its host), but no
/// hard limit above the one it has at home (`home`, what it had when it left, as changed at home
/// since), and no soft limit above its hard one. A host can so lower a home process's limits,
/// as the process itself could, never raise them.
pub fn limits_coming_home(image: &Limits, home: &Limits) -> Limits {
    Limits {
        l: core::array::from_fn(|i: usize| {
            let (cur, max) = image.l[i];
            let max = max.min(home.l[i].1);
            (cur.min(max), max)
        }),
    }
}

const _: () = assert!(NLIMITS == 16);

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    const MIN_ADDR: u64 = 65536;

    #[test]
    fn layout_as_prctl_checks_it() {
        let good = [
            0x40_0000,
            0x40_1000,
            0x60_0000,
            0x60_1000,
            0x80_0000,
            0x80_2000,
            0x7ffd_0000,
            0x7ffd_1000,
            0x7ffd_1010,
            0x7ffd_1010,
            0x7ffd_1100,
            0x7fff_f000,
        ];
        assert_eq!(check_layout(&good, 65536), Ok(()));
        // Zeros (a field a process never had) pass; an address in page 0's range does not.
        let mut v = good;
        v[2] = 0;
        v[3] = 0;
        assert_eq!(check_layout(&v, 65536), Ok(()));
        let mut v = good;
        v[7] = 0x1000;
        assert!(check_layout(&v, 65536).is_err());
        let mut v = good;
        v[10] = TASK_SIZE;
        assert!(check_layout(&v, 65536).is_err());
        for (lo, hi) in [(0, 1), (2, 3), (4, 5), (7, 8), (9, 10)] {
            let mut v = good;
            v.swap(lo, hi);
            assert!(check_layout(&v, 65536).is_err(), "{lo}-{hi}");
        }
        assert!(check_layout(&good[..5], 65536).is_err());
    }

    #[test]
    fn areas_below_the_floor_or_above_user_space_are_refused() {
        // Page 0, and pages below mmap_min_addr, whatever the sender could map.
        assert_eq!(
            check_area(0, 4096, MIN_ADDR),
            Err(Refusal::AreaBelowFloor(0, MIN_ADDR))
        );
        assert_eq!(
            check_area(4096, 8192, MIN_ADDR),
            Err(Refusal::AreaBelowFloor(4096, MIN_ADDR))
        );
        assert_eq!(
            check_area(MIN_ADDR - 4096, MIN_ADDR + 4096, MIN_ADDR),
            Err(Refusal::AreaBelowFloor(MIN_ADDR - 4096, MIN_ADDR))
        );
        assert_eq!(check_area(MIN_ADDR, MIN_ADDR + 4096, MIN_ADDR), Ok(()));
        // With mmap_min_addr 0 or 4096, page 0 is still refused and page 1 allowed.
        for min in [0, 1, 4096] {
            assert_eq!(
                check_area(0, 4096, min),
                Err(Refusal::AreaBelowFloor(0, 4096))
            );
            assert_eq!(check_area(4096, 8192, min), Ok(()));
        }
        // A huge mmap_min_addr refuses everything.
        assert!(check_area(0x400000, 0x401000, u64::MAX).is_err());
        // Above the user address space, or empty.
        assert_eq!(
            check_area(TASK_SIZE, TASK_SIZE + 4096, MIN_ADDR),
            Err(Refusal::AreaOutsideUser(TASK_SIZE, TASK_SIZE + 4096))
        );
        assert!(check_area(TASK_SIZE - 4096, u64::MAX, MIN_ADDR).is_err());
        assert!(check_area(0x400000, 0x400000, MIN_ADDR).is_err());
        assert!(check_area(0x401000, 0x400000, MIN_ADDR).is_err());
        assert_eq!(check_area(TASK_SIZE - 4096, TASK_SIZE, MIN_ADDR), Ok(()));
    }

    /// A node with x87, SSE, AVX and PKRU for users and CET (bit 11, supervisor) in its
    /// compacted buffers.
    fn node(compacted: bool) -> FpuFormat {
        let xfeatures = 0x207 | 1 << 11;
        FpuFormat {
            size: 1088,
            xfeatures,
            user_xfeatures: 0x207,
            xcomp_bv: if compacted {
                XCOMP_COMPACTED | xfeatures
            } else {
                0
            },
            mxcsr_mask: 0xffff,
        }
    }

    fn xstate(n: &FpuFormat) -> Vec<u8> {
        let mut x = std::vec![0u8; n.size];
        x[MXCSR..MXCSR + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        x[XSAVE_HEADER..XSAVE_HEADER + 8].copy_from_slice(&3u64.to_le_bytes());
        x[XSAVE_HEADER + 8..XSAVE_HEADER + 16].copy_from_slice(&n.xcomp_bv.to_le_bytes());
        x
    }

    fn set64(x: &mut [u8], at: usize, v: u64) {
        x[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn xstate_of_this_nodes_format_passes() {
        for compacted in [false, true] {
            let n = node(compacted);
            let mut x = xstate(&n);
            assert_eq!(check_xstate(&n, n.xfeatures, &x), Ok(()));
            // Every user component in use, PKRU included.
            set64(&mut x, XSAVE_HEADER, 0x207);
            assert_eq!(check_xstate(&n, n.xfeatures, &x), Ok(()));
            // DAZ and the other implemented MXCSR bits.
            x[MXCSR..MXCSR + 4].copy_from_slice(&0xffffu32.to_le_bytes());
            assert_eq!(check_xstate(&n, n.xfeatures, &x), Ok(()));
        }
    }

    #[test]
    fn hostile_xstate_is_refused() {
        for compacted in [false, true] {
            let n = node(compacted);
            let refused = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut x = xstate(&n);
                f(&mut x);
                check_xstate(&n, n.xfeatures, &x).is_err()
            };
            // A supervisor component (CET, bit 11) in xstate_bv, though the buffer has room.
            assert!(refused(&|x| set64(x, XSAVE_HEADER, 3 | 1 << 11)));
            // PASID (bit 10), processor trace (bit 8): supervisor, not in this node's buffers.
            assert!(refused(&|x| set64(x, XSAVE_HEADER, 3 | 1 << 10)));
            assert!(refused(&|x| set64(x, XSAVE_HEADER, 3 | 1 << 8)));
            // AMX tile data, which this node's process does not have.
            assert!(refused(&|x| set64(x, XSAVE_HEADER, 3 | 1 << 18)));
            assert!(refused(&|x| set64(x, XSAVE_HEADER, u64::MAX)));
            // Reserved header bytes, the first and the last.
            assert!(refused(&|x| x[XSAVE_HEADER + 16] = 1));
            assert!(refused(&|x| x[XSAVE_HEADER + 63] = 0x80));
            // MXCSR reserved bits: above bit 15, and DAZ on a CPU without it.
            assert!(refused(&|x| x[MXCSR + 2] = 1));
            assert!(refused(&|x| x[MXCSR + 3] = 0x80));
            // xcomp_bv of the other format, or with other components.
            let other = if compacted {
                0
            } else {
                XCOMP_COMPACTED | n.xfeatures
            };
            assert!(refused(&|x| set64(x, XSAVE_HEADER + 8, other)));
            assert!(refused(&|x| set64(
                x,
                XSAVE_HEADER + 8,
                XCOMP_COMPACTED | 0x7
            )));
            assert!(refused(&|x| set64(
                x,
                XSAVE_HEADER + 8,
                n.xcomp_bv | 1 << 18
            )));
            // Sizes and declared features other than this node's.
            let x = xstate(&n);
            assert!(check_xstate(&n, n.xfeatures, &x[..n.size - 64]).is_err());
            assert!(check_xstate(&n, n.xfeatures | 1 << 5, &x).is_err());
            assert!(check_xstate(&n, 0x3, &x).is_err());
            assert_eq!(xcomp_bv(&x), n.xcomp_bv);
        }
        assert_eq!(xcomp_bv(&[0xff; XSAVE_HEADER + 15]), 0);
        // No DAZ on this CPU: the default mask, and a mask without DAZ.
        for mask in [0, 0xffbf] {
            let n = FpuFormat {
                mxcsr_mask: mask,
                ..node(false)
            };
            let mut x = xstate(&n);
            x[MXCSR..MXCSR + 4].copy_from_slice(&(0x1f80u32 | 0x40).to_le_bytes());
            assert!(check_xstate(&n, n.xfeatures, &x).is_err());
        }
        // A node whose size is too small for an XSAVE header refuses instead of panicking.
        let tiny = FpuFormat {
            size: 100,
            ..node(false)
        };
        assert!(check_xstate(&tiny, tiny.xfeatures, &[0u8; 100]).is_err());
    }

    #[test]
    fn limits_never_rise_coming_home() {
        const INF: u64 = u64::MAX;
        let mut home = Limits {
            l: [(1024, 4096); NLIMITS],
        };
        // RLIMIT_NOFILE (7) lowered at home to 1000/1000, RLIMIT_STACK (3) unlimited hard.
        home.l[7] = (1000, 1000);
        home.l[3] = (8 << 20, INF);
        // A host sends them back raised: hard limits are capped at home's, soft at hard.
        let mut img = Limits {
            l: [(INF, INF); NLIMITS],
        };
        img.l[3] = (16 << 20, INF);
        let back = limits_coming_home(&img, &home);
        assert_eq!(back.l[7], (1000, 1000));
        assert_eq!(back.l[0], (4096, 4096));
        // Within the hard limit at home, the image's soft limit stands.
        assert_eq!(back.l[3], (16 << 20, INF));
        // Unchanged limits come back unchanged; lowered ones stay lowered.
        assert_eq!(limits_coming_home(&home, &home), home);
        let mut low = home;
        low.l[7] = (10, 20);
        assert_eq!(limits_coming_home(&low, &home).l[7], (10, 20));
        // Soft limit above the hard one (the reader refuses it; here it is clamped too).
        let mut bad = home;
        bad.l[7] = (5000, 900);
        assert_eq!(limits_coming_home(&bad, &home).l[7], (900, 900));
        for (c, m) in limits_coming_home(&img, &home).l {
            assert!(c <= m);
        }
    }
}
