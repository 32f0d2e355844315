// SPDX-License-Identifier: GPL-2.0

//! The files of `/proc` in which a process sees its own memory: `maps`, `smaps`,
//! `smaps_rollup`, `statm`, `cmdline`, `environ` and `auxv`. A guest's memory is on its host,
//! so a guest that opens one of them by an absolute path naming itself (`/proc/self/F`,
//! `/proc/thread-self/F`, `/proc/PID/F` or `/proc/PID/task/PID/F` with its home pid) gets the
//! host's view of its own memory, not its deputy's (the rest of `/proc/self`, its ids,
//! descriptors, directories and program, is the home's and is forwarded like any path).
//! `status` is both: the home's, with the lines of its memory from the host
//! ([`merged_status`]).

/// A file of its own memory, by the name it has under `/proc/PID/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnProc {
    /// `maps`.
    Maps,
    /// `smaps`.
    Smaps,
    /// `smaps_rollup`.
    SmapsRollup,
    /// `statm`.
    Statm,
    /// `cmdline`.
    Cmdline,
    /// `environ`.
    Environ,
    /// `auxv`.
    Auxv,
    /// `status`: the home's, with the memory lines of the host's ([`merged_status`]).
    Status,
}

impl OwnProc {
    const ALL: [Self; 8] = [
        Self::Maps,
        Self::Smaps,
        Self::SmapsRollup,
        Self::Statm,
        Self::Cmdline,
        Self::Environ,
        Self::Auxv,
        Self::Status,
    ];

    /// Its name under `/proc/PID/`, with a NUL after it.
    pub fn name_nul(self) -> &'static [u8] {
        match self {
            Self::Maps => b"maps\0",
            Self::Smaps => b"smaps\0",
            Self::SmapsRollup => b"smaps_rollup\0",
            Self::Statm => b"statm\0",
            Self::Cmdline => b"cmdline\0",
            Self::Environ => b"environ\0",
            Self::Auxv => b"auxv\0",
            Self::Status => b"status\0",
        }
    }

    /// Its name under `/proc/PID/`.
    pub fn name(self) -> &'static [u8] {
        let n = self.name_nul();
        &n[..n.len() - 1]
    }

    /// The name of the memfd that holds it for a guest, with a NUL after it (what
    /// `/proc/PID/fd/N` of the descriptor shows at home: `/memfd:omx-proc-maps (deleted)`).
    pub fn memfd_name_nul(self) -> &'static [u8] {
        match self {
            Self::Maps => b"omx-proc-maps\0",
            Self::Smaps => b"omx-proc-smaps\0",
            Self::SmapsRollup => b"omx-proc-smaps_rollup\0",
            Self::Statm => b"omx-proc-statm\0",
            Self::Cmdline => b"omx-proc-cmdline\0",
            Self::Environ => b"omx-proc-environ\0",
            Self::Auxv => b"omx-proc-auxv\0",
            Self::Status => b"omx-proc-status\0",
        }
    }
}

/// Longest path [`own_proc_file`] can match (`/proc/4294967295/task/4294967295/smaps_rollup`):
/// a longer one is not such a file.
pub const MAX_PATH: usize = 48;

/// Which file of its own memory `path` (without its NUL) names for the process whose pid at
/// home is `home_pid`, if it names one.
pub fn own_proc_file(path: &[u8], home_pid: u32) -> Option<OwnProc> {
    let rest = path.strip_prefix(b"/proc/")?;
    let mut pid = [0u8; 10];
    let pid = fmt_u32(home_pid, &mut pid);
    let rest = if let Some(r) = rest.strip_prefix(b"self/") {
        r
    } else if let Some(r) = rest.strip_prefix(b"thread-self/") {
        r
    } else {
        let r = rest.strip_prefix(pid)?.strip_prefix(b"/")?;
        match r.strip_prefix(b"task/") {
            Some(t) => t.strip_prefix(pid)?.strip_prefix(b"/")?,
            None => r,
        }
    };
    OwnProc::ALL.into_iter().find(|f| f.name() == rest)
}

/// The lines of `/proc/PID/status` that say what the process's memory holds (`VmSize`,
/// `VmRSS`, `VmLck`, `RssAnon`, `HugetlbPages`...): taken from the host, where the memory is.
fn is_memory_line(line: &[u8]) -> bool {
    line.starts_with(b"Vm") || line.starts_with(b"Rss") || line.starts_with(b"HugetlbPages:")
}

/// A guest's `status`: the lines of `home` (its ids, signals, capabilities...), each line of its
/// memory replaced by the host's line of the same name from `here` (dropped if the host has
/// none). Yields the lines, each with its newline.
pub fn merged_status<'a>(home: &'a [u8], here: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    lines(home).filter_map(move |l| {
        if !is_memory_line(l) {
            return Some(l);
        }
        let key = &l[..l.iter().position(|&b| b == b':').map_or(l.len(), |i| i + 1)];
        lines(here).find(|h| h.starts_with(key))
    })
}

/// The lines of `b`, each with its newline (the last one without, if it has none).
fn lines(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    b.split_inclusive(|&c| c == b'\n')
}

/// `n` in decimal, in `buf`.
fn fmt_u32(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn its_own_memory_files_are_found() {
        let f = |p: &str| own_proc_file(p.as_bytes(), 4321);
        assert_eq!(f("/proc/self/maps"), Some(OwnProc::Maps));
        assert_eq!(f("/proc/thread-self/cmdline"), Some(OwnProc::Cmdline));
        assert_eq!(f("/proc/4321/environ"), Some(OwnProc::Environ));
        assert_eq!(f("/proc/4321/task/4321/smaps"), Some(OwnProc::Smaps));
        assert_eq!(f("/proc/self/smaps_rollup"), Some(OwnProc::SmapsRollup));
        assert_eq!(f("/proc/self/statm"), Some(OwnProc::Statm));
        assert_eq!(f("/proc/self/auxv"), Some(OwnProc::Auxv));
        assert_eq!(
            own_proc_file(b"/proc/4294967295/task/4294967295/smaps_rollup", u32::MAX),
            Some(OwnProc::SmapsRollup)
        );
        assert!("/proc/4294967295/task/4294967295/smaps_rollup\0".len() <= MAX_PATH);
        assert_eq!(own_proc_file(b"/proc/0/maps", 0), Some(OwnProc::Maps));
    }

    #[test]
    fn status_takes_memory_lines_from_the_host() {
        let home = b"Name:\tx\nState:\tS (sleeping)\nPid:\t7\nVmPeak:\t 10 kB\nVmSize:\t 9 kB\nVmLck:\t 0 kB\nRssAnon:\t 1 kB\nThreads:\t1\nSigBlk:\t0\n";
        let here = b"Name:\ty\nPid:\t99\nVmSize:\t 500 kB\nVmLck:\t 12 kB\nRssAnon:\t 40 kB\nThreads:\t1\n";
        let out: std::vec::Vec<u8> = merged_status(home, here).flatten().copied().collect();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "Name:\tx\nState:\tS (sleeping)\nPid:\t7\nVmSize:\t 500 kB\nVmLck:\t 12 kB\nRssAnon:\t 40 kB\nThreads:\t1\nSigBlk:\t0\n"
        );
        // Memory lines the host does not give are left out, never the deputy's.
        let out: std::vec::Vec<u8> = merged_status(home, b"").flatten().copied().collect();
        assert!(!std::str::from_utf8(&out).unwrap().contains("Vm"));
    }

    #[test]
    fn names_end_with_their_nul() {
        for f in OwnProc::ALL {
            assert_eq!(f.name_nul().last(), Some(&0));
            let m = f.memfd_name_nul();
            assert_eq!(m.last(), Some(&0));
            assert_eq!(&m[..9], b"omx-proc-");
            assert_eq!(&m[9..m.len() - 1], f.name());
            assert_eq!(
                own_proc_file(&[b"/proc/self/", f.name()].concat(), 1),
                Some(f)
            );
        }
    }

    #[test]
    fn other_files_and_processes_are_not() {
        let f = |p: &str| own_proc_file(p.as_bytes(), 4321);
        for p in [
            "/proc/self/stat",
            "/proc/self/exe",
            "/proc/self/fd/3",
            "/proc/self/maps/",
            "/proc/self/mapsx",
            "/proc/self//maps",
            "/proc/432/maps",
            "/proc/43210/maps",
            "/proc/1/maps",
            "/proc/4321/task/1/maps",
            "/proc/self/task/4321/maps",
            "proc/self/maps",
            "/proc/self",
            "/proc/maps",
            "",
        ] {
            assert_eq!(f(p), None, "{p}");
        }
    }
}
