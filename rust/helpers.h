/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin C shims over static inline functions and macros that Rust cannot call directly.
 * Every shim carries the module-unique prefix `omx_`.
 */
#ifndef OPENMOSIX_RUST_HELPERS_H
#define OPENMOSIX_RUST_HELPERS_H

#include <linux/types.h>

struct callback_head;
struct inode;
struct mm_struct;
struct pt_regs;
struct socket;
struct task_struct;

/* Release string of the running kernel (`uname -r`): init_utsname() is a static inline. */
const char *omx_kernel_release(void);

/* Private data of a /proc entry (proc_create_data()'s `data`): pde_data() is a static inline. */
void *omx_pde_data(const struct inode *inode);

/*
 * kthread_run() (a macro) that also takes a reference on the new task for the caller, so that
 * kthread_stop() stays valid even after the thread function returned. ERR_PTR on failure.
 */
struct task_struct *omx_kthread_run(int (*fn)(void *), void *data, const char *name);
/* put_task_struct(): a static inline. */
void omx_put_task(struct task_struct *task);
/* get_task_struct() (a static inline) on a task the caller holds a reference to. */
void omx_hold_task(struct task_struct *task);
/* IS_ERR()/PTR_ERR() of a pointer returned by the kernel (0 when not an error). */
long omx_ptr_err(const void *ptr);

/* A kernel socket in the initial network namespace (init_net is not visible to Rust). */
int omx_sock_create(int family, int type, int protocol, struct socket **res);
/* Receive and send timeouts in milliseconds (0: wait forever); lock_sock() is a static inline. */
void omx_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms, unsigned int snd_ms);
/* SO_BROADCAST on a UDP socket: sock_set_flag() is a static inline. */
void omx_sock_set_broadcast(struct socket *sock);

/* Online CPUs: num_online_cpus() is a static inline. */
unsigned int omx_online_cpus(void);
/* Idle plus iowait time of all online CPUs in nanoseconds (kcpustat_cpu() is a macro). */
u64 omx_cpu_idle_ns(void);
/* Runnable tasks on this node, excluding the caller (for_each_process_thread is a macro). */
unsigned int omx_nr_runnable(void);
/*
 * Up to `max` IPv4 addresses of this node's interfaces other than loopback and their broadcast
 * addresses (derived from the mask when unset), in network byte order (for_each_netdev and in_dev_for_each_ifa_rcu are macros).
 * Returns how many were found.
 */
int omx_local_ipv4(__be32 *addr, __be32 *bcast, int max);

/* --- Processes (migration) ---------------------------------------------------------------- */

/* The task with pid `pid` in the initial pid namespace, with a reference; NULL if none. */
struct task_struct *omx_get_task(int pid);
/* Threads in `task`'s thread group: get_nr_threads() is a static inline. */
int omx_nr_threads(struct task_struct *task);
/* init_task_work() (a static inline) then task_work_add(task, cb, mode). */
int omx_task_work_add(struct task_struct *task, struct callback_head *cb,
		      void (*fn)(struct callback_head *), int mode);
/* task_pt_regs(current): a macro. */
struct pt_regs *omx_current_regs(void);
/* current: a macro. */
struct task_struct *omx_current(void);
/* current's pid in the initial namespace (task_pid_nr() is a static inline). */
int omx_current_pid(void);
/* current's nice value (task_nice() is a static inline). */
long omx_current_nice(void);
/* set_user_nice(current, nice): current is a macro. */
void omx_set_current_nice(long nice);
/* current, with a reference (get_task_struct() is a static inline). */
struct task_struct *omx_current_get(void);
/* fatal_signal_pending(current): a static inline. */
/* Whether the system call being made is of the 32-bit or x32 ABI. */
bool omx_in_compat_syscall(void);
/* Whether a seccomp filter confines the calling task. */
bool omx_current_seccomp_filtered(void);
bool omx_fatal_signal_pending(void);
/* The signal that is ending current's process group (its group exit code), or 0. */
int omx_group_exit_code(void);
/*
 * Whether current may migrate `task`: CAP_SYS_ADMIN, or ptrace attach's rule with real
 * credentials (all of its ids are the caller's real ids, and it is dumpable).
 */
bool omx_may_migrate(struct task_struct *task);
/* Whether task runs as root: its real or effective user id is 0. */
bool omx_task_is_root(struct task_struct *task);
/* Whether the caller has CAP_SYS_ADMIN. */
bool omx_current_is_admin(void);
bool omx_writer_may_write(struct file *file);
/* try_module_get(THIS_MODULE) and module_put(THIS_MODULE): THIS_MODULE is a macro. */
bool omx_module_get(void);
void omx_module_put(void);
/*
 * Waits until every task has passed a voluntary context switch or user mode since the call
 * (RCU Tasks): a task that dropped its reference on the module while still running its code
 * (on its way back from task work) has left that code by then.
 */
void omx_wait_tasks_off_module(void);
/*
 * Whether the page at `addr` of the calling process has contents of its own, as a core dump
 * sees it (FOLL_DUMP): 0 for a page of an anonymous area that was never written (no page, or
 * the shared zero page), found without faulting it in; 1 for any other page, swapped out or
 * not, and whenever the answer cannot be had (the caller then reads the page).
 */
int omx_page_has_data(unsigned long addr);
/* Whether `task` ended (exit_state set), and then its exit code. */
bool omx_task_exited(struct task_struct *task, int *code);
/*
 * Reasons a task cannot leave its node, as openMosix stay bits: defined here only (Rust reads
 * them through bindgen, rust/task.rs `stay`).
 */
#define OMX_STAY_KTHREAD	(1u << 0)
#define OMX_STAY_INIT		(1u << 1)
#define OMX_STAY_THREADS	(1u << 2)
#define OMX_STAY_RT		(1u << 3)
#define OMX_STAY_NOMM		(1u << 4)
#define OMX_STAY_EXITING	(1u << 5)
#define OMX_STAY_MLOCK		(1u << 6)
#define OMX_STAY_SHARED_MAP	(1u << 7)
#define OMX_STAY_REMOTE		(1u << 8)
/* The task-level stay bits (the VMA-level ones are found by walking the areas). */
u32 omx_task_stay_bits(struct task_struct *task);

/* One memory area as the capture sees it. */
struct omx_vma {
	u64 start, end, flags, pgoff;
	/* 1: a special mapping whose name ("[vdso]", ...) is in the path buffer. */
	u32 special;
	/* Bytes of the file path (or special name) written to the path buffer; 0 for anonymous. */
	u32 path_len;
	/* An area whose pages come from home (omx_map_home()): its cookie; else 0. */
	u64 home;
};
/* The first area of `mm` ending above `addr` (find_vma() under mmap_read_lock(), an inline). */
int omx_vma_find(struct mm_struct *mm, unsigned long addr, struct omx_vma *out, char *path,
		 int path_size);
/* task->start_time: with the pid, names a process across pid reuse. */
u64 omx_task_start_time(struct task_struct *task);
/* The CPU time `task` used, user and system, in ns (as getrusage counts it for a task). */
void omx_task_cputime(struct task_struct *task, u64 *user, u64 *system);
/* Adds CPU time that current's process used elsewhere (user, system, in ns) to its account, as
 * the kernel adds that of a thread that ended: getrusage, times and the parent's wait count
 * it. */
void omx_account_away(u64 user, u64 system);
/* One user process, as the balancer samples it. */
struct omx_proc {
	s32 pid, ppid;
	u32 uid;
	/* omx_task_stay_bits(). */
	u32 stay;
	/* Start time (ns since boot): with the pid, names the process across pid reuse. */
	u64 start;
	/* CPU time of the thread-group leader so far, ns. */
	u64 exec_ns;
	/* Resident pages. */
	u64 rss_pages;
	/* 1: runnable now (running or waiting for a CPU). */
	u32 running;
	/* Effective user id (`uid` is the real one). */
	u32 euid;
};
/* Fills `out` with up to `max` user processes (not kernel threads); returns how many. */
int omx_snapshot_procs(struct omx_proc *out, int max);
/* Whether file descriptor `fd` of current is the root directory of a proc file system (the one
 * whose entries name processes). */
bool omx_fd_is_proc_root(int fd);
/* Blocks every signal that can be blocked (`all`), or none, in current. */
void omx_block_signals(bool all);
/* kill(-1, sig) as current makes it (same permission checks and siginfo), but for the processes
 * whose pid (tgid) is one of the `nskip` in `skip`; returns 0 or -errno as kill() would. */
int omx_kill_all_except(int sig, const int *skip, int nskip);
/* mm of current (NULL for kernel threads). */
struct mm_struct *omx_current_mm(void);
/* get_task_mm() with the task's alloc_lock; mmput() when done. */
struct mm_struct *omx_task_mm(struct task_struct *task);
/* The layout fields start_code ... env_end (11) and the vDSO text address. */
void omx_mm_layout(struct mm_struct *mm, u64 *out12);
/* Sets current->mm's layout fields start_code ... env_end (11), under the mmap write lock. */
void omx_mm_set_layout(const u64 *in11);

/*
 * current's user FPU state: saves the live registers to memory (kernel_fpu_begin_mask() and
 * kernel_fpu_end() leave TIF_NEED_FPU_LOAD set, so the memory is what returns to user mode) and
 * returns the kernel-format XSAVE buffer, its size and its feature set.
 */
void *omx_fpu_user_state(u32 *size, u64 *xfeatures);
/*
 * What the restore checks an image's FPU state against: the components a user process of
 * this node may have in use (current's fpstate->user_xfeatures, no supervisor component) and
 * the MXCSR bits this CPU implements (MXCSR_MASK of an FXSAVE, 0xffbf when it reports none).
 */
void omx_fpu_limits(u64 *user_xfeatures, u32 *mxcsr_mask);
/*
 * The lowest address this node lets an unprivileged process map: vm.mmap_min_addr, read from
 * /proc/sys/vm/mmap_min_addr (the variable is not exported to modules); where that file cannot
 * be read (no /proc in the caller's mount namespace), the boot default, at least 64 KiB.
 */
unsigned long omx_mmap_min_addr(void);
/* current's user FS and GS base. */
/* Reads current's own /proc/self/<name> (name NUL-terminated) into buf, at most len bytes:
 * the bytes read, -EFBIG if the file holds more than len, or another -errno. Process context,
 * with user registers (its user stack below the red zone is the read's buffer). */
ssize_t omx_read_own_proc(const char *name, void *buf, size_t len);
void omx_get_fsgs(u64 *fs, u64 *gs);
/* Sets current's user FS and GS base (as arch_prctl(ARCH_SET_FS/GS) does). */
void omx_set_fsgs(u64 fs, u64 gs);

/* One signal action in the image's terms. */
struct omx_sigaction {
	u64 handler, flags, restorer, mask;
};
/* current's blocked and pending signals, alternate stack and the 64 actions. */
void omx_sig_get(u64 *blocked, u64 *pending, u64 *alt3, struct omx_sigaction *act64);
/* Sets current's blocked mask, alternate stack and actions (SIGKILL and SIGSTOP left alone). */
void omx_sig_set(u64 blocked, const u64 *alt3, const struct omx_sigaction *act64);
/* Size of the fields of a siginfo after its number, errno and code (x86-64). */
#define OMX_SIGINFO_FIELDS 32
/* Dequeues one pending signal of current other than SIGKILL: any with `blocked_too`, else one
 * that current does not block, or SIGCONT; 0 when none. Its siginfo's code, errno and
 * OMX_SIGINFO_FIELDS bytes of fields go to the out-parameters. */
int omx_dequeue_signal(bool blocked_too, int *code, int *err, u8 *fields);
/*
 * Sends `task` signal `sig` with the siginfo `code`, `err` and OMX_SIGINFO_FIELDS bytes of
 * `fields` (as a signal taken by omx_dequeue_signal had). 0 or -errno.
 */
int omx_signal_from(struct task_struct *task, int sig, int code, int err, const u8 *fields);
/* current's real user id, in its own user namespace. */
u32 omx_real_uid(void);
/* The calling task's real user and group ids as the initial user namespace sees them (a user
 * who is root only in a namespace of its own is its own uid here). */
u32 omx_init_real_uid(void);
u32 omx_init_real_gid(void);
/* current's blocked mask (signals 1..64, bit 0: signal 1). */
u64 omx_blocked_mask(void);
/* current's pending signals, its own and its process's (signals 1..64, bit 0: signal 1). */
u64 omx_pending_mask(void);
/* A call made with a temporary signal mask (pselect6, ppoll, epoll_pwait) and interrupted leaves
 * that mask set until the signal is delivered, and the mask to restore after it in saved_sigmask
 * (TIF_RESTORE_SIGMASK). Takes that state off current: true and the temporary mask in *mask, or
 * false when there is none. The caller sets the mask it wants. */
bool omx_take_temporary_mask(u64 *mask);
/* Ends a call made with temporary mask `temp` as the kernel ends its own
 * (restore_saved_sigmask_unless): when a signal is pending under `temp`, current blocks `temp`
 * until that signal is delivered and its mask is restored after; true then. Otherwise nothing
 * changes: false. */
bool omx_deliver_under(u64 temp);
/* Sets current's blocked mask to `mask`; with `default_only`, only the signals of `mask` whose
 * action is SIG_DFL are blocked. SIGKILL and SIGSTOP are never blocked. */
void omx_set_blocked_mask(u64 mask, bool default_only);
bool omx_pgrp_orphaned(void);
/* current's 16 resource limits (cur, max pairs) and their replacement. */
void omx_rlim_get(u64 *out32);
void omx_rlim_set(const u64 *in32);
/* current's umask and personality. */
void omx_misc_get(u32 *umask, u32 *personality);
void omx_misc_set(u32 umask, u32 personality);
/* Process task's interval timers, in ns: time left and interval of ITIMER_REAL,
 * ITIMER_VIRTUAL and ITIMER_PROF (out[6]), as getitimer(2) reads them; 0 for one not armed
 * (all 0 once it has exited). task must be referenced. */
void omx_task_itimers(struct task_struct *task, u64 *out);
/* Process task's pending signals, its own and its process's, blocked or not (bit 0: signal
 * 1); 0 once it has exited. task must be referenced. */
u64 omx_task_pending_mask(struct task_struct *task);
/* Arms (value_ns 0: disarms) the calling process's ITIMER_REAL, as setitimer(2) does. */
void omx_set_own_itimer_real(u64 value_ns, u64 interval_ns);
/*
 * The calling thread's restartable-sequences registration (all zero when it has none, or when
 * the kernel has no CONFIG_RSEQ).
 */
void omx_rseq_get(u64 *addr, u32 *len, u32 *sig);
/* Sets current's clear_child_tid, as set_tid_address(2) does (the kernel writes 0 there and
 * wakes a futex on it when the thread exits). */
void omx_set_clear_child_tid(u64 addr);
/*
 * Makes (`addr`, `len`, `sig`) the calling thread's registration, replacing the one it had, as
 * rseq(2) would register it on a thread with none (the same checks, the same initial fields),
 * or removes it when `len` is 0. 0, -EINVAL for an area rseq(2) refuses, -EFAULT when the area
 * cannot be written, -ENOSYS without CONFIG_RSEQ when a registration is asked for.
 */
int omx_rseq_set(u64 addr, u32 len, u32 sig);
/*
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME now, in ns: as the calling task sees them (its time
 * namespace's offsets added) with `own_view`, else the kernel's own.
 */
void omx_clocks_now(bool own_view, u64 *mono, u64 *boot);
/* current's comm (16 bytes, NUL-padded) and its replacement (set_task_comm() is a macro). */
void omx_comm_get(char *out16);
void omx_comm_set(const char *in16);
/*
 * Whether current runs as the unprivileged user (uid, gid) in every id (real, effective, saved,
 * file system), with no supplementary group, no capability in any set (bounding set included),
 * in the initial user namespace, and charged to that user's accounting (its user_struct and
 * ucounts are uid's, as setresuid() makes them).
 */
bool omx_current_runs_as(u32 uid, u32 gid);
/*
 * Starts `path` with `argv` as a user-mode helper and returns once it has been executed;
 * `init(data)` runs first in the new task (a non-zero return aborts it).
 */
int omx_spawn(const char *path, char **argv, int (*init)(void *data), void *data);

/* --- Tracepoints --------------------------------------------------------------------------- */

struct tracepoint;
/* The kernel tracepoint called `name` (for_each_kernel_tracepoint() with a name match). */
struct tracepoint *omx_find_tracepoint(const char *name);
/* tracepoint_synchronize_unregister(): a static inline. */
void omx_tracepoint_sync(void);
/* signal_pending(current): a static inline. */
bool omx_signal_pending(void);

/* Guests' /proc/PID hidden from all but the guest itself and CAP_SYS_ADMIN (see helpers.c). omx_hide_pid adds a
 * pid (false when 1024 are hidden already), omx_unhide_pid removes it; the probes act once
 * omx_pid_hiding_register succeeded, until omx_pid_hiding_unregister (once, after it). */
bool omx_hide_pid(u32 pid);
void omx_unhide_pid(u32 pid);
int omx_pid_hiding_register(void);
void omx_pid_hiding_unregister(void);

#endif /* OPENMOSIX_RUST_HELPERS_H */


/*
 * Areas whose pages come from home. omx_map_home() maps, in the calling process, an area of a
 * file of the module's own whose faults ask the registered pager for each page: `cookie` names
 * what the area pages from, `pgoff` the page offset of its start. The file pins the module for
 * as long as the area exists. Returns the address or -errno (vm_mmap()'s checks).
 */
/* The cookie bit of an area mapped shared at home (read-only). */
#define OMX_HOME_SHARED		(1ull << 16)
/* The cookie bit of a shared area whose file is open for writing (image::HOME_MAY_WRITE). */
#define OMX_HOME_MAY_WRITE	(1ull << 15)
typedef int (*omx_home_pager_fn)(void *data, u64 cookie, u64 pgoff, void *page);
void omx_home_pager_set(omx_home_pager_fn fn, void *data);
long omx_map_home(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
		  u64 pgoff, u64 cookie);
/* The file open as fd in the calling process, referenced, if a process may map it from home. */
struct file *omx_home_file_get(int fd, unsigned long prot);
long omx_home_file_read(struct file *file, void *buf, unsigned long len, u64 off);
/* Maps file at addr exactly (MAP_FIXED_NOREPLACE), shared or private. */
long omx_home_file_map(struct file *file, unsigned long addr, unsigned long len,
		       unsigned long prot, bool shared, u64 off);
void omx_fput(struct file *file);
bool omx_file_writable(struct file *file);
/* The regular file open as fd in the calling process, referenced: for reading, or (append)
 * open for writing with O_APPEND. ERR_PTR(-EBADF, -EINVAL for another kind, -EACCES). */
struct file *omx_ckpt_file_get(int fd, bool append);
/* Appends len bytes at buf (a kernel address) to file (open with O_APPEND): all, or -errno. */
long omx_ckpt_file_append(struct file *file, const void *buf, unsigned long len);
/* Whether task is stopped (job control) or traced. */
bool omx_task_stopped(struct task_struct *task);
/* The regular file mapped at addr by the calling process (not an area paged from home),
 * referenced; NULL if none. */
struct file *omx_area_file(unsigned long addr);
/* n (at most 512) entries of the calling process's /proc/self/pagemap from addr's page (read
 * through its stack below the red zone, as omx_read_own_proc()). 0 or -errno. */
int omx_own_pagemap(unsigned long addr, u64 *out, unsigned int n);
/* Clears the soft-dirty bits of the calling process's pages (as "4" written to its
 * /proc/self/clear_refs): its next pagemap tells the pages it wrote since. */
int omx_own_clear_soft_dirty(void);

/* Installs a new reference on file as the lowest free descriptor of the calling task (no
 * flags): the descriptor, or -errno. */
int omx_file_install(struct file *file);
/* Sets the position of the calling task's descriptor fd, a regular file, to pos (SEEK_SET):
 * 0 or -errno (-EBADF: no such descriptor; -EINVAL: not a regular file). */
int omx_own_seek(int fd, s64 pos);
