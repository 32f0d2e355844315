// SPDX-License-Identifier: GPL-2.0

//! Where each x86-64 system call of a migrated process runs: the one table the deputy and the
//! remote side follow (see `Documentation/syscalls.md`).
//!
//! - [`Class::Local`]: runs on the remote node, in the guest, at native speed (memory management
//!   of private memory, signal masks and handlers, futexes, sleeping, clocks).
//! - [`Class::Home`]: forwarded to the deputy, which makes the call at home in the original task's
//!   context (its files, cwd, root, credentials, pid, session, terminal, parent and children);
//!   pointer arguments travel with the request or are fetched from the guest on demand.
//! - [`Class::Special`]: handled by dedicated code on both sides; the text says how ("as NAME":
//!   handled like NAME).
//! - [`Class::Refused`]: cannot work once the process has left home; the text is the reason. A
//!   process that depends on one is kept home (a stay reason) or gets the call's error.
//!
//! The table lists every number of the 7.2 kernel's `arch/x86/entry/syscalls/syscall_64.tbl`
//! (common and 64-bit entries). A number that is not in it is not a system call: `ENOSYS`.

/// Where a system call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// On the remote node, in the guest.
    Local,
    /// At home, by the deputy.
    Home,
    /// By dedicated code on both sides, as described.
    Special(&'static str),
    /// Not available to a migrated process, for the reason given.
    Refused(&'static str),
}

use Class::{Home, Local, Refused, Special};

/// `(number, name, class)` of every x86-64 system call, by number.
pub static SYSCALLS: &[(u32, &str, Class)] = &[
    (0, "read", Home),
    (1, "write", Home),
    (2, "open", Home),
    (3, "close", Home),
    (4, "stat", Home),
    (5, "fstat", Home),
    (6, "lstat", Home),
    (7, "poll", Home),
    (8, "lseek", Home),
    (9, "mmap", Special("private anonymous mappings are made on the remote; so is a mapping of a regular file, private or shared without `PROT_WRITE`, its pages paged from home (`migration.md`); shared anonymous memory, a device's or a shared writable mapping brings the process home, where it is made (a private mapping travels as memory when the process moves again; a shared writable one keeps it home)")),
    (10, "mprotect", Local),
    (11, "munmap", Local),
    (12, "brk", Local),
    (13, "rt_sigaction", Local),
    (14, "rt_sigprocmask", Local),
    (15, "rt_sigreturn", Local),
    (16, "ioctl", Home),
    (17, "pread64", Home),
    (18, "pwrite64", Home),
    (19, "readv", Home),
    (20, "writev", Home),
    (21, "access", Home),
    (22, "pipe", Home),
    (23, "select", Home),
    (24, "sched_yield", Local),
    (25, "mremap", Local),
    (26, "msync", Special("anonymous: local no-op; shared file mappings never migrate")),
    (27, "mincore", Local),
    (28, "madvise", Local),
    (29, "shmget", Home),
    (30, "shmat", Special("memory shared with other processes: the process comes home, where it attaches (and stays)")),
    (31, "shmctl", Home),
    (32, "dup", Home),
    (33, "dup2", Home),
    (34, "pause", Local),
    (35, "nanosleep", Local),
    (36, "getitimer", Special("as setitimer")),
    (37, "alarm", Special("timers run at home and their signals are forwarded to the guest")),
    (38, "setitimer", Special("ITIMER_REAL as alarm; ITIMER_VIRTUAL and ITIMER_PROF on the remote, where the process uses its CPU")),
    (39, "getpid", Special("answered locally with the home pid")),
    (40, "sendfile", Home),
    (41, "socket", Home),
    (42, "connect", Home),
    (43, "accept", Home),
    (44, "sendto", Home),
    (45, "recvfrom", Home),
    (46, "sendmsg", Home),
    (47, "recvmsg", Home),
    (48, "shutdown", Home),
    (49, "bind", Home),
    (50, "listen", Home),
    (51, "getsockname", Home),
    (52, "getpeername", Home),
    (53, "socketpair", Home),
    (54, "setsockopt", Home),
    (55, "getsockopt", Home),
    (56, "clone", Special("the process comes home first and makes the call there (parent and child, or the new thread, at home; they may migrate again)")),
    (57, "fork", Special("the process comes home first and forks there; parent and child may migrate again")),
    (58, "vfork", Special("as fork")),
    (59, "execve", Special("the process comes home first: the new program starts at home and may migrate again")),
    (60, "exit", Special("ends the guest; the deputy exits with the same status")),
    (61, "wait4", Home),
    (62, "kill", Home),
    (63, "uname", Home),
    (64, "semget", Home),
    (65, "semop", Home),
    (66, "semctl", Home),
    (67, "shmdt", Home),
    (68, "msgget", Home),
    (69, "msgsnd", Home),
    (70, "msgrcv", Home),
    (71, "msgctl", Home),
    (72, "fcntl", Home),
    (73, "flock", Home),
    (74, "fsync", Home),
    (75, "fdatasync", Home),
    (76, "truncate", Home),
    (77, "ftruncate", Home),
    (78, "getdents", Home),
    (79, "getcwd", Home),
    (80, "chdir", Home),
    (81, "fchdir", Home),
    (82, "rename", Home),
    (83, "mkdir", Home),
    (84, "rmdir", Home),
    (85, "creat", Home),
    (86, "link", Home),
    (87, "unlink", Home),
    (88, "symlink", Home),
    (89, "readlink", Home),
    (90, "chmod", Home),
    (91, "fchmod", Home),
    (92, "chown", Home),
    (93, "fchown", Home),
    (94, "lchown", Home),
    (95, "umask", Home),
    (96, "gettimeofday", Local),
    (97, "getrlimit", Local),
    (98, "getrusage", Special("own usage: CPU time used on the remote is added to the home figures")),
    (99, "sysinfo", Home),
    (100, "times", Special("as getrusage")),
    (101, "ptrace", Refused("tracing a migrated process is not supported; it stays home while traced")),
    (102, "getuid", Home),
    (103, "syslog", Home),
    (104, "getgid", Home),
    (105, "setuid", Special("credential changes apply at home (checked there) and are mirrored on the remote")),
    (106, "setgid", Special("as setuid")),
    (107, "geteuid", Home),
    (108, "getegid", Home),
    (109, "setpgid", Home),
    (110, "getppid", Home),
    (111, "getpgrp", Home),
    (112, "setsid", Home),
    (113, "setreuid", Special("as setuid")),
    (114, "setregid", Special("as setuid")),
    (115, "getgroups", Home),
    (116, "setgroups", Special("as setuid")),
    (117, "setresuid", Special("as setuid")),
    (118, "getresuid", Home),
    (119, "setresgid", Special("as setuid")),
    (120, "getresgid", Home),
    (121, "getpgid", Home),
    (122, "setfsuid", Special("as setuid")),
    (123, "setfsgid", Special("as setuid")),
    (124, "getsid", Home),
    (125, "capget", Local),
    (126, "capset", Special("as setuid")),
    (127, "rt_sigpending", Special("the signals waiting on the remote and those waiting at home (blocked signals sent to the home pid wait there)")),
    (128, "rt_sigtimedwait", Special("takes a signal waiting on the remote at once; else waits at home, where blocked signals wait")),
    (129, "rt_sigqueueinfo", Special("to itself: delivered locally; otherwise sent from home")),
    (130, "rt_sigsuspend", Local),
    (131, "sigaltstack", Local),
    (132, "utime", Home),
    (133, "mknod", Home),
    (134, "uselib", Home),
    (135, "personality", Local),
    (136, "ustat", Home),
    (137, "statfs", Home),
    (138, "fstatfs", Home),
    (139, "sysfs", Home),
    (140, "getpriority", Special("own process: applied on the remote (real-time policies send it home); other pids at home")),
    (141, "setpriority", Special("own process: applied on the remote (real-time policies send it home); other pids at home")),
    (142, "sched_setparam", Special("own process: applied on the remote (real-time policies send it home); other pids at home")),
    (143, "sched_getparam", Local),
    (144, "sched_setscheduler", Special("own process: applied on the remote (real-time policies send it home); other pids at home")),
    (145, "sched_getscheduler", Local),
    (146, "sched_get_priority_max", Local),
    (147, "sched_get_priority_min", Local),
    (148, "sched_rr_get_interval", Local),
    (149, "mlock", Local),
    (150, "munlock", Local),
    (151, "mlockall", Local),
    (152, "munlockall", Local),
    (153, "vhangup", Home),
    (154, "modify_ldt", Refused("LDT contents are not migrated; a process with an LDT stays home")),
    (155, "pivot_root", Home),
    (156, "_sysctl", Home),
    (157, "prctl", Special("by option: the name at home and on the remote; memory and CPU options on the remote; credentials, parent and children options at home")),
    (158, "arch_prctl", Local),
    (159, "adjtimex", Home),
    (160, "setrlimit", Special("applied at home and on the remote")),
    (161, "chroot", Home),
    (162, "sync", Home),
    (163, "acct", Home),
    (164, "settimeofday", Home),
    (165, "mount", Home),
    (166, "umount2", Home),
    (167, "swapon", Home),
    (168, "swapoff", Home),
    (169, "reboot", Home),
    (170, "sethostname", Home),
    (171, "setdomainname", Home),
    (172, "iopl", Refused("I/O privilege is a property of the home machine")),
    (173, "ioperm", Refused("I/O privilege is a property of the home machine")),
    (174, "create_module", Home),
    (175, "init_module", Home),
    (176, "delete_module", Home),
    (177, "get_kernel_syms", Home),
    (178, "query_module", Home),
    (179, "quotactl", Home),
    (180, "nfsservctl", Home),
    (181, "getpmsg", Home),
    (182, "putpmsg", Home),
    (183, "afs_syscall", Home),
    (184, "tuxcall", Home),
    (185, "security", Home),
    (186, "gettid", Special("answered locally with the home pid (a migrated process has one thread)")),
    (187, "readahead", Home),
    (188, "setxattr", Home),
    (189, "lsetxattr", Home),
    (190, "fsetxattr", Home),
    (191, "getxattr", Home),
    (192, "lgetxattr", Home),
    (193, "fgetxattr", Home),
    (194, "listxattr", Home),
    (195, "llistxattr", Home),
    (196, "flistxattr", Home),
    (197, "removexattr", Home),
    (198, "lremovexattr", Home),
    (199, "fremovexattr", Home),
    (200, "tkill", Special("to itself: delivered locally; otherwise sent from home")),
    (201, "time", Local),
    (202, "futex", Local),
    (203, "sched_setaffinity", Local),
    (204, "sched_getaffinity", Local),
    (205, "set_thread_area", Refused("32-bit TLS descriptors are not migrated")),
    (206, "io_setup", Refused("Linux AIO completes into guest memory asynchronously")),
    (207, "io_destroy", Refused("Linux AIO completes into guest memory asynchronously")),
    (208, "io_getevents", Refused("Linux AIO completes into guest memory asynchronously")),
    (209, "io_submit", Refused("Linux AIO completes into guest memory asynchronously")),
    (210, "io_cancel", Refused("Linux AIO completes into guest memory asynchronously")),
    (211, "get_thread_area", Refused("32-bit TLS descriptors are not migrated")),
    (212, "lookup_dcookie", Home),
    (213, "epoll_create", Home),
    (214, "epoll_ctl_old", Home),
    (215, "epoll_wait_old", Home),
    (216, "remap_file_pages", Refused("nonlinear file mappings are not migrated")),
    (217, "getdents64", Home),
    (218, "set_tid_address", Special("made on the remote, where the thread exits; answers its tid at home, as gettid")),
    (219, "restart_syscall", Local),
    (220, "semtimedop", Home),
    (221, "fadvise64", Home),
    (222, "timer_create", Special("POSIX timers live at home; expiry signals are forwarded")),
    (223, "timer_settime", Special("as timer_create")),
    (224, "timer_gettime", Special("as timer_create")),
    (225, "timer_getoverrun", Special("as timer_create")),
    (226, "timer_delete", Special("as timer_create")),
    (227, "clock_settime", Home),
    (228, "clock_gettime", Special("the process's own CPU clock (`CLOCK_PROCESS_CPUTIME_ID`, or its pid's): the home's clock plus the CPU time used away; its thread's CPU clock and the other clocks on the remote; another process's or thread's CPU clock, or a descriptor's, at home")),
    (229, "clock_getres", Local),
    (230, "clock_nanosleep", Local),
    (231, "exit_group", Special("as exit")),
    (232, "epoll_wait", Home),
    (233, "epoll_ctl", Home),
    (234, "tgkill", Special("as tkill")),
    (235, "utimes", Home),
    (236, "vserver", Home),
    (237, "mbind", Refused("NUMA policy of the guest's memory has no meaning across machines")),
    (238, "set_mempolicy", Refused("NUMA policy has no meaning across machines")),
    (239, "get_mempolicy", Refused("NUMA policy has no meaning across machines")),
    (240, "mq_open", Home),
    (241, "mq_unlink", Home),
    (242, "mq_timedsend", Home),
    (243, "mq_timedreceive", Home),
    (244, "mq_notify", Home),
    (245, "mq_getsetattr", Home),
    (246, "kexec_load", Home),
    (247, "waitid", Home),
    (248, "add_key", Home),
    (249, "request_key", Home),
    (250, "keyctl", Home),
    (251, "ioprio_set", Home),
    (252, "ioprio_get", Home),
    (253, "inotify_init", Home),
    (254, "inotify_add_watch", Home),
    (255, "inotify_rm_watch", Home),
    (256, "migrate_pages", Refused("NUMA page placement has no meaning across machines")),
    (257, "openat", Home),
    (258, "mkdirat", Home),
    (259, "mknodat", Home),
    (260, "fchownat", Home),
    (261, "futimesat", Home),
    (262, "newfstatat", Home),
    (263, "unlinkat", Home),
    (264, "renameat", Home),
    (265, "linkat", Home),
    (266, "symlinkat", Home),
    (267, "readlinkat", Home),
    (268, "fchmodat", Home),
    (269, "faccessat", Home),
    (270, "pselect6", Home),
    (271, "ppoll", Home),
    (272, "unshare", Home),
    (273, "set_robust_list", Local),
    (274, "get_robust_list", Local),
    (275, "splice", Home),
    (276, "tee", Home),
    (277, "sync_file_range", Home),
    (278, "vmsplice", Refused("gives the home kernel references to guest pages")),
    (279, "move_pages", Refused("NUMA page placement has no meaning across machines")),
    (280, "utimensat", Home),
    (281, "epoll_pwait", Home),
    (282, "signalfd", Home),
    (283, "timerfd_create", Home),
    (284, "eventfd", Home),
    (285, "fallocate", Home),
    (286, "timerfd_settime", Home),
    (287, "timerfd_gettime", Home),
    (288, "accept4", Home),
    (289, "signalfd4", Home),
    (290, "eventfd2", Home),
    (291, "epoll_create1", Home),
    (292, "dup3", Home),
    (293, "pipe2", Home),
    (294, "inotify_init1", Home),
    (295, "preadv", Home),
    (296, "pwritev", Home),
    (297, "rt_tgsigqueueinfo", Special("as rt_sigqueueinfo")),
    (298, "perf_event_open", Refused("performance counters measure one machine")),
    (299, "recvmmsg", Home),
    (300, "fanotify_init", Home),
    (301, "fanotify_mark", Home),
    (302, "prlimit64", Special("own limits: applied at home and on the remote; other pids at home")),
    (303, "name_to_handle_at", Home),
    (304, "open_by_handle_at", Home),
    (305, "clock_adjtime", Home),
    (306, "syncfs", Home),
    (307, "sendmmsg", Home),
    (308, "setns", Home),
    (309, "getcpu", Local),
    (310, "process_vm_readv", Refused("reads another process's memory across machines")),
    (311, "process_vm_writev", Refused("writes another process's memory across machines")),
    (312, "kcmp", Home),
    (313, "finit_module", Home),
    (314, "sched_setattr", Special("own process: applied on the remote (real-time policies send it home); other pids at home")),
    (315, "sched_getattr", Local),
    (316, "renameat2", Home),
    (317, "seccomp", Refused("seccomp filters are not migrated; a filtered process stays home")),
    (318, "getrandom", Local),
    (319, "memfd_create", Home),
    (320, "kexec_file_load", Home),
    (321, "bpf", Home),
    (322, "execveat", Special("as execve")),
    (323, "userfaultfd", Refused("page faults of the guest cannot be served by a home file descriptor")),
    (324, "membarrier", Local),
    (325, "mlock2", Local),
    (326, "copy_file_range", Home),
    (327, "preadv2", Home),
    (328, "pwritev2", Home),
    (329, "pkey_mprotect", Refused("memory protection keys are not migrated")),
    (330, "pkey_alloc", Refused("memory protection keys are not migrated")),
    (331, "pkey_free", Refused("memory protection keys are not migrated")),
    (332, "statx", Home),
    (333, "io_pgetevents", Refused("Linux AIO completes into guest memory asynchronously")),
    (334, "rseq", Local),
    (335, "uretprobe", Refused("uprobes are the home kernel's instrumentation")),
    (336, "uprobe", Refused("uprobes are the home kernel's instrumentation")),
    (424, "pidfd_send_signal", Home),
    (425, "io_uring_setup", Refused("io_uring shares rings between guest memory and the home kernel")),
    (426, "io_uring_enter", Refused("io_uring shares rings between guest memory and the home kernel")),
    (427, "io_uring_register", Refused("io_uring shares rings between guest memory and the home kernel")),
    (428, "open_tree", Home),
    (429, "move_mount", Home),
    (430, "fsopen", Home),
    (431, "fsconfig", Home),
    (432, "fsmount", Home),
    (433, "fspick", Home),
    (434, "pidfd_open", Home),
    (435, "clone3", Special("as clone")),
    (436, "close_range", Home),
    (437, "openat2", Home),
    (438, "pidfd_getfd", Home),
    (439, "faccessat2", Home),
    (440, "process_madvise", Refused("acts on the memory of other processes by pidfd")),
    (441, "epoll_pwait2", Home),
    (442, "mount_setattr", Home),
    (443, "quotactl_fd", Home),
    (444, "landlock_create_ruleset", Home),
    (445, "landlock_add_rule", Home),
    (446, "landlock_restrict_self", Home),
    (447, "memfd_secret", Refused("secret memory is never sent over the network")),
    (448, "process_mrelease", Refused("acts on the memory of other processes by pidfd")),
    (449, "futex_waitv", Local),
    (450, "set_mempolicy_home_node", Refused("NUMA policy has no meaning across machines")),
    (451, "cachestat", Home),
    (452, "fchmodat2", Home),
    (453, "map_shadow_stack", Refused("shadow stacks are not migrated")),
    (454, "futex_wake", Local),
    (455, "futex_wait", Local),
    (456, "futex_requeue", Local),
    (457, "statmount", Home),
    (458, "listmount", Home),
    (459, "lsm_get_self_attr", Home),
    (460, "lsm_set_self_attr", Home),
    (461, "lsm_list_modules", Home),
    (462, "mseal", Refused("sealed mappings are not migrated")),
    (463, "setxattrat", Home),
    (464, "getxattrat", Home),
    (465, "listxattrat", Home),
    (466, "removexattrat", Home),
    (467, "open_tree_attr", Home),
    (468, "file_getattr", Home),
    (469, "file_setattr", Home),
    (470, "listns", Home),
    (471, "rseq_slice_yield", Local),
];

/// The class of system call `nr`, or `None` if there is no such call.
pub fn class_of(nr: u32) -> Option<Class> {
    SYSCALLS
        .binary_search_by_key(&nr, |&(n, _, _)| n)
        .ok()
        .map(|i| SYSCALLS[i].2)
}

/// Where a call that runs on the remote (`Local`) names a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidAt {
    /// Its argument `i` is the pid.
    Arg(usize),
    /// The `pid` field of `capget`'s header (a 32-bit integer at byte 4 of the struct its
    /// argument 0 points to).
    CapHeader,
}

/// Where call `nr`, which runs on the remote, names a process (none for the calls that name
/// none, or do not run there).
pub fn local_pid_at(nr: u32) -> Option<PidAt> {
    match nr {
        nr::CAPGET => Some(PidAt::CapHeader),
        nr::SCHED_GETPARAM
        | nr::SCHED_GETSCHEDULER
        | nr::SCHED_RR_GET_INTERVAL
        | nr::SCHED_SETAFFINITY
        | nr::SCHED_GETAFFINITY
        | nr::GET_ROBUST_LIST
        | nr::SCHED_GETATTR => Some(PidAt::Arg(0)),
        _ => None,
    }
}

/// The arguments of signal-sending call `nr` that name the target (thread group, then thread),
/// for the calls that send a signal to a process or thread chosen by pid (`tkill`, `tgkill`,
/// `rt_sigqueueinfo`, `rt_tgsigqueueinfo`); `None` for any other call. `kill`, which also
/// names process groups, is always made at home.
pub fn signal_targets(nr: u32) -> Option<&'static [usize]> {
    match nr {
        nr::TKILL | nr::RT_SIGQUEUEINFO => Some(&[0]),
        nr::TGKILL | nr::RT_TGSIGQUEUEINFO => Some(&[0, 1]),
        _ => None,
    }
}

/// The signal number call `nr` of [`signal_targets`] sends (the argument after its targets).
pub fn signal_sent(nr: u32, args: &[u64; 6]) -> Option<u32> {
    signal_targets(nr).map(|at| args[at.len()] as u32)
}

/// Whether signal-sending call `nr` (see [`signal_targets`]) of a migrated process whose home
/// pid is `home` sends to the process itself: every target argument is its home pid (its one
/// thread's id too). Such a signal is delivered on the remote, where the process runs (`raise`,
/// `abort`, `pthread_kill(pthread_self())`); any other goes from home, and so do the stop
/// signals (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`, the signal after the targets), for the
/// process stops at home too, where its parent and shell see it (job control).
pub fn signals_itself(nr: u32, args: &[u64; 6], home: u32) -> bool {
    signal_targets(nr).is_some_and(|at| {
        let sig = args[at.len()] as u32;
        at.iter().all(|&i| args[i] as u32 == home && home != 0)
            && !matches!(
                sig,
                sig::SIGSTOP | sig::SIGTSTP | sig::SIGTTIN | sig::SIGTTOU
            )
    })
}

/// Named `prctl` options: `PR_*` of `linux/prctl.h`, without the prefix.
#[allow(missing_docs)] // Each is the option of its name in `linux/prctl.h`.
pub mod pr {
    pub const SET_PDEATHSIG: u64 = 1;
    pub const GET_PDEATHSIG: u64 = 2;
    pub const GET_DUMPABLE: u64 = 3;
    pub const SET_DUMPABLE: u64 = 4;
    pub const GET_KEEPCAPS: u64 = 7;
    pub const SET_KEEPCAPS: u64 = 8;
    pub const SET_NAME: u64 = 15;
    pub const GET_NAME: u64 = 16;
    pub const CAPBSET_READ: u64 = 23;
    pub const GET_SECUREBITS: u64 = 27;
    pub const SET_TIMERSLACK: u64 = 29;
    pub const GET_TIMERSLACK: u64 = 30;
    pub const MCE_KILL: u64 = 33;
    pub const MCE_KILL_GET: u64 = 34;
    pub const SET_CHILD_SUBREAPER: u64 = 36;
    pub const GET_CHILD_SUBREAPER: u64 = 37;
    pub const SET_NO_NEW_PRIVS: u64 = 38;
    pub const GET_NO_NEW_PRIVS: u64 = 39;
    pub const GET_TID_ADDRESS: u64 = 40;
    pub const SET_THP_DISABLE: u64 = 41;
    pub const GET_THP_DISABLE: u64 = 42;
    pub const CAP_AMBIENT: u64 = 47;
    pub const GET_SPECULATION_CTRL: u64 = 52;
    pub const SET_VMA: u64 = 0x5356_4d41;
}

/// What clock a `clockid_t` of `clock_gettime` names, for a guest whose home pid is `own`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOf {
    /// A clock that is not a process's or thread's CPU clock (`CLOCK_REALTIME`,
    /// `CLOCK_MONOTONIC`...): read on the host.
    Plain,
    /// The CPU clock of the process itself (`CLOCK_PROCESS_CPUTIME_ID`, or a process clock of
    /// pid 0 or its own): which one, `0` user and system time (`CPUCLOCK_PROF`), `1` user time
    /// (`CPUCLOCK_VIRT`), `2` scheduled time (`CPUCLOCK_SCHED`).
    OwnProcess(u8),
    /// The CPU clock of its own thread (`CLOCK_THREAD_CPUTIME_ID`, or a thread clock of tid 0
    /// or its own): the thread here, `clockid` for it (tid 0 of the same kind).
    OwnThread(u64),
    /// The CPU clock of another process or thread, or a clock of a descriptor (`CLOCKFD`):
    /// at home, where those are.
    Home,
}

/// `CLOCK_PROCESS_CPUTIME_ID` and `CLOCK_THREAD_CPUTIME_ID`.
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;

/// What `clockid` names (see [`ClockOf`]); the kernel's encoding of CPU clocks: the pid or tid
/// inverted above bit 3, bit 2 for a thread, bits 0-1 the kind (3 with bit 2 clear: a
/// descriptor's clock).
pub fn clock_of(clockid: u64, own: u32) -> ClockOf {
    // A clockid_t is an int (the register's upper half is not looked at): only negative ones
    // are dynamic clocks.
    let id = clockid as u32 as i32;
    match u64::from(id as u32) {
        CLOCK_PROCESS_CPUTIME_ID => return ClockOf::OwnProcess(2),
        CLOCK_THREAD_CPUTIME_ID => return ClockOf::OwnThread(CLOCK_THREAD_CPUTIME_ID),
        _ if id >= 0 => return ClockOf::Plain,
        _ => {}
    }
    let kind = (id & 3) as u8;
    let thread = id & 4 != 0;
    if kind == 3 {
        // CLOCKFD (a descriptor's clock), or an invalid thread clock: at home.
        return ClockOf::Home;
    }
    let pid = !(id >> 3);
    let mine = pid == 0 || u32::try_from(pid) == Ok(own);
    match (mine, thread) {
        (true, false) => ClockOf::OwnProcess(kind),
        (true, true) => ClockOf::OwnThread(u64::from((!0i32 << 3 | 4 | i32::from(kind)) as u32)),
        (false, _) => ClockOf::Home,
    }
}

/// Where a guest's `prctl(option, ...)` is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrctlPlace {
    /// On the host: options of its memory, CPU and timers, and reading its name (kept the same
    /// in both places).
    Here,
    /// At home: options of its credentials, its parent and its children, where those are.
    Home,
    /// At home, then on the host too: its name (`PR_SET_NAME`), shown in both places.
    Both,
}

/// Where `prctl(option, ...)` of a guest is made; `None` for the options not handled (the call
/// fails with `ENOSYS` and a log line).
pub fn prctl_place(option: u64) -> Option<PrctlPlace> {
    Some(match option {
        pr::GET_NAME
        | pr::SET_TIMERSLACK
        | pr::GET_TIMERSLACK
        | pr::MCE_KILL
        | pr::MCE_KILL_GET
        | pr::GET_TID_ADDRESS
        | pr::SET_THP_DISABLE
        | pr::GET_THP_DISABLE
        | pr::GET_SPECULATION_CTRL
        | pr::SET_VMA => PrctlPlace::Here,
        pr::SET_PDEATHSIG
        | pr::GET_PDEATHSIG
        | pr::GET_DUMPABLE
        | pr::SET_DUMPABLE
        | pr::GET_KEEPCAPS
        | pr::SET_KEEPCAPS
        | pr::CAPBSET_READ
        | pr::GET_SECUREBITS
        | pr::SET_CHILD_SUBREAPER
        | pr::GET_CHILD_SUBREAPER
        | pr::SET_NO_NEW_PRIVS
        | pr::GET_NO_NEW_PRIVS
        | pr::CAP_AMBIENT => PrctlPlace::Home,
        pr::SET_NAME => PrctlPlace::Both,
        _ => return None,
    })
}

/// What a migrated process's call that runs on its host may name: only itself. `pid` 0 or its
/// home pid `home` (what the process knows as its own pid) is `Some(0)`, the calling process;
/// any other pid is `None`: the call gets `ESRCH`, for the processes of the host are none of its
/// business (and would not be the ones it means: those are at home). `pid` is taken as the
/// kernel takes a `pid_t` argument: the low 32 bits of the register.
pub fn own_pid(pid: u64, home: u32) -> Option<u64> {
    let pid = pid as u32;
    (pid == 0 || pid == home).then_some(0)
}

/// The number of the system call called `name`.
pub fn number_of(name: &str) -> Option<u32> {
    SYSCALLS
        .iter()
        .find(|&&(_, n, _)| n == name)
        .map(|&(nr, _, _)| nr)
}

/// The name of system call `nr`, or `None` if there is no such call.
pub fn name_of(nr: u32) -> Option<&'static str> {
    SYSCALLS
        .binary_search_by_key(&nr, |&(n, _, _)| n)
        .ok()
        .map(|i| SYSCALLS[i].1)
}

/// The number of every x86-64 system call, by name (upper-cased): `nr::READ`, `nr::EXIT_GROUP`.
pub mod nr {
    /// Defines a constant for each `name: NAME = number` (and, in tests, the list of them).
    macro_rules! numbers {
        ($($name:ident: $upper:ident = $nr:literal,)*) => {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub const $upper: u32 = $nr;
            )*
            /// `(number, name, constant)` of every constant above.
            #[cfg(test)]
            pub(super) const ALL: &[(u32, &str, &str)] =
                &[$(($nr, stringify!($name), stringify!($upper))),*];
        };
    }

    numbers! {
        read: READ = 0,
        write: WRITE = 1,
        open: OPEN = 2,
        close: CLOSE = 3,
        stat: STAT = 4,
        fstat: FSTAT = 5,
        lstat: LSTAT = 6,
        poll: POLL = 7,
        lseek: LSEEK = 8,
        mmap: MMAP = 9,
        mprotect: MPROTECT = 10,
        munmap: MUNMAP = 11,
        brk: BRK = 12,
        rt_sigaction: RT_SIGACTION = 13,
        rt_sigprocmask: RT_SIGPROCMASK = 14,
        rt_sigreturn: RT_SIGRETURN = 15,
        ioctl: IOCTL = 16,
        pread64: PREAD64 = 17,
        pwrite64: PWRITE64 = 18,
        readv: READV = 19,
        writev: WRITEV = 20,
        access: ACCESS = 21,
        pipe: PIPE = 22,
        select: SELECT = 23,
        sched_yield: SCHED_YIELD = 24,
        mremap: MREMAP = 25,
        msync: MSYNC = 26,
        mincore: MINCORE = 27,
        madvise: MADVISE = 28,
        shmget: SHMGET = 29,
        shmat: SHMAT = 30,
        shmctl: SHMCTL = 31,
        dup: DUP = 32,
        dup2: DUP2 = 33,
        pause: PAUSE = 34,
        nanosleep: NANOSLEEP = 35,
        getitimer: GETITIMER = 36,
        alarm: ALARM = 37,
        setitimer: SETITIMER = 38,
        getpid: GETPID = 39,
        sendfile: SENDFILE = 40,
        socket: SOCKET = 41,
        connect: CONNECT = 42,
        accept: ACCEPT = 43,
        sendto: SENDTO = 44,
        recvfrom: RECVFROM = 45,
        sendmsg: SENDMSG = 46,
        recvmsg: RECVMSG = 47,
        shutdown: SHUTDOWN = 48,
        bind: BIND = 49,
        listen: LISTEN = 50,
        getsockname: GETSOCKNAME = 51,
        getpeername: GETPEERNAME = 52,
        socketpair: SOCKETPAIR = 53,
        setsockopt: SETSOCKOPT = 54,
        getsockopt: GETSOCKOPT = 55,
        clone: CLONE = 56,
        fork: FORK = 57,
        vfork: VFORK = 58,
        execve: EXECVE = 59,
        exit: EXIT = 60,
        wait4: WAIT4 = 61,
        kill: KILL = 62,
        uname: UNAME = 63,
        semget: SEMGET = 64,
        semop: SEMOP = 65,
        semctl: SEMCTL = 66,
        shmdt: SHMDT = 67,
        msgget: MSGGET = 68,
        msgsnd: MSGSND = 69,
        msgrcv: MSGRCV = 70,
        msgctl: MSGCTL = 71,
        fcntl: FCNTL = 72,
        flock: FLOCK = 73,
        fsync: FSYNC = 74,
        fdatasync: FDATASYNC = 75,
        truncate: TRUNCATE = 76,
        ftruncate: FTRUNCATE = 77,
        getdents: GETDENTS = 78,
        getcwd: GETCWD = 79,
        chdir: CHDIR = 80,
        fchdir: FCHDIR = 81,
        rename: RENAME = 82,
        mkdir: MKDIR = 83,
        rmdir: RMDIR = 84,
        creat: CREAT = 85,
        link: LINK = 86,
        unlink: UNLINK = 87,
        symlink: SYMLINK = 88,
        readlink: READLINK = 89,
        chmod: CHMOD = 90,
        fchmod: FCHMOD = 91,
        chown: CHOWN = 92,
        fchown: FCHOWN = 93,
        lchown: LCHOWN = 94,
        umask: UMASK = 95,
        gettimeofday: GETTIMEOFDAY = 96,
        getrlimit: GETRLIMIT = 97,
        getrusage: GETRUSAGE = 98,
        sysinfo: SYSINFO = 99,
        times: TIMES = 100,
        ptrace: PTRACE = 101,
        getuid: GETUID = 102,
        syslog: SYSLOG = 103,
        getgid: GETGID = 104,
        setuid: SETUID = 105,
        setgid: SETGID = 106,
        geteuid: GETEUID = 107,
        getegid: GETEGID = 108,
        setpgid: SETPGID = 109,
        getppid: GETPPID = 110,
        getpgrp: GETPGRP = 111,
        setsid: SETSID = 112,
        setreuid: SETREUID = 113,
        setregid: SETREGID = 114,
        getgroups: GETGROUPS = 115,
        setgroups: SETGROUPS = 116,
        setresuid: SETRESUID = 117,
        getresuid: GETRESUID = 118,
        setresgid: SETRESGID = 119,
        getresgid: GETRESGID = 120,
        getpgid: GETPGID = 121,
        setfsuid: SETFSUID = 122,
        setfsgid: SETFSGID = 123,
        getsid: GETSID = 124,
        capget: CAPGET = 125,
        capset: CAPSET = 126,
        rt_sigpending: RT_SIGPENDING = 127,
        rt_sigtimedwait: RT_SIGTIMEDWAIT = 128,
        rt_sigqueueinfo: RT_SIGQUEUEINFO = 129,
        rt_sigsuspend: RT_SIGSUSPEND = 130,
        sigaltstack: SIGALTSTACK = 131,
        utime: UTIME = 132,
        mknod: MKNOD = 133,
        uselib: USELIB = 134,
        personality: PERSONALITY = 135,
        ustat: USTAT = 136,
        statfs: STATFS = 137,
        fstatfs: FSTATFS = 138,
        sysfs: SYSFS = 139,
        getpriority: GETPRIORITY = 140,
        setpriority: SETPRIORITY = 141,
        sched_setparam: SCHED_SETPARAM = 142,
        sched_getparam: SCHED_GETPARAM = 143,
        sched_setscheduler: SCHED_SETSCHEDULER = 144,
        sched_getscheduler: SCHED_GETSCHEDULER = 145,
        sched_get_priority_max: SCHED_GET_PRIORITY_MAX = 146,
        sched_get_priority_min: SCHED_GET_PRIORITY_MIN = 147,
        sched_rr_get_interval: SCHED_RR_GET_INTERVAL = 148,
        mlock: MLOCK = 149,
        munlock: MUNLOCK = 150,
        mlockall: MLOCKALL = 151,
        munlockall: MUNLOCKALL = 152,
        vhangup: VHANGUP = 153,
        modify_ldt: MODIFY_LDT = 154,
        pivot_root: PIVOT_ROOT = 155,
        _sysctl: _SYSCTL = 156,
        prctl: PRCTL = 157,
        arch_prctl: ARCH_PRCTL = 158,
        adjtimex: ADJTIMEX = 159,
        setrlimit: SETRLIMIT = 160,
        chroot: CHROOT = 161,
        sync: SYNC = 162,
        acct: ACCT = 163,
        settimeofday: SETTIMEOFDAY = 164,
        mount: MOUNT = 165,
        umount2: UMOUNT2 = 166,
        swapon: SWAPON = 167,
        swapoff: SWAPOFF = 168,
        reboot: REBOOT = 169,
        sethostname: SETHOSTNAME = 170,
        setdomainname: SETDOMAINNAME = 171,
        iopl: IOPL = 172,
        ioperm: IOPERM = 173,
        create_module: CREATE_MODULE = 174,
        init_module: INIT_MODULE = 175,
        delete_module: DELETE_MODULE = 176,
        get_kernel_syms: GET_KERNEL_SYMS = 177,
        query_module: QUERY_MODULE = 178,
        quotactl: QUOTACTL = 179,
        nfsservctl: NFSSERVCTL = 180,
        getpmsg: GETPMSG = 181,
        putpmsg: PUTPMSG = 182,
        afs_syscall: AFS_SYSCALL = 183,
        tuxcall: TUXCALL = 184,
        security: SECURITY = 185,
        gettid: GETTID = 186,
        readahead: READAHEAD = 187,
        setxattr: SETXATTR = 188,
        lsetxattr: LSETXATTR = 189,
        fsetxattr: FSETXATTR = 190,
        getxattr: GETXATTR = 191,
        lgetxattr: LGETXATTR = 192,
        fgetxattr: FGETXATTR = 193,
        listxattr: LISTXATTR = 194,
        llistxattr: LLISTXATTR = 195,
        flistxattr: FLISTXATTR = 196,
        removexattr: REMOVEXATTR = 197,
        lremovexattr: LREMOVEXATTR = 198,
        fremovexattr: FREMOVEXATTR = 199,
        tkill: TKILL = 200,
        time: TIME = 201,
        futex: FUTEX = 202,
        sched_setaffinity: SCHED_SETAFFINITY = 203,
        sched_getaffinity: SCHED_GETAFFINITY = 204,
        set_thread_area: SET_THREAD_AREA = 205,
        io_setup: IO_SETUP = 206,
        io_destroy: IO_DESTROY = 207,
        io_getevents: IO_GETEVENTS = 208,
        io_submit: IO_SUBMIT = 209,
        io_cancel: IO_CANCEL = 210,
        get_thread_area: GET_THREAD_AREA = 211,
        lookup_dcookie: LOOKUP_DCOOKIE = 212,
        epoll_create: EPOLL_CREATE = 213,
        epoll_ctl_old: EPOLL_CTL_OLD = 214,
        epoll_wait_old: EPOLL_WAIT_OLD = 215,
        remap_file_pages: REMAP_FILE_PAGES = 216,
        getdents64: GETDENTS64 = 217,
        set_tid_address: SET_TID_ADDRESS = 218,
        restart_syscall: RESTART_SYSCALL = 219,
        semtimedop: SEMTIMEDOP = 220,
        fadvise64: FADVISE64 = 221,
        timer_create: TIMER_CREATE = 222,
        timer_settime: TIMER_SETTIME = 223,
        timer_gettime: TIMER_GETTIME = 224,
        timer_getoverrun: TIMER_GETOVERRUN = 225,
        timer_delete: TIMER_DELETE = 226,
        clock_settime: CLOCK_SETTIME = 227,
        clock_gettime: CLOCK_GETTIME = 228,
        clock_getres: CLOCK_GETRES = 229,
        clock_nanosleep: CLOCK_NANOSLEEP = 230,
        exit_group: EXIT_GROUP = 231,
        epoll_wait: EPOLL_WAIT = 232,
        epoll_ctl: EPOLL_CTL = 233,
        tgkill: TGKILL = 234,
        utimes: UTIMES = 235,
        vserver: VSERVER = 236,
        mbind: MBIND = 237,
        set_mempolicy: SET_MEMPOLICY = 238,
        get_mempolicy: GET_MEMPOLICY = 239,
        mq_open: MQ_OPEN = 240,
        mq_unlink: MQ_UNLINK = 241,
        mq_timedsend: MQ_TIMEDSEND = 242,
        mq_timedreceive: MQ_TIMEDRECEIVE = 243,
        mq_notify: MQ_NOTIFY = 244,
        mq_getsetattr: MQ_GETSETATTR = 245,
        kexec_load: KEXEC_LOAD = 246,
        waitid: WAITID = 247,
        add_key: ADD_KEY = 248,
        request_key: REQUEST_KEY = 249,
        keyctl: KEYCTL = 250,
        ioprio_set: IOPRIO_SET = 251,
        ioprio_get: IOPRIO_GET = 252,
        inotify_init: INOTIFY_INIT = 253,
        inotify_add_watch: INOTIFY_ADD_WATCH = 254,
        inotify_rm_watch: INOTIFY_RM_WATCH = 255,
        migrate_pages: MIGRATE_PAGES = 256,
        openat: OPENAT = 257,
        mkdirat: MKDIRAT = 258,
        mknodat: MKNODAT = 259,
        fchownat: FCHOWNAT = 260,
        futimesat: FUTIMESAT = 261,
        newfstatat: NEWFSTATAT = 262,
        unlinkat: UNLINKAT = 263,
        renameat: RENAMEAT = 264,
        linkat: LINKAT = 265,
        symlinkat: SYMLINKAT = 266,
        readlinkat: READLINKAT = 267,
        fchmodat: FCHMODAT = 268,
        faccessat: FACCESSAT = 269,
        pselect6: PSELECT6 = 270,
        ppoll: PPOLL = 271,
        unshare: UNSHARE = 272,
        set_robust_list: SET_ROBUST_LIST = 273,
        get_robust_list: GET_ROBUST_LIST = 274,
        splice: SPLICE = 275,
        tee: TEE = 276,
        sync_file_range: SYNC_FILE_RANGE = 277,
        vmsplice: VMSPLICE = 278,
        move_pages: MOVE_PAGES = 279,
        utimensat: UTIMENSAT = 280,
        epoll_pwait: EPOLL_PWAIT = 281,
        signalfd: SIGNALFD = 282,
        timerfd_create: TIMERFD_CREATE = 283,
        eventfd: EVENTFD = 284,
        fallocate: FALLOCATE = 285,
        timerfd_settime: TIMERFD_SETTIME = 286,
        timerfd_gettime: TIMERFD_GETTIME = 287,
        accept4: ACCEPT4 = 288,
        signalfd4: SIGNALFD4 = 289,
        eventfd2: EVENTFD2 = 290,
        epoll_create1: EPOLL_CREATE1 = 291,
        dup3: DUP3 = 292,
        pipe2: PIPE2 = 293,
        inotify_init1: INOTIFY_INIT1 = 294,
        preadv: PREADV = 295,
        pwritev: PWRITEV = 296,
        rt_tgsigqueueinfo: RT_TGSIGQUEUEINFO = 297,
        perf_event_open: PERF_EVENT_OPEN = 298,
        recvmmsg: RECVMMSG = 299,
        fanotify_init: FANOTIFY_INIT = 300,
        fanotify_mark: FANOTIFY_MARK = 301,
        prlimit64: PRLIMIT64 = 302,
        name_to_handle_at: NAME_TO_HANDLE_AT = 303,
        open_by_handle_at: OPEN_BY_HANDLE_AT = 304,
        clock_adjtime: CLOCK_ADJTIME = 305,
        syncfs: SYNCFS = 306,
        sendmmsg: SENDMMSG = 307,
        setns: SETNS = 308,
        getcpu: GETCPU = 309,
        process_vm_readv: PROCESS_VM_READV = 310,
        process_vm_writev: PROCESS_VM_WRITEV = 311,
        kcmp: KCMP = 312,
        finit_module: FINIT_MODULE = 313,
        sched_setattr: SCHED_SETATTR = 314,
        sched_getattr: SCHED_GETATTR = 315,
        renameat2: RENAMEAT2 = 316,
        seccomp: SECCOMP = 317,
        getrandom: GETRANDOM = 318,
        memfd_create: MEMFD_CREATE = 319,
        kexec_file_load: KEXEC_FILE_LOAD = 320,
        bpf: BPF = 321,
        execveat: EXECVEAT = 322,
        userfaultfd: USERFAULTFD = 323,
        membarrier: MEMBARRIER = 324,
        mlock2: MLOCK2 = 325,
        copy_file_range: COPY_FILE_RANGE = 326,
        preadv2: PREADV2 = 327,
        pwritev2: PWRITEV2 = 328,
        pkey_mprotect: PKEY_MPROTECT = 329,
        pkey_alloc: PKEY_ALLOC = 330,
        pkey_free: PKEY_FREE = 331,
        statx: STATX = 332,
        io_pgetevents: IO_PGETEVENTS = 333,
        rseq: RSEQ = 334,
        uretprobe: URETPROBE = 335,
        uprobe: UPROBE = 336,
        pidfd_send_signal: PIDFD_SEND_SIGNAL = 424,
        io_uring_setup: IO_URING_SETUP = 425,
        io_uring_enter: IO_URING_ENTER = 426,
        io_uring_register: IO_URING_REGISTER = 427,
        open_tree: OPEN_TREE = 428,
        move_mount: MOVE_MOUNT = 429,
        fsopen: FSOPEN = 430,
        fsconfig: FSCONFIG = 431,
        fsmount: FSMOUNT = 432,
        fspick: FSPICK = 433,
        pidfd_open: PIDFD_OPEN = 434,
        clone3: CLONE3 = 435,
        close_range: CLOSE_RANGE = 436,
        openat2: OPENAT2 = 437,
        pidfd_getfd: PIDFD_GETFD = 438,
        faccessat2: FACCESSAT2 = 439,
        process_madvise: PROCESS_MADVISE = 440,
        epoll_pwait2: EPOLL_PWAIT2 = 441,
        mount_setattr: MOUNT_SETATTR = 442,
        quotactl_fd: QUOTACTL_FD = 443,
        landlock_create_ruleset: LANDLOCK_CREATE_RULESET = 444,
        landlock_add_rule: LANDLOCK_ADD_RULE = 445,
        landlock_restrict_self: LANDLOCK_RESTRICT_SELF = 446,
        memfd_secret: MEMFD_SECRET = 447,
        process_mrelease: PROCESS_MRELEASE = 448,
        futex_waitv: FUTEX_WAITV = 449,
        set_mempolicy_home_node: SET_MEMPOLICY_HOME_NODE = 450,
        cachestat: CACHESTAT = 451,
        fchmodat2: FCHMODAT2 = 452,
        map_shadow_stack: MAP_SHADOW_STACK = 453,
        futex_wake: FUTEX_WAKE = 454,
        futex_wait: FUTEX_WAIT = 455,
        futex_requeue: FUTEX_REQUEUE = 456,
        statmount: STATMOUNT = 457,
        listmount: LISTMOUNT = 458,
        lsm_get_self_attr: LSM_GET_SELF_ATTR = 459,
        lsm_set_self_attr: LSM_SET_SELF_ATTR = 460,
        lsm_list_modules: LSM_LIST_MODULES = 461,
        mseal: MSEAL = 462,
        setxattrat: SETXATTRAT = 463,
        getxattrat: GETXATTRAT = 464,
        listxattrat: LISTXATTRAT = 465,
        removexattrat: REMOVEXATTRAT = 466,
        open_tree_attr: OPEN_TREE_ATTR = 467,
        file_getattr: FILE_GETATTR = 468,
        file_setattr: FILE_SETATTR = 469,
        listns: LISTNS = 470,
        rseq_slice_yield: RSEQ_SLICE_YIELD = 471,
    }
}

/// Signal numbers (x86-64).
pub mod sig {
    /// Hangup.
    pub const SIGHUP: u32 = 1;
    /// Interrupt from the keyboard.
    pub const SIGINT: u32 = 2;
    /// Quit from the keyboard.
    pub const SIGQUIT: u32 = 3;
    /// Illegal instruction.
    pub const SIGILL: u32 = 4;
    /// Trace or breakpoint trap.
    pub const SIGTRAP: u32 = 5;
    /// Abort.
    pub const SIGABRT: u32 = 6;
    /// Bus error.
    pub const SIGBUS: u32 = 7;
    /// Arithmetic error.
    pub const SIGFPE: u32 = 8;
    /// Kill (cannot be caught or ignored).
    pub const SIGKILL: u32 = 9;
    /// User signal 1.
    pub const SIGUSR1: u32 = 10;
    /// Invalid memory reference.
    pub const SIGSEGV: u32 = 11;
    /// User signal 2.
    pub const SIGUSR2: u32 = 12;
    /// Write to a pipe with no reader.
    pub const SIGPIPE: u32 = 13;
    /// Timer from `alarm`.
    pub const SIGALRM: u32 = 14;
    /// Termination.
    pub const SIGTERM: u32 = 15;
    /// Child stopped or ended.
    pub const SIGCHLD: u32 = 17;
    /// Continue if stopped.
    pub const SIGCONT: u32 = 18;
    /// Stop (cannot be caught or ignored).
    pub const SIGSTOP: u32 = 19;
    /// Stop from the terminal.
    pub const SIGTSTP: u32 = 20;
    /// Terminal input for a background process.
    pub const SIGTTIN: u32 = 21;
    /// Terminal output for a background process.
    pub const SIGTTOU: u32 = 22;
    /// Number of signals: they are 1 to `NSIG`.
    pub const NSIG: u32 = 64;
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_clocks_of_itself_and_of_others() {
        let own = 812;
        // The kernel's encoding (posix-timers.h): make_process_cpuclock(pid, kind).
        let process = |pid: i32, kind: i32| u64::from((!pid << 3 | kind) as u32);
        let thread = |tid: i32, kind: i32| u64::from((!tid << 3 | 4 | kind) as u32);
        assert_eq!(clock_of(0, own), ClockOf::Plain);
        assert_eq!(clock_of(1, own), ClockOf::Plain);
        assert_eq!(clock_of(2, own), ClockOf::OwnProcess(2));
        assert_eq!(clock_of(3, own), ClockOf::OwnThread(3));
        assert_eq!(clock_of(process(0, 2), own), ClockOf::OwnProcess(2));
        assert_eq!(clock_of(process(812, 1), own), ClockOf::OwnProcess(1));
        assert_eq!(clock_of(process(812, 0), own), ClockOf::OwnProcess(0));
        assert_eq!(clock_of(process(813, 2), own), ClockOf::Home);
        assert_eq!(
            clock_of(thread(812, 2), own),
            ClockOf::OwnThread(thread(0, 2))
        );
        assert_eq!(
            clock_of(thread(0, 1), own),
            ClockOf::OwnThread(thread(0, 1))
        );
        assert_eq!(clock_of(thread(9, 2), own), ClockOf::Home);
        // A descriptor's clock (CLOCKFD: ~fd << 3 | 3).
        assert_eq!(clock_of(process(5, 3), own), ClockOf::Home);
        // The same as 64-bit values sign-extended, as a register may hold them.
        assert_eq!(
            clock_of((!812i64 << 3 | 2) as u64, own),
            ClockOf::OwnProcess(2)
        );
        assert_eq!(clock_of(1 << 40, own), ClockOf::Plain);
    }

    use super::*;
    extern crate std;

    #[test]
    fn calls_that_name_a_process_on_the_remote_are_all_local() {
        let named: [u32; 8] = [
            nr::CAPGET,
            nr::SCHED_GETPARAM,
            nr::SCHED_GETSCHEDULER,
            nr::SCHED_RR_GET_INTERVAL,
            nr::SCHED_SETAFFINITY,
            nr::SCHED_GETAFFINITY,
            nr::GET_ROBUST_LIST,
            nr::SCHED_GETATTR,
        ];
        for n in named {
            assert_eq!(class_of(n), Some(Local), "{n}");
            assert!(local_pid_at(n).is_some(), "{n}");
        }
        for &(n, _, c) in SYSCALLS {
            if local_pid_at(n).is_some() {
                assert!(named.contains(&n) && c == Local, "{n}");
            }
        }
        assert_eq!(local_pid_at(nr::CAPGET), Some(PidAt::CapHeader));
        assert_eq!(local_pid_at(nr::GETPID), None);
    }

    #[test]
    fn a_signal_to_itself_is_told_from_one_to_another() {
        let a = |x: u64, y: u64| [x, y, 6, 0, 0, 0];
        assert!(signals_itself(nr::TKILL, &a(700, 0), 700));
        assert!(signals_itself(nr::TGKILL, &a(700, 700), 700));
        assert!(signals_itself(nr::RT_SIGQUEUEINFO, &a(700, 6), 700));
        assert!(signals_itself(nr::RT_TGSIGQUEUEINFO, &a(700, 700), 700));
        // Another thread or process, a pid in the upper half, no home pid yet.
        assert!(!signals_itself(nr::TGKILL, &a(700, 701), 700));
        assert!(!signals_itself(nr::TGKILL, &a(701, 700), 700));
        assert!(!signals_itself(nr::TKILL, &a(701, 0), 700));
        assert!(signals_itself(nr::TKILL, &a(700 | 1 << 32, 0), 700));
        assert!(!signals_itself(nr::TKILL, &a(0, 0), 0));
        // Stop signals stop it at home too.
        assert!(!signals_itself(nr::TKILL, &[700, 19, 0, 0, 0, 0], 700));
        assert!(!signals_itself(nr::TGKILL, &[700, 700, 20, 0, 0, 0], 700));
        assert!(signals_itself(nr::TGKILL, &[700, 700, 18, 0, 0, 0], 700));
        // kill names process groups too: made at home.
        assert!(!signals_itself(nr::KILL, &a(700, 6), 700));
        assert_eq!(signal_targets(nr::WRITE), None);
    }

    #[test]
    fn a_migrated_process_names_only_itself_on_its_host() {
        assert_eq!(own_pid(0, 1234), Some(0));
        assert_eq!(own_pid(1234, 1234), Some(0));
        assert_eq!(own_pid(1, 1234), None);
        assert_eq!(own_pid(u64::MAX, 1234), None);
        // The kernel reads a pid_t from the low 32 bits: so does the check.
        assert_eq!(own_pid((1 << 32) + 1, 1234), None);
        assert_eq!(own_pid((1 << 32) + 1234, 1234), Some(0));
        assert_eq!(own_pid(1 << 32, 1234), Some(0));
    }

    fn class(name: &str) -> Class {
        class_of(number_of(name).unwrap()).unwrap()
    }

    #[test]
    fn table_is_sorted_unique_and_complete() {
        assert_eq!(SYSCALLS.len(), 385);
        for w in SYSCALLS.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
        for (i, a) in SYSCALLS.iter().enumerate() {
            assert!(
                SYSCALLS[i + 1..].iter().all(|b| b.1 != a.1),
                "{} twice",
                a.1
            );
            if let Special(why) | Refused(why) = a.2 {
                // Either a reason, or "as NAME" for a call that is handled like another.
                match why.strip_prefix("as ") {
                    Some(other) => {
                        let other = other.split(';').next().unwrap_or("");
                        assert!(number_of(other).is_some(), "{}: {why}", a.1);
                    }
                    None => assert!(why.len() > 20, "{} needs a reason", a.1),
                }
            }
        }
        // The ends and the gap of the 64-bit table.
        assert_eq!(number_of("read"), Some(0));
        assert_eq!(number_of("uprobe"), Some(336));
        assert_eq!(class_of(337), None);
        assert_eq!(class_of(423), None);
        assert_eq!(number_of("pidfd_send_signal"), Some(424));
        assert_eq!(number_of("rseq_slice_yield"), Some(471));
        assert_eq!(class_of(472), None);
    }

    #[test]
    fn local_calls_the_design_requires() {
        for name in [
            "brk",
            "mprotect",
            "munmap",
            "mremap",
            "madvise",
            "rt_sigaction",
            "rt_sigprocmask",
            "sigaltstack",
            "futex",
            "nanosleep",
            "clock_nanosleep",
            "sched_yield",
            "pause",
        ] {
            assert_eq!(class(name), Local, "{name}");
        }
        // getpid and gettid answer the home pid on the remote; the parent and the user and
        // group ids are the home task's (the guest runs as nobody), so they are asked at home.
        for name in ["getpid", "gettid", "mmap"] {
            assert!(matches!(class(name), Special(_)), "{name}");
        }
        for name in [
            "getppid",
            "getuid",
            "geteuid",
            "getgid",
            "getegid",
            "getgroups",
        ] {
            assert_eq!(class(name), Home, "{name}");
        }
    }

    #[test]
    fn home_calls_the_design_requires() {
        for name in [
            "read",
            "write",
            "open",
            "openat",
            "close",
            "stat",
            "newfstatat",
            "lseek",
            "pipe",
            "pipe2",
            "socket",
            "connect",
            "accept",
            "sendto",
            "recvfrom",
            "ioctl",
            "poll",
            "select",
            "epoll_wait",
            "epoll_ctl",
            "wait4",
            "waitid",
            "kill",
            "uname",
            "getdents64",
            "readlink",
            "chdir",
            "getcwd",
            "dup",
            "fcntl",
            "umask",
        ] {
            assert_eq!(class(name), Home, "{name}");
        }
    }

    #[test]
    fn process_lifecycle_is_special() {
        for name in [
            "fork",
            "vfork",
            "clone",
            "clone3",
            "execve",
            "execveat",
            "exit",
            "exit_group",
        ] {
            assert!(matches!(class(name), Special(_)), "{name}");
        }
        for name in [
            "ptrace",
            "io_uring_setup",
            "userfaultfd",
            "modify_ldt",
            "perf_event_open",
        ] {
            assert!(matches!(class(name), Refused(_)), "{name}");
        }
    }

    #[test]
    fn documentation_lists_every_call_that_is_not_home() {
        let doc = include_str!("../../../Documentation/syscalls.md");
        let section = |title: &str| {
            let start = doc.find(title).unwrap();
            let rest = &doc[start + title.len()..];
            &rest[..rest.find("\n## ").unwrap_or(rest.len())]
        };
        let (local, special, refused) = (
            section("## Local"),
            section("## Special"),
            section("## Refused"),
        );
        for &(nr, name, class) in SYSCALLS {
            let quoted = std::format!("`{name}`");
            let row = std::format!("| {nr} | `{name}` | ");
            match class {
                Local => assert!(local.contains(&quoted), "{name} not listed as local"),
                Special(why) => assert!(special.contains(&(row + why)), "{name}: special row"),
                Refused(why) => assert!(refused.contains(&(row + why)), "{name}: refused row"),
                Home => {}
            }
        }
    }

    #[test]
    fn named_numbers_match_the_table() {
        assert_eq!(nr::ALL.len(), SYSCALLS.len());
        for (&(n, name, upper), &(tn, tname, _)) in nr::ALL.iter().zip(SYSCALLS) {
            assert_eq!((n, name), (tn, tname));
            assert_eq!(upper, name.to_ascii_uppercase());
            assert_eq!(name_of(n), Some(name));
        }
        assert_eq!(nr::READ, 0);
        assert_eq!(nr::RT_SIGACTION, 13);
        assert_eq!(nr::GETTID, 186);
        assert_eq!(nr::EXIT_GROUP, 231);
        assert_eq!(nr::CLONE3, 435);
        assert_eq!(name_of(nr::EXECVEAT), Some("execveat"));
        assert_eq!(name_of(337), None);
        assert_eq!(name_of(u32::MAX), None);
    }

    #[test]
    fn signals() {
        use sig::*;
        let all = [
            SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1,
            SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP,
            SIGTTIN, SIGTTOU,
        ];
        for (i, &s) in all.iter().enumerate() {
            assert!((1..=NSIG).contains(&s));
            assert!(all[i + 1..].iter().all(|&t| t > s));
        }
        assert_eq!((SIGKILL, SIGSEGV, SIGCHLD, SIGSTOP), (9, 11, 17, 19));
    }
}
