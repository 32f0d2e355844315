// SPDX-License-Identifier: GPL-2.0

//! The guest's second wall: a seccomp filter (classic BPF) that lets a guest make only the
//! x86-64 system calls the module's hooks know how to route.
//!
//! The first wall is the module's `sys_enter` hook, which runs a guest's call here, forwards it
//! home, or refuses it. The filter is installed by the guest stub before its image is restored
//! and stays with the guest: a call the hook would not know (a number outside
//! [`super::syscalls::SYSCALLS`], a [`Refused`](super::syscalls::Class::Refused) one, the 32-bit
//! ABI of `int $0x80`, x32 numbers) fails with `ENOSYS` in the kernel's seccomp check, which runs
//! before the hook, whatever the hook does.
//!
//! The program: check the architecture, refuse numbers with the x32 bit (or above), then one
//! range test per run of allowed numbers, and `ENOSYS` for the rest.

use super::syscalls::{Class, SYSCALLS};

/// `struct sock_filter`: one classic BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SockFilter {
    /// Operation.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

/// `BPF_LD | BPF_W | BPF_ABS`: load a word of `struct seccomp_data`.
pub const LD_ABS: u16 = 0x20;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGE | BPF_K` (unsigned).
pub const JGE: u16 = 0x35;
/// `BPF_RET | BPF_K`.
pub const RET: u16 = 0x06;
/// Offset of the call number in `struct seccomp_data`.
pub const DATA_NR: u32 = 0;
/// Offset of the architecture in `struct seccomp_data`.
pub const DATA_ARCH: u32 = 4;
/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `__X32_SYSCALL_BIT`.
pub const X32_BIT: u32 = 0x4000_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO | ENOSYS`: the call fails with `ENOSYS`.
pub const RET_ENOSYS: u32 = 0x0005_0000 | 38;
/// Room for the program (the kernel allows 4096 instructions).
pub const MAX_LEN: usize = 512;

/// Whether a guest may make call `nr` of class `class` (then the hook routes it).
fn allowed(class: Class) -> bool {
    !matches!(class, Class::Refused(_))
}

/// The runs `[lo, hi]` of allowed call numbers, ascending.
fn runs() -> impl Iterator<Item = (u32, u32)> {
    let mut it = SYSCALLS
        .iter()
        .filter(|(_, _, c)| allowed(*c))
        .map(|(n, _, _)| *n)
        .peekable();
    core::iter::from_fn(move || {
        let lo = it.next()?;
        let mut hi = lo;
        while it.peek() == Some(&(hi + 1)) {
            hi += 1;
            it.next();
        }
        Some((lo, hi))
    })
}

fn op(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Writes the guest filter into `out`; returns its length, or `None` if it does not fit.
pub fn guest_filter(out: &mut [SockFilter]) -> Option<usize> {
    let mut n = 0;
    let mut put = |f: SockFilter| -> Option<()> {
        *out.get_mut(n)? = f;
        n += 1;
        Some(())
    };
    put(op(LD_ABS, 0, 0, DATA_ARCH))?;
    put(op(JEQ, 1, 0, AUDIT_ARCH_X86_64))?;
    put(op(RET, 0, 0, RET_ENOSYS))?;
    put(op(LD_ABS, 0, 0, DATA_NR))?;
    put(op(JGE, 0, 1, X32_BIT))?;
    put(op(RET, 0, 0, RET_ENOSYS))?;
    for (lo, hi) in runs() {
        // nr < lo: the next run. nr > hi: the next run. Otherwise allowed.
        put(op(JGE, 0, 2, lo))?;
        put(op(JGE, 1, 0, hi.checked_add(1)?))?;
        put(op(RET, 0, 0, RET_ALLOW))?;
    }
    put(op(RET, 0, 0, RET_ENOSYS))?;
    Some(n)
}

/// The 8 bytes of `f` as the kernel's `struct sock_filter` has them (native byte order).
pub fn encode(f: &SockFilter) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&f.code.to_ne_bytes());
    b[2] = f.jt;
    b[3] = f.jf;
    b[4..8].copy_from_slice(&f.k.to_ne_bytes());
    b
}

/// What `prog` returns for a call `nr` of architecture `arch`: a small interpreter of the
/// instructions [`guest_filter`] uses (`None` for anything else or a jump out of the program),
/// with which the filter is tested on the host.
pub fn run(prog: &[SockFilter], arch: u32, nr: u32) -> Option<u32> {
    let mut pc = 0usize;
    let mut acc = 0u32;
    loop {
        let f = prog.get(pc)?;
        pc += 1;
        match f.code {
            LD_ABS => {
                acc = match f.k {
                    DATA_NR => nr,
                    DATA_ARCH => arch,
                    _ => return None,
                }
            }
            JEQ | JGE => {
                let yes = if f.code == JEQ {
                    acc == f.k
                } else {
                    acc >= f.k
                };
                pc += usize::from(if yes { f.jt } else { f.jf });
            }
            RET => return Some(f.k),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::syscalls::class_of;
    use super::*;

    fn prog() -> ([SockFilter; MAX_LEN], usize) {
        let mut p = [SockFilter::default(); MAX_LEN];
        let n = guest_filter(&mut p).expect("the filter fits");
        (p, n)
    }

    #[test]
    fn allows_exactly_the_calls_the_hooks_route() {
        let (p, n) = prog();
        let p = &p[..n];
        for nr in 0..2000u32 {
            let want = match class_of(nr) {
                Some(c) if allowed(c) => RET_ALLOW,
                _ => RET_ENOSYS,
            };
            assert_eq!(run(p, AUDIT_ARCH_X86_64, nr), Some(want), "call {nr}");
        }
        // read, write, mmap, rt_sigreturn, exit_group are among the allowed.
        for nr in [0, 1, 9, 15, 231] {
            assert_eq!(run(p, AUDIT_ARCH_X86_64, nr), Some(RET_ALLOW));
        }
    }

    #[test]
    fn refuses_the_32_bit_abi_x32_and_odd_numbers() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        let (p, n) = prog();
        let p = &p[..n];
        for nr in [0, 1, 10, 39, 11, 102, 1000] {
            assert_eq!(run(p, AUDIT_ARCH_I386, nr), Some(RET_ENOSYS), "i386 {nr}");
        }
        for nr in [X32_BIT, X32_BIT | 83, X32_BIT | 1, u32::MAX, u32::MAX - 1] {
            assert_eq!(run(p, AUDIT_ARCH_X86_64, nr), Some(RET_ENOSYS), "{nr:#x}");
        }
    }

    #[test]
    fn a_refused_call_is_refused() {
        let (p, n) = prog();
        let refused = SYSCALLS
            .iter()
            .find(|(_, _, c)| matches!(c, Class::Refused(_)))
            .map(|(nr, _, _)| *nr)
            .expect("the table refuses some calls");
        assert_eq!(run(&p[..n], AUDIT_ARCH_X86_64, refused), Some(RET_ENOSYS));
    }

    #[test]
    fn too_little_room_is_an_error_not_a_panic() {
        let mut p = [SockFilter::default(); 8];
        assert_eq!(guest_filter(&mut p), None);
        assert_eq!(guest_filter(&mut []), None);
    }

    #[test]
    fn encodes_as_struct_sock_filter() {
        let b = encode(&op(JGE, 1, 2, 0x1234_5678));
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), JGE);
        assert_eq!((b[2], b[3]), (1, 2));
        assert_eq!(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]), 0x1234_5678);
    }
}
