// SPDX-License-Identifier: GPL-2.0

//! The guest stub (`omx-guest`): what a host runs for each process that migrates to it.
//!
//! The module starts this program as a user-mode helper. It reads from `/proc/openmosix/guest`
//! where the migrating process had its vDSO, moves its own vDSO there (only a process can do that
//! to itself, with `arch_prctl(ARCH_MAP_VDSO_64)`), then writes `restore`: inside that write the
//! module replaces this program's memory, registers and signal state with the process's, and the
//! write "returns" into the migrated process. Nothing after the write runs unless it failed.
//!
//! First, as root still, it enters a time namespace of its own whose `CLOCK_MONOTONIC` and
//! `CLOCK_BOOTTIME` offsets (from the same file) continue the process's clocks from where they
//! stood when it was captured: a node that booted later has its own far behind.
//!
//! Before that write it gives up root, with the ordinary system calls, so that the kernel does
//! the accounting: it empties its capability bounding and ambient sets, drops its supplementary
//! groups, becomes `nobody` (uid and gid 65534, real, effective and saved: `setresuid` moves it
//! to that user's process count and `ucounts`, and empties its permitted and effective
//! capabilities) and empties its inheritable set. The image is so restored by an unprivileged
//! task: the kernel refuses it what it refuses any user's process (page 0 and everything below
//! `vm.mmap_min_addr`, among others). Then it confines itself, and so the guest it becomes, with
//! the seccomp filter of `omcore::seccomp` (no new privileges, then the filter): the 32-bit and
//! x32 ABIs and every call the module's hooks do not route fail with `ENOSYS` in the kernel,
//! whatever the hooks do. The module refuses the restore of a stub that kept a privilege or has
//! no filter. `/proc/openmosix/guest` is opened for writing while the stub is still root (the
//! file is root's, mode 0600).

use std::process::ExitCode;

const GUEST: &str = "/proc/openmosix/guest";
const SPECIAL: [&str; 3] = ["[vdso]", "[vvar]", "[vvar_vclock]"];
/// User and group a guest runs as: `nobody`.
const NOBODY: u32 = 65534;
/// Exit status when the vDSO cannot be placed (the area is in use by the stub itself).
const EX_TEMPFAIL: u8 = 75;

/// Raw system calls the standard library does not offer.
pub(crate) mod sys {
    use omcore::seccomp;

    const SYS_MUNMAP: usize = 11;
    const SYS_SETRESUID: usize = 117;
    const SYS_SETGROUPS: usize = 116;
    const SYS_SETRESGID: usize = 119;
    const SYS_CAPSET: usize = 126;
    const SYS_PRCTL: usize = 157;
    const SYS_ARCH_PRCTL: usize = 158;
    const SYS_SECCOMP: usize = 317;
    const SYS_UNSHARE: usize = 272;
    const SYS_SETNS: usize = 308;
    /// `CLONE_NEWTIME`.
    const CLONE_NEWTIME: usize = 0x80;
    const ARCH_MAP_VDSO_64: usize = 0x2003;
    const PR_CAPBSET_DROP: usize = 24;
    const PR_SET_NO_NEW_PRIVS: usize = 38;
    const PR_CAP_AMBIENT: usize = 47;
    const PR_CAP_AMBIENT_CLEAR_ALL: usize = 4;
    const SECCOMP_SET_MODE_FILTER: usize = 1;
    const EINVAL: isize = -22;
    /// `_LINUX_CAPABILITY_VERSION_3`.
    const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

    fn syscall3(nr: usize, a: usize, b: usize, c: usize) -> isize {
        // SAFETY: the calls made here (munmap of the vDSO, mapping a new vDSO, prctl,
        // setgroups with no groups, setresgid, setresuid, capset, seccomp, unshare and setns of
        // a time namespace) touch no memory this program uses but the filter program and the
        // capability header and data they are lent, which outlive the call.
        unsafe { crate::raw::syscall(nr, a, b, c) }
    }

    fn syscall2(nr: usize, a: usize, b: usize) -> isize {
        syscall3(nr, a, b, 0)
    }

    /// `struct sock_fprog`.
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const u8,
    }

    /// Confines this process with the guest filter of `omcore::seccomp`; the error says why
    /// not.
    pub(super) fn confine() -> Result<(), String> {
        let mut prog = [seccomp::SockFilter::default(); seccomp::MAX_LEN];
        let n = seccomp::guest_filter(&mut prog).ok_or("the guest filter does not fit")?;
        let bytes: Vec<u8> = prog[..n].iter().flat_map(seccomp::encode).collect();
        let fprog = SockFprog {
            len: u16::try_from(n).map_err(|_| "the guest filter is too long")?,
            filter: bytes.as_ptr(),
        };
        let r = syscall3(SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0);
        if r != 0 {
            return Err(format!("no_new_privs: {r}"));
        }
        let r = syscall3(
            SYS_SECCOMP,
            SECCOMP_SET_MODE_FILTER,
            0,
            std::ptr::from_ref(&fprog) as usize,
        );
        if r != 0 {
            return Err(format!("seccomp filter: {r}"));
        }
        Ok(())
    }

    /// `struct __user_cap_header_struct`.
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }

    /// `struct __user_cap_data_struct`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    /// Gives up root for good: no capability in any set, no supplementary group, and user
    /// `uid` and group `gid` as real, effective and saved ids (the file system ids follow). The
    /// error says which step failed.
    pub(crate) fn become_unprivileged(uid: u32, gid: u32) -> Result<(), String> {
        // The bounding set, while CAP_SETPCAP is still there: every capability up to the first
        // number this kernel does not know.
        for cap in 0..64 {
            match syscall3(SYS_PRCTL, PR_CAPBSET_DROP, cap, 0) {
                0 => {}
                EINVAL if cap > 0 => break,
                r => {
                    return Err(format!(
                        "dropping capability {cap} from the bounding set: {r}"
                    ))
                }
            }
        }
        let r = syscall3(SYS_PRCTL, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0);
        if r != 0 {
            return Err(format!("clearing the ambient capabilities: {r}"));
        }
        let (u, g) = (uid as usize, gid as usize);
        for (nr, a, name) in [
            (SYS_SETGROUPS, [0, 0, 0], "setgroups"),
            (SYS_SETRESGID, [g, g, g], "setresgid"),
            (SYS_SETRESUID, [u, u, u], "setresuid"),
        ] {
            let r = syscall3(nr, a[0], a[1], a[2]);
            if r != 0 {
                return Err(format!("{name}: {r}"));
            }
        }
        // setresuid emptied the permitted and effective sets; the inheritable one is left.
        let mut header = CapHeader {
            version: CAPABILITY_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        let r = syscall3(
            SYS_CAPSET,
            std::ptr::from_mut(&mut header) as usize,
            data.as_ptr() as usize,
            0,
        );
        if r != 0 {
            return Err(format!("capset: {r}"));
        }
        Ok(())
    }

    /// Unmaps `[start, end)`.
    pub(super) fn munmap(start: usize, end: usize) -> isize {
        syscall2(SYS_MUNMAP, start, end - start)
    }

    /// Makes a new time namespace for this process's children (`unshare(CLONE_NEWTIME)`).
    pub(super) fn unshare_time() -> isize {
        syscall2(SYS_UNSHARE, CLONE_NEWTIME, 0)
    }

    /// Moves this process into the time namespace that descriptor `fd` names.
    pub(super) fn enter_time(fd: i32) -> isize {
        syscall2(SYS_SETNS, fd as usize, CLONE_NEWTIME)
    }

    /// Maps the vDSO (its data pages first) at `addr`.
    pub(super) fn map_vdso(addr: usize) -> isize {
        syscall2(SYS_ARCH_PRCTL, ARCH_MAP_VDSO_64, addr)
    }
}

/// One line of `/proc/self/maps`: start, end, whether it is a special mapping, whether it is
/// the vDSO text.
fn maps() -> Result<Vec<(usize, usize, bool, bool)>, String> {
    let text = std::fs::read_to_string("/proc/self/maps").map_err(|e| e.to_string())?;
    let mut v = Vec::new();
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let range = f.next().ok_or("bad maps line")?;
        let (a, b) = range.split_once('-').ok_or("bad maps range")?;
        let a = usize::from_str_radix(a, 16).map_err(|e| e.to_string())?;
        let b = usize::from_str_radix(b, 16).map_err(|e| e.to_string())?;
        let name = f.nth(4).unwrap_or("");
        v.push((a, b, SPECIAL.contains(&name), name == "[vdso]"));
    }
    Ok(v)
}

/// What `/proc/openmosix/guest` says: the vDSO's address, and the lines of
/// `/proc/PID/timens_offsets` that continue the process's clocks.
fn guest_info() -> Result<(usize, String), (String, u8)> {
    let fail = |s: String| (s, 1);
    let info = std::fs::read_to_string(GUEST).map_err(|e| fail(format!("{GUEST}: {e}")))?;
    let mut lines = info.lines();
    let target = lines
        .next()
        .and_then(|l| l.strip_prefix("vdso 0x"))
        .and_then(|h| usize::from_str_radix(h, 16).ok())
        .ok_or_else(|| fail(format!("{GUEST}: unexpected '{}'", info.trim())))?;
    let mut offsets = String::new();
    for l in lines {
        let mut f = l.split(' ');
        let ok = matches!(f.next(), Some("monotonic" | "boottime"))
            && f.next().is_some_and(|s| s.parse::<i64>().is_ok())
            && f.next()
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n < 1_000_000_000))
            && f.next().is_none();
        if !ok {
            return Err(fail(format!("{GUEST}: unexpected '{l}'")));
        }
        offsets.push_str(l);
        offsets.push('\n');
    }
    Ok((target, offsets))
}

/// Enters a time namespace of its own whose `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` go on from
/// where the process's stood at home (or on its last host): the namespace is made for the
/// children (`unshare`), given its offsets before anything is in it, and entered (`setns`,
/// which also points the vDSO's clock data at it). The error says why not.
fn enter_time_namespace(offsets: &str) -> Result<(), String> {
    if sys::unshare_time() != 0 {
        return Err("cannot make a time namespace".into());
    }
    std::fs::write("/proc/self/timens_offsets", offsets)
        .map_err(|e| format!("timens_offsets: {e}"))?;
    let ns = std::fs::File::open("/proc/self/ns/time_for_children")
        .map_err(|e| format!("time_for_children: {e}"))?;
    let r = sys::enter_time(std::os::fd::AsRawFd::as_raw_fd(&ns));
    if r != 0 {
        return Err(format!("cannot enter the time namespace: {r}"));
    }
    Ok(())
}

/// Moves this process's vDSO (with its data pages) so that its text is at `target` (0: none).
pub(crate) fn place_vdso(target: usize) -> Result<(), (String, u8)> {
    let fail = |s: String| (s, 1);
    let maps = maps().map_err(fail)?;
    let special: Vec<_> = maps.iter().filter(|m| m.2).collect();
    let vdso_text = maps.iter().find(|m| m.3).map(|m| m.0);
    let (Some(low), Some(high), Some(text)) = (
        special.iter().map(|m| m.0).min(),
        special.iter().map(|m| m.1).max(),
        vdso_text,
    ) else {
        return Err(fail("this node's vDSO not found".into()));
    };
    let base = target.wrapping_sub(text - low);
    if target != 0 && base == low {
        return Ok(());
    }
    if target != 0 {
        let end = base + (high - low);
        if maps.iter().any(|m| !m.2 && m.0 < end && base < m.1) {
            return Err((format!("vDSO area {base:#x} in use here"), EX_TEMPFAIL));
        }
    }
    for m in &special {
        if sys::munmap(m.0, m.1) != 0 {
            return Err(fail("cannot unmap this node's vDSO".into()));
        }
    }
    if target != 0 {
        // Returns the vDSO's size on success.
        let r = sys::map_vdso(base);
        if r < 0 {
            return Err(fail(format!("cannot map the vDSO at {base:#x}: {r}")));
        }
    }
    Ok(())
}

/// The kernel log, opened on first use; [`main`] uses it first while the stub is still root
/// (`/dev/kmsg` is root's), so that failures after the stub dropped root are reported too.
fn kmsg() -> Option<&'static std::fs::File> {
    static KMSG: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    KMSG.get_or_init(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/kmsg")
            .ok()
    })
    .as_ref()
}

/// Reports a failure in the kernel log (a user-mode helper has no terminal).
fn log(msg: &str) {
    eprintln!("omx-guest: {msg}");
    if let Some(mut f) = kmsg() {
        let _ = std::io::Write::write_all(&mut f, format!("<4>omx-guest: {msg}\n").as_bytes());
    }
}

/// Entry point when called as `omx-guest`.
pub(crate) fn main() -> ExitCode {
    let _ = kmsg();
    let (target, offsets) = match guest_info() {
        Ok(i) => i,
        Err((e, code)) => {
            log(&e);
            return ExitCode::from(code);
        }
    };
    // Without it (a kernel without time namespaces) the process goes on with this node's
    // clocks, which may be behind the ones it read before.
    if !offsets.is_empty() {
        if let Err(e) = enter_time_namespace(&offsets) {
            log(&format!("clocks not continued: {e}"));
        }
    }
    if let Err((e, code)) = place_vdso(target) {
        log(&e);
        return ExitCode::from(code);
    }
    // Opened while root (the file is root's, mode 0600), before the filter: what follows the
    // filter makes only calls it allows.
    let mut guest = match std::fs::OpenOptions::new().write(true).open(GUEST) {
        Ok(f) => f,
        Err(e) => {
            log(&format!("{GUEST}: {e}"));
            return ExitCode::from(1);
        }
    };
    if let Err(e) = sys::become_unprivileged(NOBODY, NOBODY) {
        log(&format!("cannot drop privileges: {e}"));
        return ExitCode::from(1);
    }
    if let Err(e) = sys::confine() {
        log(&format!("cannot confine the guest: {e}"));
        return ExitCode::from(1);
    }
    // On success this write returns into the migrated process and nothing below runs.
    if let Err(e) = std::io::Write::write_all(&mut guest, b"restore") {
        log(&format!("restore refused: {e}"));
    }
    ExitCode::from(1)
}
