// SPDX-License-Identifier: GPL-2.0

//! `omx-t` cases of processes, their children and their scheduling, each checked in every part
//! (so, in a moved run, on what was made before the move and anew away):
//! - `jobctl`: a child (its pid in `DIR/pid`, the one moved), running on the CPU, is stopped by
//!   `SIGSTOP` and by `SIGTTIN` (default action) and continued by `SIGCONT`; its parent sees
//!   each change through `wait4(WUNTRACED | WCONTINUED)` and `waitid` (the code, the signal,
//!   the child's pid) and `/proc/CHILD/stat` in state `T`; a caught `SIGTSTP` runs the child's
//!   handler and does not stop it (sent at once after the `SIGCONT`); the child goes on when
//!   its parent says so (`SIGUSR1`).
//! - `children`: children forked in part 0 end one a part: `waitid(WNOHANG)` sees none before,
//!   `waitid(WNOWAIT)` sees the one that ended (code, status, pid) and leaves it, `wait4` reaps
//!   it with its status and its CPU time (also in `getrusage(RUSAGE_CHILDREN)`), then `ECHILD`;
//!   the `SIGCHLD` handler runs; with `SIGCHLD` ignored a child is reaped by the kernel; last (a
//!   moved process comes home to fork), a child forked in part 2 knows its parent. (What an
//!   `SA_SIGINFO` handler of `SIGCHLD` sees is checked by `handlers`.)
//! - `exec`: descriptors opened in each part with and without close-on-exec (`O_CLOEXEC`,
//!   `F_SETFD`), a working directory, a blocked signal, an ignored one and a caught one; last
//!   (a moved process comes home to exec), `execve` of itself: the same pid and parent, the
//!   working directory, the descriptors without close-on-exec open at their offsets, the others
//!   closed, the mask and the ignored signal kept, the caught one back to its default, its
//!   arguments and environment.
//! - `sched`: `SCHED_BATCH` and `SCHED_IDLE`, a nice value and an I/O priority set in part 0
//!   (`sched_setscheduler`, `sched_getscheduler`, `sched_getattr`, `setpriority`,
//!   `getpriority`, `ioprio_set`); in every part `/proc/self/stat` shows the policy and the nice
//!   value, `ioprio_get` what the last part set, `sched_getparam`, the priority ranges,
//!   `sched_yield`. (Policy and nice value are not set or read in the parts: moved, the process
//!   gets `ENOSYS` for `sched_setscheduler` and `setpriority` and its host's values.)
//! - `futex`: `FUTEX_WAIT` on another value (`EAGAIN`), timing out (relative, and absolute on
//!   `CLOCK_REALTIME` with a bit set), interrupted by a signal (`EINTR`), `FUTEX_WAKE` with no
//!   waiter, `futex_waitv`, `set_tid_address` answering its tid.
//! - `sleeps`: `nanosleep` and `clock_nanosleep` interrupted by a timer's signal (`EINTR`, the
//!   time left), absolute sleeps on `CLOCK_REALTIME` and `CLOCK_TAI`, bad arguments (`EINVAL`,
//!   `EOPNOTSUPP`), `clock_getres`, `times` never going back and counting the sleeps, `select`
//!   as a sleep.

use super::basics::{close, open, pipe, read, write};
use super::{fired, in_three_parts, pid, sys, Checks};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

const SIGCHLD: u64 = 17;
const SIGCONT: u64 = 18;
const SIGSTOP: u64 = 19;
const SIGTSTP: u64 = 20;
const SIGTTIN: u64 = 21;
const SIGPIPE: u64 = 13;
const SIGUSR1: u64 = 10;
const SIGUSR2: u64 = 12;
const SIGALRM: u64 = 14;
const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2;
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const CLD_EXITED: i32 = 1;
const CLD_CONTINUED: i32 = 6;
const ECHILD: i64 = 10;
const EBADF: i64 = 9;
const EINTR: i64 = 4;
const EAGAIN: i64 = 11;
const EINVAL: i64 = 22;
const ETIMEDOUT: i64 = 110;
const EOPNOTSUPP: i64 = 95;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_CLOEXEC: u64 = 0o2000000;
const F_GETFD: u64 = 1;
const F_SETFD: u64 = 2;
const FD_CLOEXEC: u64 = 1;
const SA_SIGINFO: u64 = 4;
const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_TAI: u64 = 11;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const TIMER_ABSTIME: u64 = 1;
const MS: u64 = 1_000_000;

/// "part N: what".
fn p(part: u32, what: &str) -> String {
    format!("part {part}: {what}")
}

/// The checks of a part: each named "part N: what".
pub(super) struct Part<'a>(pub(super) &'a mut Checks, pub(super) u32);

impl Part<'_> {
    pub(super) fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        self.0.eq(&p(self.1, what), got, want);
    }

    pub(super) fn ok(&mut self, what: &str, ok: bool, why: impl FnOnce() -> String) {
        self.0.check(&p(self.1, what), ok, why);
    }
}

fn kill(pid: i64, sig: u64) -> i64 {
    sys(62, [pid as u64, sig, 0, 0, 0, 0])
}

/// `wait4(pid, &status, options, NULL)`: the result and the status.
fn wait4(pid: i64, options: u64) -> (i64, i32) {
    let mut st = 0i32;
    let r = sys(
        61,
        [pid as u64, &mut st as *mut i32 as u64, options, 0, 0, 0],
    );
    (r, st)
}

/// `waitid(idtype, id, &info, options)`: the result, then `si_signo`, `si_code`, `si_pid` and
/// `si_status` of what it wrote.
fn waitid(idtype: u64, id: i64, options: u64) -> (i64, [i32; 4]) {
    let mut info = [0i32; 32];
    let r = sys(
        247,
        [idtype, id as u64, info.as_mut_ptr() as u64, options, 0, 0],
    );
    (r, [info[0], info[2], info[4], info[6]])
}

fn clock_ns(clock: u64) -> u64 {
    let mut ts = [0u64; 2];
    sys(228, [clock, ts.as_mut_ptr() as u64, 0, 0, 0, 0]);
    ts[0] * 1_000_000_000 + ts[1]
}

fn flush() {
    use std::io::Write;
    std::io::stdout().flush().ok();
}

// --- jobctl -----------------------------------------------------------------------------------

/// The pipe the child's handlers write the signal they caught to.
static ACK: AtomicU64 = AtomicU64::new(u64::MAX);

extern "C" fn acknowledge(sig: i32) {
    fired(sig as u64).fetch_add(1, SeqCst);
    let b = [sig as u8];
    sys(1, [ACK.load(SeqCst), b.as_ptr() as u64, 1, 0, 0, 0]);
}

/// The state letter of `/proc/PID/stat`.
fn state(pid: i64) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rsplit_once(") ").map(|(_, r)| r).unwrap_or("?");
    rest.chars().next().unwrap_or('?')
}

/// The parent's side of a part: the child runs on the CPU while it is stopped and continued,
/// its `SIGTSTP` handler answers on `from_child`, and so does the child once `SIGUSR1` let it
/// go on. False if an answer did not come (in 60 s): the child is killed then.
fn jobctl_parent(c: &mut Checks, part: u32, child: i64, from_child: u64) -> bool {
    let mut k = Part(c, part);
    let heard = |k: &mut Part, what: &str, want: &[u8]| {
        let mut b = vec![0u8; want.len()];
        let mut pfd = [u64::from(from_child as u32) | 1 << 32];
        let ready = sys(7, [pfd.as_mut_ptr() as u64, 1, 60_000, 0, 0, 0]);
        let got = if ready == 1 {
            read(from_child, &mut b)
        } else {
            -ETIMEDOUT
        };
        k.eq(what, (got, &b[..]), (want.len() as i64, want));
        got > 0 || kill(child, 9) < 0
    };
    if !heard(&mut k, "the child is in its part", &[b'0' + part as u8]) {
        return false;
    }
    k.eq("SIGSTOP", kill(child, SIGSTOP), 0);
    let got = wait4(child, WUNTRACED);
    k.eq("wait4(WUNTRACED): stopped by SIGSTOP", got, (child, 0x137f));
    k.eq("its state is T", state(child), 'T');
    k.eq("SIGCONT", kill(child, SIGCONT), 0);
    let sigcont = [SIGCHLD as i32, CLD_CONTINUED, child as i32, SIGCONT as i32];
    let got = waitid(P_PID, child, WCONTINUED);
    k.eq("waitid(WCONTINUED): continued", got, (0, sigcont));
    k.ok("its state is not T", state(child) != 'T', || "T".into());
    k.eq("SIGTSTP", kill(child, SIGTSTP), 0);
    if !heard(&mut k, "it runs: its SIGTSTP handler ran", &[SIGTSTP as u8]) {
        return false;
    }
    let nothing = (0, [0; 4]);
    let got = waitid(P_PID, child, WUNTRACED | WNOHANG);
    k.eq("a caught SIGTSTP does not stop it", got, nothing);
    k.eq("SIGTTIN", kill(child, SIGTTIN), 0);
    let got = wait4(child, WUNTRACED);
    k.eq("stopped by SIGTTIN", got, (child, 0x157f));
    k.eq("its state is T again", state(child), 'T');
    k.eq("SIGCONT again", kill(child, SIGCONT), 0);
    let got = wait4(child, WCONTINUED);
    k.eq("wait4(WCONTINUED): continued", got, (child, 0xffff));
    k.eq("SIGUSR1 lets the child go on", kill(child, SIGUSR1), 0);
    // It went on, and caught SIGTSTP once.
    heard(&mut k, "it went on; SIGTSTP caught once", &[1, 1])
}

/// Set by the child's `SIGUSR1` handler: its parent lets it go on.
static GO: AtomicU32 = AtomicU32::new(0);

extern "C" fn go_on(_sig: i32) {
    GO.store(1, SeqCst);
}

/// The child's side: on the CPU while the parent stops and continues it, until `SIGUSR1`.
fn jobctl_child(part: u32, to_parent: u64) {
    fired(SIGTSTP).store(0, SeqCst);
    GO.store(0, SeqCst);
    write(to_parent, &[b'0' + part as u8]);
    while GO.load(SeqCst) == 0 {
        std::hint::spin_loop();
    }
    write(to_parent, &[1, fired(SIGTSTP).load(SeqCst) as u8]);
}

pub(super) fn case_jobctl(c: &mut Checks, dir: &str) {
    let (up_r, up_w) = pipe(0);
    // The child's handlers (it prints nothing itself: the parent reports what it sees).
    ACK.store(up_w, SeqCst);
    c.eq("SIGTSTP handler", super::catch(SIGTSTP, acknowledge), 0);
    c.eq("SIGUSR1 handler", super::catch(SIGUSR1, go_on), 0);
    flush();
    let child = sys(57, [0; 6]);
    if child == 0 {
        // A job of its own, as a shell makes it: its parent, in another group of the same
        // session, keeps the group from being orphaned (so SIGTTIN stops it).
        sys(109, [0; 6]);
        let _ = std::fs::write(format!("{dir}/pid"), pid().to_string());
        in_three_parts(c, dir, |_, part| jobctl_child(part, up_w));
        std::process::exit(0);
    }
    c.check("fork", child > 0, || format!("{child}"));
    if child < 0 {
        return;
    }
    // Its ends closed here, a child that died gives an end of file, not a wait.
    close(up_w);
    let _ = (0..3).all(|part| jobctl_parent(c, part, child, up_r));
    c.eq("the child ends well", wait4(child, 0), (child, 0));
    close(up_r);
}

// --- children ---------------------------------------------------------------------------------

/// How many times the `SIGCHLD` handler ran.
static CHLD: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_child(_sig: i32, _info: *const u8, _ctx: *const u8) {
    CHLD.fetch_add(1, SeqCst);
}

/// `SIGCHLD` caught by `on_child` with `SA_SIGINFO`, or ignored.
fn sigchld(caught: bool) -> i64 {
    let mut act = super::handler::action(super::count);
    if caught {
        act[0] = on_child as *const () as usize as u64;
        act[1] |= SA_SIGINFO;
    } else {
        act[0] = 1;
    }
    sys(13, [SIGCHLD, act.as_ptr() as u64, 0, 8, 0, 0])
}

/// A child that waits for a byte on a pipe, burns 30 ms of CPU and exits with `code`: its pid
/// and the pipe's writing end.
fn spawn(code: u64) -> (i64, u64) {
    let (r, w) = pipe(0);
    flush();
    let child = sys(57, [0; 6]);
    if child == 0 {
        close(w);
        let mut b = [0u8; 1];
        read(r, &mut b);
        let until = clock_ns(CLOCK_PROCESS_CPUTIME_ID) + 30 * MS;
        while clock_ns(CLOCK_PROCESS_CPUTIME_ID) < until {}
        sys(231, [code, 0, 0, 0, 0, 0]);
    }
    close(r);
    (child, w)
}

/// User and system time of the process's reaped children, in us.
fn children_us() -> i64 {
    let mut ru = [0i64; 18];
    sys(98, [u64::MAX, ru.as_mut_ptr() as u64, 0, 0, 0, 0]);
    ru[0] * 1_000_000 + ru[1] + ru[2] * 1_000_000 + ru[3]
}

fn children_round(c: &mut Checks, part: u32, kids: &[(i64, u64)], ignored: &[(i64, u64)]) {
    let mut k = Part(c, part);
    let (kid, w) = kids[part as usize];
    let nothing = (0, [0; 4]);
    let got = waitid(P_ALL, 0, WEXITED | WNOHANG);
    k.eq("waitid(WNOHANG): none ended", got, nothing);
    CHLD.store(0, SeqCst);
    let before = children_us();
    k.eq("let a child of part 0 end", write(w, b"x"), 1);
    close(w);
    let code = 10 + i32::try_from(part).unwrap_or(0);
    let ended = (0, [SIGCHLD as i32, CLD_EXITED, kid as i32, code]);
    let got = waitid(P_PID, kid, WEXITED | WNOWAIT);
    k.eq("waitid(WNOWAIT) sees it end", got, ended);
    let got = waitid(P_ALL, 0, WEXITED | WNOWAIT);
    k.eq("and leaves it to wait for", got, ended);
    let mut st = 0i32;
    let mut ru = [0i64; 18];
    let r = sys(
        61,
        [
            kid as u64,
            &mut st as *mut i32 as u64,
            0,
            ru.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    k.eq("wait4 reaps it with its status", (r, st), (kid, code << 8));
    let used = ru[0] * 1_000_000 + ru[1] + ru[2] * 1_000_000 + ru[3];
    let got = used >= 20_000;
    k.ok("with its CPU time", got, || format!("{used} us"));
    let grew = children_us() - before;
    k.ok("getrusage of children counts it", grew >= 20_000, || {
        format!("{grew} us")
    });
    k.eq("then ECHILD", wait4(kid, WNOHANG).0, -ECHILD);
    let mut waited = 0;
    while CHLD.load(SeqCst) == 0 && waited < 5000 {
        std::thread::sleep(Duration::from_millis(10));
        waited += 10;
    }
    k.eq("the SIGCHLD handler ran", CHLD.load(SeqCst), 1);
    // (What it saw, si_code CLD_EXITED, the child's pid and status: the handlers case.)
    // SIGCHLD ignored: the kernel reaps the child, and a wait for it ends with ECHILD.
    let (kid, w) = ignored[part as usize];
    k.eq("SIGCHLD ignored", sigchld(false), 0);
    write(w, b"x");
    close(w);
    let got = wait4(kid, 0).0;
    k.eq("a child that ends is reaped for it", got, -ECHILD);
    k.eq("SIGCHLD caught again", sigchld(true), 0);
    if part < 2 {
        return;
    }
    // Last (a moved process comes home to fork): a new child, which knows its parent.
    let me = pid();
    flush();
    let child = sys(57, [0; 6]);
    if child == 0 {
        let parent = sys(110, [0; 6]) as u64;
        sys(231, [if parent == me { 42 } else { 43 }, 0, 0, 0, 0, 0]);
    }
    k.ok("fork", child > 0, || format!("{child}"));
    k.eq(
        "the child knew its parent",
        wait4(child, 0),
        (child, 42 << 8),
    );
    k.eq("no child left", wait4(-1, WNOHANG).0, -ECHILD);
}

pub(super) fn case_children(c: &mut Checks, dir: &str) {
    c.eq("SIGCHLD handler", sigchld(true), 0);
    let kids: Vec<_> = (10..13).map(spawn).collect();
    let ignored: Vec<_> = (20..23).map(spawn).collect();
    let made = kids.iter().chain(&ignored).all(|k| k.0 > 0);
    c.check("fork six children", made, String::new);
    in_three_parts(c, dir, |c, part| children_round(c, part, &kids, &ignored));
}

// --- exec -------------------------------------------------------------------------------------

fn fd_flags(fd: i64) -> i64 {
    sys(72, [fd as u64, F_GETFD, 0, 0, 0, 0])
}

/// The action of `sig` (its handler word: 0 default, 1 ignored).
fn action_of(sig: u64) -> u64 {
    let mut old = [0u64; 4];
    sys(13, [sig, 0, old.as_mut_ptr() as u64, 8, 0, 0]);
    old[0]
}

/// Four descriptors of part `part`: kept (no flag), closed (`O_CLOEXEC`), kept (`O_CLOEXEC`
/// taken off by `F_SETFD`), closed (`FD_CLOEXEC` set by `F_SETFD`); each read from offset 5.
fn exec_round(c: &mut Checks, part: u32, dir: &str, fds: &mut Vec<i64>) {
    let mut k = Part(c, part);
    let mut mine = Vec::new();
    for (i, flags) in [0, O_CLOEXEC, O_CLOEXEC, 0].into_iter().enumerate() {
        let name = format!("{dir}/exec.{part}.{i}");
        let fd = open(&name, O_RDWR | O_CREAT | O_TRUNC | flags);
        write(fd.max(0) as u64, format!("part-{part}:{i}").as_bytes());
        sys(8, [fd.max(0) as u64, 5, 0, 0, 0, 0]);
        mine.push(fd);
    }
    let got = mine.iter().all(|&f| f >= 0);
    k.ok("open four files", got, || format!("{mine:?}"));
    let set = |fd: i64, v: u64| sys(72, [fd as u64, F_SETFD, v, 0, 0, 0]);
    let got = (set(mine[2], 0), set(mine[3], FD_CLOEXEC));
    k.eq("F_SETFD", got, (0, 0));
    let flags: Vec<i64> = mine.iter().map(|&f| fd_flags(f)).collect();
    k.eq("their close-on-exec flags", flags, vec![0, 1, 0, 1]);
    fds.extend(mine);
}

fn exec_after(c: &mut Checks, args: &[String]) {
    let want: Vec<i64> = args[4..].iter().map(|a| a.parse().unwrap_or(-1)).collect();
    let ids = [pid() as i64, sys(110, [0; 6])];
    c.eq(
        "after execve: the same pid and parent",
        ids,
        [want[1], want[2]],
    );
    let mut b = [0u8; 4096];
    let n = sys(79, [b.as_mut_ptr() as u64, b.len() as u64, 0, 0, 0, 0]);
    let cwd = String::from_utf8_lossy(&b[..(n.max(1) - 1) as usize]).into_owned();
    let at = format!("{}/cwd", args[2]);
    c.eq("after execve: the same working directory", cwd, at);
    for (k, fds) in want[3..].chunks(4).enumerate() {
        let mut got = Vec::new();
        for (i, &fd) in fds.iter().enumerate() {
            let mut b = [0u8; 8];
            let n = read(fd as u64, &mut b);
            got.push(
                String::from_utf8_lossy(&b[..n.max(0) as usize]).into_owned() + &n.to_string(),
            );
            if i % 2 == 0 {
                close(fd as u64);
            }
        }
        let closed = (-EBADF).to_string();
        let want = vec![format!("{k}:03"), closed.clone(), format!("{k}:23"), closed];
        c.eq(
            &format!("after execve: the descriptors of part {k}"),
            got,
            want,
        );
    }
    let blocked = super::blocked() >> (SIGUSR1 - 1) & 1;
    c.eq("after execve: SIGUSR1 still blocked", blocked, 1);
    c.eq("after execve: SIGPIPE still ignored", action_of(SIGPIPE), 1);
    let usr2 = action_of(SIGUSR2);
    c.eq(
        "after execve: the caught SIGUSR2 is back to its default",
        usr2,
        0,
    );
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let argv: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    c.eq(
        "after execve: /proc/self/cmdline: the new arguments",
        cmdline,
        argv,
    );
    let env = std::env::var("OMX_EXEC").ok();
    c.eq(
        "after execve: its environment",
        env.as_deref(),
        Some("again"),
    );
    if want[0] != 0 {
        c.check("before execve: every check passed", false, String::new);
    }
}

pub(super) fn case_exec(c: &mut Checks, dir: &str) {
    let args: Vec<String> = std::env::args().collect();
    if args.get(3).map(String::as_str) == Some("after") {
        return exec_after(c, &args);
    }
    let cwd = super::basics::cpath(&format!("{dir}/cwd"));
    sys(83, [cwd.as_ptr() as u64, 0o755, 0, 0, 0, 0]);
    c.eq("chdir", sys(80, [cwd.as_ptr() as u64, 0, 0, 0, 0, 0]), 0);
    let r = super::mask(super::SIG_BLOCK, 1 << (SIGUSR1 - 1));
    c.eq("block SIGUSR1", r, 0);
    let ign: [u64; 4] = [1, 0, 0, 0];
    let r = sys(13, [SIGPIPE, ign.as_ptr() as u64, 0, 8, 0, 0]);
    c.eq("ignore SIGPIPE", r, 0);
    c.eq("catch SIGUSR2", super::catch(SIGUSR2, super::count), 0);
    let mut fds = Vec::new();
    in_three_parts(c, dir, |c, part| exec_round(c, part, dir, &mut fds));
    // Last (a moved process comes home to exec): itself again, told what to find.
    let mut argv = vec![
        "omx-t".to_string(),
        "exec".into(),
        dir.into(),
        "after".into(),
    ];
    argv.push(u8::from(c.failed).to_string());
    argv.push(pid().to_string());
    argv.push(sys(110, [0; 6]).to_string());
    argv.extend(fds.iter().map(i64::to_string));
    let cargs: Vec<Vec<u8>> = argv.iter().map(|a| super::basics::cpath(a)).collect();
    let mut ptrs: Vec<u64> = cargs.iter().map(|a| a.as_ptr() as u64).collect();
    ptrs.push(0);
    let env = super::basics::cpath("OMX_EXEC=again");
    let envp = [env.as_ptr() as u64, 0];
    let exe = super::basics::cpath("/proc/self/exe");
    flush();
    let r = sys(
        59,
        [
            exe.as_ptr() as u64,
            ptrs.as_ptr() as u64,
            envp.as_ptr() as u64,
            0,
            0,
            0,
        ],
    );
    c.check("execve", false, || format!("{r}"));
}

// --- sched ------------------------------------------------------------------------------------

const SCHED_BATCH: u64 = 3;
const SCHED_IDLE: u64 = 5;
const SCHED_FIFO: u64 = 1;
const IOPRIO_WHO_PROCESS: u64 = 1;
const IOPRIO_CLASS_BE: i64 = 2 << 13;

fn setscheduler(policy: u64) -> i64 {
    let prio = 0i32;
    sys(144, [0, policy, &prio as *const i32 as u64, 0, 0, 0])
}

/// `sched_getattr` of itself: its policy and nice value.
fn getattr() -> (i64, u32, i32) {
    let mut a = [0u32; 14];
    let r = sys(315, [0, a.as_mut_ptr() as u64, 56, 0, 0, 0]);
    (r, a[1], a[4] as i32)
}

/// The nice value and policy in `/proc/self/stat`.
fn stat_sched() -> Option<(i64, i64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<&str> = s.rsplit_once(") ")?.1.split(' ').collect();
    Some((f.get(16)?.parse().ok()?, f.get(38)?.parse().ok()?))
}

fn sched_round(c: &mut Checks, part: u32) {
    let mut k = Part(c, part);
    let level = 4 + i64::from(part);
    let io = sys(252, [IOPRIO_WHO_PROCESS, 0, 0, 0, 0, 0]);
    let want = IOPRIO_CLASS_BE | level;
    k.eq("ioprio_get: as the last part left it", io, want);
    let mut param = -1i32;
    let got = sys(143, [0, &mut param as *mut i32 as u64, 0, 0, 0, 0]);
    k.eq("sched_getparam", (got, param), (0, 0));
    k.eq("sched_getattr", getattr().0, 0);
    let fifo = [SCHED_FIFO, 0, 0, 0, 0, 0];
    let range = (sys(146, fifo), sys(147, fifo));
    k.eq("SCHED_FIFO's priorities", range, (99, 1));
    let got = sys(146, [SCHED_BATCH, 0, 0, 0, 0, 0]);
    k.eq("SCHED_BATCH's priorities", got, 0);
    k.eq("sched_yield", sys(24, [0; 6]), 0);
    // What the home shows of it (fields 19 and 41 of /proc/self/stat: nice, policy). (The
    // policy and the nice value are not checked where it runs: moved, its own
    // sched_setscheduler and setpriority fail with ENOSYS, sched_getscheduler and
    // sched_getattr answer the host's SCHED_OTHER, nice 0.)
    let got = stat_sched();
    k.eq("/proc/self/stat: nice 1 and SCHED_BATCH", got, Some((1, 3)));
    let next = (IOPRIO_CLASS_BE | (level + 1)) as u64;
    let got = sys(251, [IOPRIO_WHO_PROCESS, 0, next, 0, 0, 0]);
    k.eq("ioprio_set for the next part", got, 0);
}

pub(super) fn case_sched(c: &mut Checks, dir: &str) {
    c.eq("SCHED_BATCH", setscheduler(SCHED_BATCH), 0);
    c.eq("sched_getscheduler", sys(145, [0; 6]), SCHED_BATCH as i64);
    c.eq("SCHED_IDLE", setscheduler(SCHED_IDLE), 0);
    c.eq("sched_getattr: SCHED_IDLE", getattr().1, SCHED_IDLE as u32);
    c.eq("SCHED_BATCH again", setscheduler(SCHED_BATCH), 0);
    c.eq("a bad policy: EINVAL", setscheduler(77), -EINVAL);
    c.eq("nice 1", sys(141, [0, 0, 1, 0, 0, 0]), 0);
    c.eq("getpriority", sys(140, [0; 6]), 19);
    c.eq("sched_getattr's nice", getattr().2, 1);
    let io = (IOPRIO_CLASS_BE | 4) as u64;
    let r = sys(251, [IOPRIO_WHO_PROCESS, 0, io, 0, 0, 0]);
    c.eq("ioprio_set", r, 0);
    in_three_parts(c, dir, sched_round);
}

// --- futex ------------------------------------------------------------------------------------

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_PRIVATE: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

static WORD: AtomicU32 = AtomicU32::new(7);

fn futex(op: u64, val: u64, ts: Option<&[u64; 2]>, bits: u64) -> i64 {
    let t = ts.map_or(0, |t| t.as_ptr() as u64);
    sys(202, [WORD.as_ptr() as u64, op, val, t, 0, bits])
}

fn futex_round(c: &mut Checks, part: u32) {
    let mut k = Part(c, part);
    let got = futex(FUTEX_WAIT, 8, None, 0);
    k.eq("FUTEX_WAIT on another value: EAGAIN", got, -EAGAIN);
    let t0 = clock_ns(CLOCK_MONOTONIC);
    let r = futex(FUTEX_WAIT | FUTEX_PRIVATE, 7, Some(&[0, 20 * MS]), 0);
    let took = clock_ns(CLOCK_MONOTONIC) - t0;
    k.eq("FUTEX_WAIT times out", r, -ETIMEDOUT);
    let got = took >= 20 * MS;
    k.ok("after its 20 ms", got, || format!("{took} ns"));
    let now = clock_ns(CLOCK_REALTIME) + 20 * MS;
    let at = [now / 1_000_000_000, now % 1_000_000_000];
    let op = FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME;
    let got = futex(op, 7, Some(&at), 1);
    let want = -ETIMEDOUT;
    k.eq("FUTEX_WAIT_BITSET at a time of CLOCK_REALTIME", got, want);
    let got = clock_ns(CLOCK_REALTIME) >= now;
    k.ok("not before it", got, String::new);
    let got = futex(op, 7, Some(&at), 0);
    k.eq("an empty bit set: EINVAL", got, -EINVAL);
    let got = futex(FUTEX_WAKE, 1, None, 0);
    k.eq("FUTEX_WAKE with no waiter", got, 0);
    // Interrupted by a signal of an interval timer (at home, for a moved process).
    fired(SIGALRM).store(0, SeqCst);
    let it: [u64; 4] = [0, 0, 0, 30_000];
    sys(38, [0, it.as_ptr() as u64, 0, 0, 0, 0]);
    let got = futex(FUTEX_WAIT, 7, Some(&[5, 0]), 0);
    k.eq("FUTEX_WAIT interrupted by a signal: EINTR", got, -EINTR);
    k.eq("its handler ran", fired(SIGALRM).load(SeqCst), 1);
    // futex_waitv: one waiter, 32-bit, on another value.
    let waiter: [u64; 3] = [8, WORD.as_ptr() as u64, 2 | FUTEX_PRIVATE];
    let got = sys(449, [waiter.as_ptr() as u64, 1, 0, 0, 0, 0]);
    k.eq("futex_waitv on another value: EAGAIN", got, -EAGAIN);
    WORD.store(8 + part, SeqCst);
    let got = futex(FUTEX_WAIT, 8 + u64::from(part), Some(&[0, MS]), 0);
    k.eq("FUTEX_WAIT on the new value times out", got, -ETIMEDOUT);
    WORD.store(7, SeqCst);
    // set_tid_address answers its tid, the one gettid gives (at home, wherever it runs).
    let got = sys(218, [TID_WORD.as_ptr() as u64, 0, 0, 0, 0, 0]);
    k.eq("set_tid_address answers its tid", got, sys(186, [0; 6]));
}

/// Where the kernel clears the (main) thread's tid as it exits (`set_tid_address`).
static TID_WORD: AtomicU32 = AtomicU32::new(0);

pub(super) fn case_futex(c: &mut Checks, dir: &str) {
    c.eq("SIGALRM handler", super::catch(SIGALRM, super::count), 0);
    in_three_parts(c, dir, futex_round);
}

// --- sleeps -----------------------------------------------------------------------------------

/// An `ITIMER_REAL` of `ms` (it runs at home for a moved process; its signal comes here).
fn alarm_in(ms: u64) {
    let it: [u64; 4] = [0, 0, 0, ms * 1000];
    sys(38, [0, it.as_ptr() as u64, 0, 0, 0, 0]);
}

fn times() -> i64 {
    let mut t = [0u64; 4];
    sys(100, [t.as_mut_ptr() as u64, 0, 0, 0, 0, 0])
}

fn sleeps_round(c: &mut Checks, part: u32, last_times: &mut i64) {
    let mut k = Part(c, part);
    let t0 = times();
    k.ok("times never goes back", t0 >= *last_times, || {
        format!("{t0} after {last_times}")
    });
    // nanosleep of 5 s interrupted after 50 ms: EINTR, and the time left.
    fired(SIGALRM).store(0, SeqCst);
    alarm_in(50);
    let req: [u64; 2] = [5, 0];
    let mut rem = [0u64; 2];
    let r = sys(
        35,
        [req.as_ptr() as u64, rem.as_mut_ptr() as u64, 0, 0, 0, 0],
    );
    k.eq("nanosleep interrupted: EINTR", r, -EINTR);
    let left = rem[0] * 1000 + rem[1] / 1_000_000;
    let got = (3000..4960).contains(&left);
    k.ok("with the time left", got, || format!("{left} ms"));
    k.eq("the timer's handler ran", fired(SIGALRM).load(SeqCst), 1);
    alarm_in(50);
    let r = sys(
        230,
        [
            CLOCK_MONOTONIC,
            0,
            req.as_ptr() as u64,
            rem.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    k.eq("clock_nanosleep interrupted: EINTR", r, -EINTR);
    let left = rem[0] * 1000 + rem[1] / 1_000_000;
    let got = (3000..4960).contains(&left);
    k.ok("with the time left", got, || format!("{left} ms"));
    // Absolute sleeps on the clocks that do not move with the process.
    for (name, clock) in [("CLOCK_REALTIME", CLOCK_REALTIME), ("CLOCK_TAI", CLOCK_TAI)] {
        let until = clock_ns(clock) + 30 * MS;
        let at = [until / 1_000_000_000, until % 1_000_000_000];
        let r = sys(230, [clock, TIMER_ABSTIME, at.as_ptr() as u64, 0, 0, 0]);
        k.eq(&format!("an absolute sleep on {name}"), r, 0);
        let now = clock_ns(clock);
        let got = now >= until;
        k.ok("ends at its time, not before", got, || {
            format!("{} ns early", until - now)
        });
    }
    let bad: [u64; 2] = [0, 2_000_000_000];
    let got = sys(35, [bad.as_ptr() as u64, 0, 0, 0, 0, 0]);
    k.eq("nanoseconds out of range: EINVAL", got, -EINVAL);
    let ok: [u64; 2] = [0, MS];
    let r = sys(
        230,
        [CLOCK_THREAD_CPUTIME_ID, 0, ok.as_ptr() as u64, 0, 0, 0],
    );
    k.eq(
        "clock_nanosleep on a thread's CPU clock: EOPNOTSUPP",
        r,
        -EOPNOTSUPP,
    );
    let mut res = [9u64; 2];
    let r = sys(229, [CLOCK_MONOTONIC, res.as_mut_ptr() as u64, 0, 0, 0, 0]);
    k.eq("clock_getres of CLOCK_MONOTONIC", (r, res), (0, [0, 1]));
    let got = sys(229, [99, res.as_mut_ptr() as u64, 0, 0, 0, 0]);
    k.eq("clock_getres of no clock: EINVAL", got, -EINVAL);
    // select with no descriptor as a sleep of 40 ms: it writes back the time left, none.
    let mut tv: [u64; 2] = [0, 40_000];
    let t1 = clock_ns(CLOCK_MONOTONIC);
    let got = sys(23, [0, 0, 0, 0, tv.as_mut_ptr() as u64, 0]);
    k.eq("select as a sleep", got, 0);
    let took = clock_ns(CLOCK_MONOTONIC) - t1;
    k.ok("of 40 ms", took >= 40 * MS, || format!("{took} ns"));
    k.eq("no time left", tv, [0, 0]);
    // times counts in ticks of 10 ms what this part slept (over 200 ms).
    let t1 = times();
    let got = t1 >= t0 + 15;
    k.ok("times counts the sleeps", got, || format!("{t0} -> {t1}"));
    *last_times = t1;
}

pub(super) fn case_sleeps(c: &mut Checks, dir: &str) {
    c.eq("SIGALRM handler", super::catch(SIGALRM, super::count), 0);
    let mut last = 0;
    in_three_parts(c, dir, |c, part| sleeps_round(c, part, &mut last));
}
