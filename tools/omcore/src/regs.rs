// SPDX-License-Identifier: GPL-2.0

//! x86-64 user registers as the kernel saves them at entry (`struct pt_regs`), and what the
//! system-call entry and exit paths do with them: the call's number and arguments, its result,
//! skipping, restarting and remaking a call, and the registers of a process image.
//!
//! At a system call, `orig_ax` holds the call's number (-1 when the task is not in a call) and
//! `ax` its result on the way out; the `syscall` instruction is 2 bytes before `ip`, so moving
//! `ip` back by 2 with the number in `ax` makes the task run the call again.

use super::image;

/// Number of 64-bit words of `struct pt_regs`.
pub const PT_REGS: usize = 21;

/// Index of `r15`.
pub const R15: usize = 0;
/// Index of `r14`.
pub const R14: usize = 1;
/// Index of `r13`.
pub const R13: usize = 2;
/// Index of `r12`.
pub const R12: usize = 3;
/// Index of `bp`.
pub const BP: usize = 4;
/// Index of `bx`.
pub const BX: usize = 5;
/// Index of `r11`.
pub const R11: usize = 6;
/// Index of `r10` (argument 3 of a system call).
pub const R10: usize = 7;
/// Index of `r9` (argument 5).
pub const R9: usize = 8;
/// Index of `r8` (argument 4).
pub const R8: usize = 9;
/// Index of `ax` (the system call's number on entry, its result on exit).
pub const AX: usize = 10;
/// Index of `cx`.
pub const CX: usize = 11;
/// Index of `dx` (argument 2).
pub const DX: usize = 12;
/// Index of `si` (argument 1).
pub const SI: usize = 13;
/// Index of `di` (argument 0).
pub const DI: usize = 14;
/// Index of `orig_ax` (the system call's number, -1 for none).
pub const ORIG_AX: usize = 15;
/// Index of `ip`.
pub const IP: usize = 16;
/// Index of `cs`.
pub const CS: usize = 17;
/// Index of `flags`.
pub const FLAGS: usize = 18;
/// Index of `sp`.
pub const SP: usize = 19;
/// Index of `ss`.
pub const SS: usize = 20;

/// The registers holding a system call's six arguments, in order.
const ARGS: [usize; 6] = [DI, SI, DX, R10, R8, R9];

/// Flags a task returns to user mode with when they are set anew: IF, and bit 1 (always set).
pub const BASE_FLAGS: u64 = 0x202;

/// Size of the `syscall` instruction.
const SYSCALL_LEN: u64 = 2;

// An image's registers start with these, in the same order.
const _: () = assert!(image::REG_RIP == IP && image::REG_EFLAGS == FLAGS && image::REG_RSP == SP);
const _: () = assert!(image::REG_FS_BASE >= PT_REGS && image::REG_GS_BASE >= PT_REGS);
const _: () = assert!(image::REG_FS_BASE < image::NREGS && image::REG_GS_BASE < image::NREGS);

/// Error numbers of the system-call entry and exit path (positive: a result is `-value`).
pub mod errno {
    /// Interrupted system call.
    pub const EINTR: i64 = 4;
    /// Try again.
    pub const EAGAIN: i64 = 11;
    /// No such system call.
    pub const ENOSYS: i64 = 38;
    /// Restart the call if the signal's handler has `SA_RESTART` (or there is no handler).
    pub const ERESTARTSYS: i64 = 512;
    /// Restart the call whatever the signal's handler.
    pub const ERESTARTNOINTR: i64 = 513;
    /// Restart the call if no handler runs.
    pub const ERESTARTNOHAND: i64 = 514;
    /// Restart by `restart_syscall` (the call's restart block) if no handler runs.
    pub const ERESTART_RESTARTBLOCK: i64 = 516;
}

use errno::{EINTR, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK};

/// Whether `result` asks for its call to be restarted.
fn is_restart(result: i64) -> bool {
    [
        ERESTARTSYS,
        ERESTARTNOINTR,
        ERESTARTNOHAND,
        ERESTART_RESTARTBLOCK,
    ]
    .contains(&-result)
}

/// A task's user registers, in `struct pt_regs` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRegs {
    raw: [u64; PT_REGS],
}

impl UserRegs {
    /// The registers `raw`, in `struct pt_regs` order.
    pub const fn from_raw(raw: [u64; PT_REGS]) -> Self {
        Self { raw }
    }

    /// The registers in `struct pt_regs` order.
    pub const fn raw(&self) -> &[u64; PT_REGS] {
        &self.raw
    }

    /// The registers in `struct pt_regs` order.
    pub fn into_raw(self) -> [u64; PT_REGS] {
        self.raw
    }

    /// The number of the system call the task is in: `None` when `orig_ax` is negative (no
    /// call) or not a 32-bit number.
    pub fn syscall_nr(&self) -> Option<u32> {
        if (self.orig_ax() as i64) < 0 {
            return None;
        }
        u32::try_from(self.orig_ax()).ok()
    }

    /// `orig_ax`.
    pub fn orig_ax(&self) -> u64 {
        self.raw[ORIG_AX]
    }

    /// A system call's result: `ax`.
    pub fn result(&self) -> i64 {
        self.raw[AX] as i64
    }

    /// Sets `ax`, a system call's result.
    pub fn set_result(&mut self, v: i64) {
        self.raw[AX] = v as u64;
    }

    /// A system call's arguments: di, si, dx, r10, r8, r9.
    pub fn args(&self) -> [u64; 6] {
        ARGS.map(|r| self.raw[r])
    }

    /// Sets a system call's arguments (di, si, dx, r10, r8, r9).
    pub fn set_args(&mut self, a: &[u64; 6]) {
        for (&r, &v) in ARGS.iter().zip(a) {
            self.raw[r] = v;
        }
    }

    /// The instruction pointer.
    pub fn ip(&self) -> u64 {
        self.raw[IP]
    }

    /// Sets the instruction pointer.
    pub fn set_ip(&mut self, v: u64) {
        self.raw[IP] = v;
    }

    /// The stack pointer.
    pub fn sp(&self) -> u64 {
        self.raw[SP]
    }

    /// Sets the stack pointer.
    pub fn set_sp(&mut self, v: u64) {
        self.raw[SP] = v;
    }

    /// The flags.
    pub fn flags(&self) -> u64 {
        self.raw[FLAGS]
    }

    /// Sets the flags.
    pub fn set_flags(&mut self, v: u64) {
        self.raw[FLAGS] = v;
    }

    /// The call being entered does not run and returns `value`.
    pub fn skip_call(&mut self, value: i64) {
        self.raw[ORIG_AX] = u64::MAX;
        self.set_result(value);
    }

    /// No call now: the `syscall` instruction runs again, as call `nr`, when the task next runs
    /// in user mode.
    pub fn rewind_call(&mut self, nr: u32) {
        self.raw[ORIG_AX] = u64::MAX;
        self.raw[AX] = u64::from(nr);
        self.raw[IP] = self.raw[IP].wrapping_sub(SYSCALL_LEN);
    }

    /// Sets the result of call `nr`, made elsewhere, as the return to user mode must see it. A
    /// call interrupted there to be restarted: with a signal pending here the kernel restarts it
    /// or fails it with `EINTR` as the handler says; with none, it is restarted now (as the
    /// kernel would), and one to restart by its restart block fails with `EINTR`.
    pub fn finish_forwarded(&mut self, nr: u32, result: i64, signal_pending: bool) {
        self.set_result(result);
        self.raw[ORIG_AX] = u64::from(nr);
        if (-ERESTART_RESTARTBLOCK..=-ERESTARTSYS).contains(&result) && !signal_pending {
            if result == -ERESTART_RESTARTBLOCK {
                self.set_result(-EINTR);
            } else if result >= -ERESTARTNOHAND {
                self.raw[AX] = u64::from(nr);
                self.raw[IP] = self.raw[IP].wrapping_sub(SYSCALL_LEN);
            }
        }
    }

    /// Sets the registers to make call `nr` with `args` by returning to user mode at a `syscall`
    /// instruction at `ip`, with stack pointer `sp`.
    pub fn set_call(&mut self, nr: u32, args: &[u64; 6], ip: u64, sp: u64) {
        self.raw[AX] = u64::from(nr);
        self.raw[ORIG_AX] = u64::MAX;
        self.set_args(args);
        self.raw[IP] = ip;
        self.raw[FLAGS] = BASE_FLAGS;
        self.raw[SP] = sp;
    }

    /// Loads the registers of a process image: r15 ... di, ip, sp and the user flags of `image`;
    /// no system call (`orig_ax` -1, so none is restarted); `cs` and `ss` stay this node's.
    pub fn load_image(&mut self, image: &[u64; image::NREGS]) {
        for (d, v) in self.raw.iter_mut().zip(image.iter()).take(ORIG_AX) {
            *d = *v;
        }
        self.raw[ORIG_AX] = u64::MAX;
        self.raw[IP] = image[image::REG_RIP];
        self.raw[FLAGS] = (image[image::REG_EFLAGS] & image::USER_EFLAGS) | BASE_FLAGS;
        self.raw[SP] = image[image::REG_RSP];
    }

    /// A wait that a capture cut short with `EINTR` and no signal (the capture is task work
    /// queued as a signal would be, which such a wait takes as one: `epoll_wait`, `semop`,
    /// `semtimedop`, `rt_sigtimedwait`) is marked to be restarted instead (`ERESTARTNOHAND`):
    /// where the process goes on, the wait is made again, unless a signal whose handler runs
    /// is pending there, which ends it with `EINTR` as it would have here. Returns whether the
    /// registers were so marked.
    pub fn restart_cut_wait(&mut self) -> bool {
        use super::syscalls::nr::{EPOLL_WAIT, RT_SIGTIMEDWAIT, SEMOP, SEMTIMEDOP};
        let wait = matches!(
            self.syscall_nr(),
            Some(EPOLL_WAIT | RT_SIGTIMEDWAIT | SEMOP | SEMTIMEDOP)
        );
        if wait && self.result() == -EINTR {
            self.set_result(-ERESTARTNOHAND);
            return true;
        }
        false
    }

    /// After [`Self::load_image`], for an image taken in a system call that is to be restarted
    /// (its `orig_rax` the call, its `rax` an `ERESTART` value: a capture runs before the
    /// kernel's restart fix-up, and leaves it to where the process goes on): sets what that
    /// fix-up needs here. With a signal pending (`signal_pending`) the kernel then restarts the
    /// call or fails it with `EINTR` as the handler of the signal it delivers says, as it would
    /// have where the call was interrupted; with none the call is made again. A call to be
    /// restarted by its restart block (which stays on the node it left) is made again from the
    /// start. Returns whether the image was in such a call.
    pub fn resume_image_call(&mut self, image: &[u64; image::NREGS], signal_pending: bool) -> bool {
        let result = image[image::REG_RAX] as i64;
        let Ok(nr) = u32::try_from(image[image::REG_ORIG_RAX]) else {
            return false;
        };
        if !is_restart(result) {
            return false;
        }
        let result = if result == -ERESTART_RESTARTBLOCK {
            -ERESTARTNOHAND
        } else {
            result
        };
        self.finish_forwarded(nr, result, signal_pending);
        true
    }

    /// The registers of a process image (`struct user_regs_struct` order): these registers, the
    /// `fs` and `gs` bases, and 0 for the segment selectors.
    pub fn to_image(&self, fs_base: u64, gs_base: u64) -> [u64; image::NREGS] {
        let mut r = [0u64; image::NREGS];
        for (d, v) in r.iter_mut().zip(self.raw.iter()) {
            *d = *v;
        }
        r[image::REG_FS_BASE] = fs_base;
        r[image::REG_GS_BASE] = gs_base;
        r
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// Registers whose every word is its index times 0x101, plus 1.
    fn sample() -> [u64; PT_REGS] {
        core::array::from_fn(|i| i as u64 * 0x101 + 1)
    }

    #[test]
    fn indices_follow_pt_regs() {
        let names = [
            R15, R14, R13, R12, BP, BX, R11, R10, R9, R8, AX, CX, DX, SI, DI, ORIG_AX, IP, CS,
            FLAGS, SP, SS,
        ];
        for (i, &n) in names.iter().enumerate() {
            assert_eq!(i, n);
        }
        assert_eq!(names.len(), PT_REGS);
        assert_eq!(image::REG_RIP, IP);
        assert_eq!(image::REG_EFLAGS, FLAGS);
        assert_eq!(image::REG_RSP, SP);
    }

    #[test]
    fn accessors_read_and_write_their_words() {
        let raw = sample();
        let mut r = UserRegs::from_raw(raw);
        assert_eq!(r.raw(), &raw);
        assert_eq!(r.into_raw(), raw);
        assert_eq!(r.orig_ax(), raw[ORIG_AX]);
        assert_eq!(r.result(), raw[AX] as i64);
        assert_eq!(
            r.args(),
            [raw[DI], raw[SI], raw[DX], raw[R10], raw[R8], raw[R9]]
        );
        assert_eq!((r.ip(), r.sp(), r.flags()), (raw[IP], raw[SP], raw[FLAGS]));

        r.set_result(-4);
        assert_eq!(r.raw()[AX], (-4i64) as u64);
        assert_eq!(r.result(), -4);
        r.set_args(&[10, 11, 12, 13, 14, 15]);
        let w = r.raw();
        assert_eq!(
            [w[DI], w[SI], w[DX], w[R10], w[R8], w[R9]],
            [10, 11, 12, 13, 14, 15]
        );
        assert_eq!(r.args(), [10, 11, 12, 13, 14, 15]);
        r.set_ip(0x401000);
        r.set_sp(0x7ffd_0000);
        r.set_flags(0x246);
        let w = r.into_raw();
        assert_eq!((w[IP], w[SP], w[FLAGS]), (0x401000, 0x7ffd_0000, 0x246));
        // Nothing else moved.
        for i in [R15, R14, R13, R12, BP, BX, R11, CX, ORIG_AX, CS, SS] {
            assert_eq!(w[i], raw[i], "{i}");
        }
    }

    #[test]
    fn system_call_numbers() {
        let with = |orig: u64| {
            let mut raw = sample();
            raw[ORIG_AX] = orig;
            UserRegs::from_raw(raw).syscall_nr()
        };
        assert_eq!(with(0), Some(0));
        assert_eq!(with(231), Some(231));
        assert_eq!(with(u64::from(u32::MAX)), Some(u32::MAX));
        assert_eq!(with(u64::from(u32::MAX) + 1), None);
        assert_eq!(with(u64::MAX), None);
        assert_eq!(with(1 << 63), None);
    }

    #[test]
    fn skipped_and_rewound_calls() {
        let mut r = UserRegs::from_raw(sample());
        r.skip_call(-38);
        assert_eq!((r.orig_ax(), r.result()), (u64::MAX, -38));
        assert_eq!(r.syscall_nr(), None);
        assert_eq!(r.ip(), sample()[IP]);

        let mut r = UserRegs::from_raw(sample());
        r.rewind_call(59);
        assert_eq!((r.orig_ax(), r.raw()[AX]), (u64::MAX, 59));
        assert_eq!(r.ip(), sample()[IP] - 2);
        let mut r = UserRegs::from_raw([0; PT_REGS]);
        r.rewind_call(0);
        assert_eq!(r.ip(), u64::MAX - 1);
    }

    #[test]
    fn image_taken_in_a_call_resumes_as_the_fix_up_would() {
        const IP0: u64 = 0x401002;
        let image = |orig: u64, ax: i64| {
            let mut r = [0u64; image::NREGS];
            r[image::REG_ORIG_RAX] = orig;
            r[image::REG_RAX] = ax as u64;
            r[image::REG_RIP] = IP0;
            r
        };
        // (result, signal pending) -> (ax, ip): restarted here, or left to the kernel's
        // fix-up; by its restart block: as ERESTARTNOHAND.
        let table: [(i64, bool, u64, u64); 8] = [
            (-512, false, 7, IP0 - 2),
            (-513, false, 7, IP0 - 2),
            (-514, false, 7, IP0 - 2),
            (-516, false, 7, IP0 - 2),
            (-512, true, (-512i64) as u64, IP0),
            (-513, true, (-513i64) as u64, IP0),
            (-514, true, (-514i64) as u64, IP0),
            (-516, true, (-514i64) as u64, IP0),
        ];
        for (result, pending, ax, ip) in table {
            let img = image(7, result);
            let mut r = UserRegs::from_raw(sample());
            r.load_image(&img);
            assert!(r.resume_image_call(&img, pending), "{result} {pending}");
            assert_eq!(
                (r.raw()[AX], r.orig_ax(), r.ip()),
                (ax, 7, ip),
                "{result} {pending}"
            );
        }
        // Other results, no call, or a number no call has: as loaded, in no call.
        for (orig, ax) in [
            (7, -(EINTR)),
            (7, 0),
            (7, 512),
            (7, -515),
            (u64::MAX, -ERESTARTSYS),
            (1 << 40, -ERESTARTSYS),
        ] {
            for pending in [false, true] {
                let img = image(orig, ax);
                let mut r = UserRegs::from_raw(sample());
                r.load_image(&img);
                let loaded = r;
                assert!(!r.resume_image_call(&img, pending), "{orig} {ax}");
                assert_eq!(r, loaded);
                assert_eq!(r.syscall_nr(), None);
            }
        }
    }

    #[test]
    fn waits_cut_by_a_capture_are_restarted() {
        let at = |orig: u64, ax: i64| {
            let mut raw = sample();
            raw[ORIG_AX] = orig;
            raw[AX] = ax as u64;
            UserRegs::from_raw(raw)
        };
        for nr in [232u64, 65, 220, 128] {
            let mut r = at(nr, -EINTR);
            assert!(r.restart_cut_wait(), "{nr}");
            assert_eq!(r.result(), -ERESTARTNOHAND);
            assert_eq!(r.orig_ax(), nr);
        }
        // Other calls, other results, no call: unchanged.
        for (orig, ax) in [
            (0, -EINTR),
            (3, -EINTR),
            (281, -EINTR),
            (232, 1),
            (232, -ERESTARTSYS),
            (u64::MAX, -EINTR),
        ] {
            let mut r = at(orig, ax);
            assert!(!r.restart_cut_wait(), "{orig} {ax}");
            assert_eq!(r, at(orig, ax));
        }
    }

    #[test]
    fn forwarded_results_as_user_mode_sees_them() {
        const IP0: u64 = 0x401002;
        // (result, signal pending) -> (ax, ip)
        let table: [(i64, bool, u64, u64); 14] = [
            (-512, false, 7, IP0 - 2),
            (-513, false, 7, IP0 - 2),
            (-514, false, 7, IP0 - 2),
            (-516, false, (-4i64) as u64, IP0),
            (-4, false, (-4i64) as u64, IP0),
            (0, false, 0, IP0),
            (5, false, 5, IP0),
            (-512, true, (-512i64) as u64, IP0),
            (-513, true, (-513i64) as u64, IP0),
            (-514, true, (-514i64) as u64, IP0),
            (-516, true, (-516i64) as u64, IP0),
            (-4, true, (-4i64) as u64, IP0),
            (0, true, 0, IP0),
            (5, true, 5, IP0),
        ];
        for (result, pending, ax, ip) in table {
            let mut raw = sample();
            raw[IP] = IP0;
            raw[ORIG_AX] = u64::MAX;
            let mut r = UserRegs::from_raw(raw);
            r.finish_forwarded(7, result, pending);
            assert_eq!(
                (r.raw()[AX], r.orig_ax(), r.ip()),
                (ax, 7, ip),
                "{result} {pending}"
            );
        }
    }

    #[test]
    fn calls_are_set_up() {
        let mut r = UserRegs::from_raw(sample());
        r.set_call(1, &[1, 0x7000, 6, 0, 0, 0], 0x5000, 0x9000);
        assert_eq!(r.raw()[AX], 1);
        assert_eq!(r.syscall_nr(), None);
        assert_eq!(r.args(), [1, 0x7000, 6, 0, 0, 0]);
        assert_eq!((r.ip(), r.sp(), r.flags()), (0x5000, 0x9000, 0x202));
        assert_eq!(r.raw()[CS], sample()[CS]);
    }

    #[test]
    fn images_keep_user_registers() {
        let regs = UserRegs::from_raw(sample());
        let img = regs.to_image(0x7f00_0000, 0x7f00_1000);
        let mut want = [0u64; image::NREGS];
        want[..PT_REGS].copy_from_slice(regs.raw());
        want[image::REG_FS_BASE] = 0x7f00_0000;
        want[image::REG_GS_BASE] = 0x7f00_1000;
        assert_eq!(img, want);

        // Loaded on another node: its cs and ss stay, no call, only user flags.
        let mut here_raw = [0xeeu64; PT_REGS];
        here_raw[CS] = 0x33;
        here_raw[SS] = 0x2b;
        let mut here = UserRegs::from_raw(here_raw);
        let mut img = img;
        img[image::REG_EFLAGS] = 0x246 | 0x3000 | (1 << 17); // IOPL and VM: not the user's
        here.load_image(&img);
        let w = here.raw();
        assert_eq!(&w[..ORIG_AX], &regs.raw()[..ORIG_AX]);
        assert_eq!(here.syscall_nr(), None);
        assert_eq!((here.ip(), here.sp()), (regs.ip(), regs.sp()));
        assert_eq!(here.flags(), 0x246);
        assert_eq!((w[CS], w[SS]), (0x33, 0x2b));
        // The round trip.
        let back = here.to_image(0x7f00_0000, 0x7f00_1000);
        for i in (0..ORIG_AX).chain([IP, SP, image::REG_FS_BASE, image::REG_GS_BASE]) {
            assert_eq!(back[i], img[i], "{i}");
        }
    }
}
