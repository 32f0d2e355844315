// SPDX-License-Identifier: GPL-2.0

//! Guests are not the host's processes: the host's own processes neither find them in `/proc`
//! nor reach them by pid (openMosix semantics). This module holds the two pure parts of that:
//! which arguments of a call name a process, and the filter over a `getdents64` listing.

use super::syscalls::nr;

/// `getdents64`.
pub const GETDENTS64: u32 = nr::GETDENTS64;

/// The pids (> 0) that call `nr` with arguments `args` names as its target: signals, tracing,
/// scheduling, limits and memory of another process. Calls that name no process yield none.
pub fn named_pids(nr: u32, args: &[u64; 6]) -> impl Iterator<Item = i32> {
    let idx: &[usize] = match nr {
        // A pid in the first argument.
        nr::KILL
        | nr::TKILL
        | nr::RT_SIGQUEUEINFO
        | nr::PIDFD_OPEN
        | nr::PROCESS_VM_READV
        | nr::PROCESS_VM_WRITEV
        | nr::PRLIMIT64
        | nr::SCHED_SETPARAM
        | nr::SCHED_GETPARAM
        | nr::SCHED_SETSCHEDULER
        | nr::SCHED_GETSCHEDULER
        | nr::SCHED_SETAFFINITY
        | nr::SCHED_GETAFFINITY
        | nr::SCHED_SETATTR
        | nr::SCHED_GETATTR
        | nr::GETPGID
        | nr::GETSID
        | nr::SETPGID
        | nr::MIGRATE_PAGES
        | nr::MOVE_PAGES => &[0],
        // Two pids, the first two arguments.
        nr::TGKILL | nr::RT_TGSIGQUEUEINFO | nr::KCMP => &[0, 1],
        // ptrace(request, pid, ...).
        nr::PTRACE => &[1],
        // getpriority, setpriority, ioprio_get, ioprio_set (which, who): PRIO_PROCESS and
        // IOPRIO_WHO_PROCESS name a process (IOPRIO_WHO_PROCESS is 1, PRIO_PROCESS 0).
        nr::GETPRIORITY | nr::SETPRIORITY if args[0] == 0 => &[1],
        nr::IOPRIO_SET | nr::IOPRIO_GET if args[0] == 1 => &[1],
        _ => &[],
    };
    let args = *args;
    idx.iter().map(move |&i| args[i] as i32).filter(|&p| p > 0)
}

/// Whether call `nr` with `args` is `kill(-1, sig)`: every process the caller may signal.
pub fn is_kill_all(nr: u32, args: &[u64; 6]) -> bool {
    nr == nr::KILL && args[0] as i32 == -1
}

const DIRENT_NAME: usize = 19;

/// The pid a `/proc` entry name spells, if it is one (decimal, no sign, no leading zero).
fn pid_name(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 || name[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &c in name {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    i32::try_from(v).ok()
}

/// Removes from `buf`, a `getdents64` result (`struct linux_dirent64` records), the entries whose
/// names are pids for which `hidden` holds, closing the gaps; returns the new length. An entry
/// kept before a removed one takes the removed one's `d_off` (its position after it), so a
/// `seekdir` to it does not list the removed one. A malformed listing is left as it is (`None`).
pub fn filter_dirents(buf: &mut [u8], hidden: impl Fn(i32) -> bool) -> Option<usize> {
    // Check the whole listing first: nothing is changed unless every record is sound.
    let mut at = 0;
    while at < buf.len() {
        let reclen = usize::from(u16::from_ne_bytes([*buf.get(at + 16)?, *buf.get(at + 17)?]));
        if reclen < DIRENT_NAME + 1 || at + reclen > buf.len() {
            return None;
        }
        buf[at + DIRENT_NAME..at + reclen]
            .iter()
            .position(|&c| c == 0)?;
        at += reclen;
    }
    let (mut read, mut write) = (0, 0);
    let mut last_kept: Option<usize> = None;
    while read < buf.len() {
        let reclen = usize::from(u16::from_ne_bytes([buf[read + 16], buf[read + 17]]));
        let name = &buf[read + DIRENT_NAME..read + reclen];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        if pid_name(name).is_some_and(&hidden) {
            if let Some(k) = last_kept {
                let (off, _) = buf.split_at_mut(read + 16);
                let mut d_off = [0u8; 8];
                d_off.copy_from_slice(&off[read + 8..read + 16]);
                off[k + 8..k + 16].copy_from_slice(&d_off);
            }
        } else {
            buf.copy_within(read..read + reclen, write);
            last_kept = Some(write);
            write += reclen;
        }
        read += reclen;
    }
    Some(write)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn listing(names: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let reclen = (DIRENT_NAME + n.len() + 1).next_multiple_of(8);
            let at = v.len();
            v.resize(at + reclen, 0);
            v[at..at + 8].copy_from_slice(&(100 + i as u64).to_ne_bytes());
            v[at + 8..at + 16].copy_from_slice(&(i as i64 + 1).to_ne_bytes());
            v[at + 16..at + 18].copy_from_slice(&(reclen as u16).to_ne_bytes());
            v[at + 18] = 4;
            v[at + DIRENT_NAME..at + DIRENT_NAME + n.len()].copy_from_slice(n.as_bytes());
        }
        v
    }

    fn names(buf: &[u8]) -> Vec<(std::string::String, i64)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            let name = &buf[at + DIRENT_NAME..at + reclen];
            let end = name.iter().position(|&c| c == 0).unwrap();
            let off = i64::from_ne_bytes(buf[at + 8..at + 16].try_into().unwrap());
            out.push((
                std::string::String::from_utf8(name[..end].to_vec()).unwrap(),
                off,
            ));
            at += reclen;
        }
        out
    }

    #[test]
    fn hidden_pids_leave_the_listing() {
        let mut b = listing(&["1", "self", "42", "4242", "cpuinfo", "042", "7"]);
        let n = filter_dirents(&mut b, |p| p == 42 || p == 7).unwrap();
        let left = names(&b[..n]);
        let want = [
            ("1", 1),
            ("self", 3),
            ("4242", 4),
            ("cpuinfo", 5),
            ("042", 7),
        ];
        assert_eq!(left.len(), want.len());
        for ((name, off), (wn, wo)) in left.iter().zip(want) {
            assert_eq!((name.as_str(), *off), (wn, wo));
        }
        // Nothing hidden: unchanged.
        let orig = listing(&["1", "2"]);
        let mut b = orig.clone();
        assert_eq!(filter_dirents(&mut b, |_| false), Some(orig.len()));
        assert_eq!(b, orig);
        // Everything hidden: empty.
        let mut b = listing(&["5", "6"]);
        assert_eq!(filter_dirents(&mut b, |_| true), Some(0));
    }

    #[test]
    fn malformed_listings_are_left_alone() {
        let orig = listing(&["1", "2", "3"]);
        // A record running past the end, one too short, a name without its NUL, a cut header.
        for (at, v) in [(16usize, 200u16), (16, 8), (16, 19)] {
            let mut b = orig.clone();
            b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
            assert_eq!(filter_dirents(&mut b, |_| true), None);
        }
        let mut b = orig.clone();
        let reclen = usize::from(u16::from_ne_bytes([b[16], b[17]]));
        for c in &mut b[DIRENT_NAME..reclen] {
            *c = b'9';
        }
        assert_eq!(filter_dirents(&mut b, |_| true), None);
        let mut b = orig[..orig.len() - 3].to_vec();
        assert_eq!(filter_dirents(&mut b, |_| true), None);
        let mut b = orig[..10].to_vec();
        assert_eq!(filter_dirents(&mut b, |_| true), None);
    }

    #[test]
    fn calls_naming_processes() {
        let a = [42, 43, 0, 0, 0, 0];
        let p = |nr| named_pids(nr, &a).collect::<Vec<_>>();
        assert_eq!(p(62), [42]); // kill
        assert_eq!(p(234), [42, 43]); // tgkill
        assert_eq!(p(101), [43]); // ptrace
        assert_eq!(p(0), [] as [i32; 0]); // read
        assert_eq!(named_pids(62, &[0, 9, 0, 0, 0, 0]).count(), 0); // kill(0): own group
        assert_eq!(named_pids(62, &[(-1i64) as u64, 9, 0, 0, 0, 0]).count(), 0);
        // getpriority(PRIO_PROCESS, 42) names it; PRIO_USER does not.
        assert_eq!(
            named_pids(140, &[0, 42, 0, 0, 0, 0]).collect::<Vec<_>>(),
            [42]
        );
        assert_eq!(named_pids(140, &[2, 42, 0, 0, 0, 0]).count(), 0);
        assert!(is_kill_all(62, &[(-1i64) as u64, 15, 0, 0, 0, 0]));
        assert!(is_kill_all(62, &[0xffff_ffff, 15, 0, 0, 0, 0]));
        assert!(!is_kill_all(62, &[1, 15, 0, 0, 0, 0]));
        assert!(!is_kill_all(200, &[(-1i64) as u64, 15, 0, 0, 0, 0]));
        assert_eq!(pid_name(b"12"), Some(12));
        assert_eq!(pid_name(b"99999999999"), None);
        assert_eq!(pid_name(b""), None);
    }
}
