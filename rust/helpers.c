// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C shims for the openmosix module's Rust code; see helpers.h.
 */
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <linux/sched/coredump.h>
#include <linux/sched/cputime.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/mm.h>
#include <linux/sched/rt.h>
#include <linux/sched/task_stack.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/umh.h>
#include <linux/user_namespace.h>
#include <asm/fpu/api.h>
#include <asm/fsgsbase.h>
#include <asm/msr.h>
#include <linux/inetdevice.h>
#include <linux/kernel_stat.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/utsname.h>
#include <uapi/linux/magic.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include <linux/kprobes.h>
#include <linux/dcache.h>
#include <linux/shmem_fs.h>
#include <linux/srcu.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/rseq.h>
#include <linux/time_namespace.h>

#include "helpers.h"

const char *omx_kernel_release(void)
{
	return init_utsname()->release;
}

void *omx_pde_data(const struct inode *inode)
{
	return pde_data(inode);
}

struct task_struct *omx_kthread_run(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *task = kthread_create(fn, data, "%s", name);

	if (IS_ERR(task))
		return task;
	get_task_struct(task);
	wake_up_process(task);
	return task;
}

void omx_put_task(struct task_struct *task)
{
	put_task_struct(task);
}

void omx_hold_task(struct task_struct *task)
{
	get_task_struct(task);
}

long omx_ptr_err(const void *ptr)
{
	return IS_ERR(ptr) ? PTR_ERR(ptr) : 0;
}

int omx_sock_create(int family, int type, int protocol, struct socket **res)
{
	return sock_create_kern(&init_net, family, type, protocol, res);
}

void omx_sock_set_timeouts(struct socket *sock, unsigned int rcv_ms, unsigned int snd_ms)
{
	struct sock *sk = sock->sk;

	lock_sock(sk);
	sk->sk_rcvtimeo = rcv_ms ? msecs_to_jiffies(rcv_ms) : MAX_SCHEDULE_TIMEOUT;
	sk->sk_sndtimeo = snd_ms ? msecs_to_jiffies(snd_ms) : MAX_SCHEDULE_TIMEOUT;
	release_sock(sk);
}

void omx_sock_set_broadcast(struct socket *sock)
{
	sock_set_flag(sock->sk, SOCK_BROADCAST);
}

unsigned int omx_online_cpus(void)
{
	return num_online_cpus();
}

u64 omx_cpu_idle_ns(void)
{
	u64 idle = 0;
	int cpu;

	for_each_online_cpu(cpu) {
		idle += kcpustat_cpu(cpu).cpustat[CPUTIME_IDLE];
		idle += kcpustat_cpu(cpu).cpustat[CPUTIME_IOWAIT];
	}
	return idle;
}

unsigned int omx_nr_runnable(void)
{
	struct task_struct *g, *t;
	unsigned int n = 0;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		if (t != current && task_is_running(t) && !(t->flags & PF_IDLE))
			n++;
	}
	rcu_read_unlock();
	return n;
}

int omx_local_ipv4(__be32 *addr, __be32 *bcast, int max)
{
	struct net_device *dev;
	int n = 0;

	rcu_read_lock();
	for_each_netdev_rcu(&init_net, dev) {
		struct in_device *in_dev = __in_dev_get_rcu(dev);
		const struct in_ifaddr *ifa;

		if (!in_dev || (dev->flags & IFF_LOOPBACK))
			continue;
		in_dev_for_each_ifa_rcu(ifa, in_dev) {
			if (n < max) {
				addr[n] = ifa->ifa_local;
				/* An address added without `brd` has none: derive it from the mask. */
				bcast[n] = ifa->ifa_broadcast ?: (ifa->ifa_local | ~ifa->ifa_mask);
				n++;
			}
		}
	}
	rcu_read_unlock();
	return n;
}

/* --- Processes (migration) -------------------------------------------------------------------- */

struct task_struct *omx_get_task(int pid)
{
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	return task;
}

int omx_nr_threads(struct task_struct *task)
{
	return get_nr_threads(task);
}

int omx_task_work_add(struct task_struct *task, struct callback_head *cb,
		      void (*fn)(struct callback_head *), int mode)
{
	init_task_work(cb, fn);
	return task_work_add(task, cb, mode);
}

struct pt_regs *omx_current_regs(void)
{
	return task_pt_regs(current);
}

struct task_struct *omx_current(void)
{
	return current;
}

int omx_current_pid(void)
{
	return task_pid_nr(current);
}

long omx_current_nice(void)
{
	return task_nice(current);
}

void omx_set_current_nice(long nice)
{
	set_user_nice(current, nice);
}

struct task_struct *omx_current_get(void)
{
	get_task_struct(current);
	return current;
}

bool omx_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

bool omx_in_compat_syscall(void)
{
	return in_compat_syscall();
}

bool omx_current_seccomp_filtered(void)
{
#ifdef CONFIG_SECCOMP_FILTER
	return READ_ONCE(current->seccomp.mode) == SECCOMP_MODE_FILTER;
#else
	return false;
#endif
}

int omx_group_exit_code(void)
{
	if (!(READ_ONCE(current->signal->flags) & SIGNAL_GROUP_EXIT))
		return 0;
	return READ_ONCE(current->signal->group_exit_code);
}

bool omx_may_migrate(struct task_struct *task)
{
	const struct cred *me = current_cred();
	const struct cred *them;
	struct task_exec_state *es;
	bool ok;

	if (capable(CAP_SYS_ADMIN))
		return true;
	/*
	 * The rule of ptrace attach with real credentials (PTRACE_MODE_ATTACH_REALCREDS): the
	 * caller's real uid and gid are all of the task's ids, and the task is dumpable (not a
	 * setuid or setgid program, nor one that made itself undumpable).
	 */
	rcu_read_lock();
	them = __task_cred(task);
	ok = uid_eq(me->uid, them->euid) && uid_eq(me->uid, them->suid) &&
	     uid_eq(me->uid, them->uid) && gid_eq(me->gid, them->egid) &&
	     gid_eq(me->gid, them->sgid) && gid_eq(me->gid, them->gid);
	es = rcu_dereference(task->exec_state);
	ok = ok && es && READ_ONCE(es->dumpable) == TASK_DUMPABLE_OWNER;
	rcu_read_unlock();
	return ok;
}

/*
 * Whether the calling task may write to FILE, a file of the module's whose writes are
 * requests, when it may not be the one that opened it: it has the opener's credentials; or
 * the opener had CAP_SYS_ADMIN (the writer's request is then judged by the writer's own
 * rights); or it has every one of the opener's ids and no capability the opener lacked. So a
 * more privileged program handed the descriptor, a setuid one writing its output to it, say,
 * cannot be made to write a request with its privilege. Logs a refusal (rate-limited).
 */
bool omx_writer_may_write(struct file *file)
{
	const struct cred *o = file->f_cred;
	const struct cred *w = current_cred();

	if (o == w)
		return true;
	if (file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN))
		return true;
	if (o->user_ns == w->user_ns && uid_eq(o->uid, w->uid) && uid_eq(o->euid, w->euid) &&
	    uid_eq(o->suid, w->suid) && uid_eq(o->fsuid, w->fsuid) && gid_eq(o->gid, w->gid) &&
	    gid_eq(o->egid, w->egid) && gid_eq(o->sgid, w->sgid) && gid_eq(o->fsgid, w->fsgid) &&
	    cap_issubset(w->cap_effective, o->cap_effective))
		return true;
	pr_warn_ratelimited("openmosix: write to %pD by process %d refused: it has other ids or more privilege than the opener of the file\n",
			    file, task_tgid_vnr(current));
	return false;
}

bool omx_task_is_root(struct task_struct *task)
{
	const struct cred *c;
	bool root;

	rcu_read_lock();
	c = __task_cred(task);
	root = uid_eq(c->uid, GLOBAL_ROOT_UID) || uid_eq(c->euid, GLOBAL_ROOT_UID);
	rcu_read_unlock();
	return root;
}

bool omx_current_is_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

bool omx_module_get(void)
{
	return try_module_get(THIS_MODULE);
}

void omx_module_put(void)
{
	module_put(THIS_MODULE);
}

void omx_wait_tasks_off_module(void)
{
	synchronize_rcu_tasks();
}

int omx_page_has_data(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct page *page;
	long n;

	if (!mm || mmap_read_lock_killable(mm))
		return 1;
	n = get_user_pages(addr, 1, FOLL_DUMP, &page);
	mmap_read_unlock(mm);
	if (n == 1) {
		put_page(page);
		return 1;
	}
	return n != -EFAULT;
}

bool omx_task_exited(struct task_struct *task, int *code)
{
	if (!READ_ONCE(task->exit_state))
		return false;
	*code = READ_ONCE(task->exit_code);
	return true;
}

void omx_task_cputime(struct task_struct *task, u64 *user, u64 *system)
{
	task_cputime_adjusted(task, user, system);
}

void omx_account_away(u64 user, u64 system)
{
	struct signal_struct *sig = current->signal;

	/* As __exit_signal adds a thread that ended to its process's account. */
	spin_lock_irq(&current->sighand->siglock);
	write_seqlock(&sig->stats_lock);
	sig->utime += user;
	sig->stime += system;
	sig->sum_sched_runtime += user + system;
	write_sequnlock(&sig->stats_lock);
	spin_unlock_irq(&current->sighand->siglock);
}

u32 omx_task_stay_bits(struct task_struct *task)
{
	u32 bits = 0;

	if (task->flags & PF_KTHREAD)
		bits |= OMX_STAY_KTHREAD;
	if (is_global_init(task))
		bits |= OMX_STAY_INIT;
	if (get_nr_threads(task) > 1)
		bits |= OMX_STAY_THREADS;
	if (rt_or_dl_task_policy(task))
		bits |= OMX_STAY_RT;
	if (task->flags & PF_EXITING)
		bits |= OMX_STAY_EXITING;
	task_lock(task);
	if (!task->mm)
		bits |= OMX_STAY_NOMM;
	else if (task->mm->def_flags & VM_LOCKED)
		bits |= OMX_STAY_MLOCK;
	else if (atomic_read(&task->mm->mm_users) > get_nr_threads(task))
		bits |= OMX_STAY_THREADS; /* another process shares the memory (CLONE_VM) */
	task_unlock(task);
	return bits;
}

u64 omx_task_start_time(struct task_struct *task)
{
	return task->start_time;
}

int omx_snapshot_procs(struct omx_proc *out, int max)
{
	struct task_struct *p;
	int n = 0;

	rcu_read_lock();
	for_each_process(p) {
		if (n >= max)
			break;
		if (p->flags & PF_KTHREAD)
			continue;
		out[n].pid = task_tgid_nr(p);
		out[n].ppid = task_tgid_nr(rcu_dereference(p->real_parent));
		out[n].uid = from_kuid_munged(&init_user_ns, task_uid(p));
		out[n].stay = omx_task_stay_bits(p);
		out[n].start = p->start_time;
		out[n].exec_ns = READ_ONCE(p->se.sum_exec_runtime);
		out[n].running = task_is_running(p);
		out[n].rss_pages = 0;
		task_lock(p);
		if (p->mm)
			out[n].rss_pages = get_mm_rss(p->mm);
		task_unlock(p);
		out[n].euid = from_kuid_munged(&init_user_ns, task_euid(p));
		n++;
	}
	rcu_read_unlock();
	return n;
}

bool omx_fd_is_proc_root(int fd)
{
	CLASS(fd, f)(fd);
	struct dentry *d;

	if (fd_empty(f))
		return false;
	d = fd_file(f)->f_path.dentry;
	return d->d_sb->s_magic == PROC_SUPER_MAGIC && d == d->d_sb->s_root;
}

int omx_kill_all_except(int sig, const int *skip, int nskip)
{
	struct task_struct *p;
	int count = 0, retval = 0, err, i;

	/* kill_something_info() for pid -1, under RCU instead of tasklist_lock. */
	rcu_read_lock();
	for_each_process(p) {
		bool skipped = false;

		if (task_pid_vnr(p) <= 1 || same_thread_group(p, current))
			continue;
		for (i = 0; i < nskip; i++)
			skipped |= skip[i] == task_tgid_nr(p);
		if (skipped)
			continue;
		count++;
		/* priv 0: SEND_SIG_NOINFO, checked and filled in as for kill(). */
		err = kill_pid(task_tgid(p), sig, 0);
		if (err != -EPERM)
			retval = err;
	}
	rcu_read_unlock();
	return count ? retval : -ESRCH;
}

static const struct vm_operations_struct omx_home_vm_ops;

int omx_vma_find(struct mm_struct *mm, unsigned long addr, struct omx_vma *out, char *path,
		 int path_size)
{
	struct vm_area_struct *vma;
	const char *name = NULL;
	int ret = -ENOENT;

	mmap_read_lock(mm);
	vma = find_vma(mm, addr);
	if (vma) {
		out->start = vma->vm_start;
		out->end = vma->vm_end;
		out->flags = vma->vm_flags;
		out->pgoff = vma->vm_pgoff;
		out->special = 0;
		out->path_len = 0;
		out->home = 0;
		if (vma->vm_ops && vma->vm_ops->name)
			name = vma->vm_ops->name(vma);
		if (vma->vm_ops == &omx_home_vm_ops) {
			out->home = (u64)(unsigned long)vma->vm_private_data;
		} else if (name) {
			out->special = 1;
			out->path_len = max(strscpy(path, name, path_size), 0);
		} else if (vma->vm_file) {
			char *p = file_path(vma->vm_file, path, path_size);

			if (!IS_ERR(p)) {
				out->path_len = strlen(p);
				memmove(path, p, out->path_len);
			}
		}
		ret = 0;
	}
	mmap_read_unlock(mm);
	return ret;
}

struct mm_struct *omx_current_mm(void)
{
	return current->mm;
}

struct mm_struct *omx_task_mm(struct task_struct *task)
{
	return get_task_mm(task);
}

void omx_mm_layout(struct mm_struct *mm, u64 *out)
{
	spin_lock(&mm->arg_lock);
	out[0] = mm->start_code;
	out[1] = mm->end_code;
	out[2] = mm->start_data;
	out[3] = mm->end_data;
	out[4] = mm->start_brk;
	out[5] = mm->brk;
	out[6] = mm->start_stack;
	out[7] = mm->arg_start;
	out[8] = mm->arg_end;
	out[9] = mm->env_start;
	out[10] = mm->env_end;
	spin_unlock(&mm->arg_lock);
	out[11] = (u64)(unsigned long)mm->context.vdso;
}

void omx_mm_set_layout(const u64 *in)
{
	struct mm_struct *mm = current->mm;

	mmap_write_lock(mm);
	spin_lock(&mm->arg_lock);
	mm->start_code = in[0];
	mm->end_code = in[1];
	mm->start_data = in[2];
	mm->end_data = in[3];
	mm->start_brk = in[4];
	mm->brk = in[5];
	mm->start_stack = in[6];
	mm->arg_start = in[7];
	mm->arg_end = in[8];
	mm->env_start = in[9];
	mm->env_end = in[10];
	spin_unlock(&mm->arg_lock);
	mmap_write_unlock(mm);
}

/*
 * A task's FPU state lies right after its task_struct (x86_task_fpu() in asm/processor.h). With
 * CONFIG_X86_DEBUG_FPU, which Debian's kernel has, x86_task_fpu() is a function that is not
 * exported, so the module finds the state the same way itself; the task here is always a user
 * task in its own context, never the kernel thread that the debug function warns about.
 */
static struct fpu *omx_task_fpu(struct task_struct *task)
{
	return (struct fpu *)((void *)task + sizeof(*task));
}

void *omx_fpu_user_state(u32 *size, u64 *xfeatures)
{
	struct fpstate *fps;

	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
	fps = omx_task_fpu(current)->fpstate;
	*size = fps->size;
	*xfeatures = fps->xfeatures;
	return &fps->regs.xsave;
}

void omx_fpu_limits(u64 *user_xfeatures, u32 *mxcsr_mask)
{
	struct fxregs_state fx = {};

	*user_xfeatures = omx_task_fpu(current)->fpstate->user_xfeatures;
	kernel_fpu_begin();
	asm volatile("fxsaveq %[fx]" : [fx] "=m" (fx));
	kernel_fpu_end();
	*mxcsr_mask = fx.mxcsr_mask ? fx.mxcsr_mask : 0x0000ffbf;
}

unsigned long omx_mmap_min_addr(void)
{
	unsigned long fallback = max(CONFIG_DEFAULT_MMAP_MIN_ADDR, 65536);
	unsigned long v;
	struct file *f;
	char buf[24] = {};
	loff_t pos = 0;
	ssize_t n;

	f = filp_open("/proc/sys/vm/mmap_min_addr", O_RDONLY, 0);
	if (IS_ERR(f))
		return fallback;
	n = kernel_read(f, buf, sizeof(buf) - 1, &pos);
	filp_close(f, NULL);
	if (n <= 0)
		return fallback;
	buf[n] = 0;
	if (kstrtoul(strim(buf), 10, &v))
		return fallback;
	return v;
}

/* The files of /proc/PID that show a process's memory are read through a user buffer only
 * (seq_read, proc_pid_cmdline_read...). The one used is the calling process's stack below its
 * red zone, which is scratch for the kernel as for a signal frame; a stack that cannot take it
 * fails the read with -EFAULT. */
#define OMX_PROC_CHUNK 4096

ssize_t omx_read_own_proc(const char *name, void *buf, size_t len)
{
	unsigned long sp = current_pt_regs()->sp;
	char __user *ubuf = (char __user *)((sp - 128 - OMX_PROC_CHUNK) & ~63UL);
	char path[64];
	struct file *f;
	loff_t pos = 0;
	ssize_t n, total = 0;

	/* A stack pointer too low to have room below it: no buffer (copy_to_user would refuse
	 * a wrapped address anyway). */
	if (sp < PAGE_SIZE + 128 + OMX_PROC_CHUNK)
		return -EFAULT;
	if (snprintf(path, sizeof(path), "/proc/self/%s", name) >= sizeof(path))
		return -ENAMETOOLONG;
	/* A guest runs as another user than at home, which may not own its /proc files: they are
	 * its own, opened with the kernel's credentials (their own checks, mm_access, let a
	 * process read itself). */
	scoped_with_kernel_creds()
		f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (!(f->f_mode & FMODE_READ) || !f->f_op->read) {
		total = -EINVAL;
		goto out;
	}
	for (;;) {
		size_t want = total < len ? min_t(size_t, len - total, OMX_PROC_CHUNK) : 1;

		n = f->f_op->read(f, ubuf, want, &pos);
		if (n <= 0) {
			if (n < 0)
				total = n;
			break;
		}
		if (n > want) {
			total = -EIO;
			break;
		}
		if (total >= len) {
			/* The buffer is full and the file goes on. */
			total = -EFBIG;
			break;
		}
		if (copy_from_user(buf + total, ubuf, n)) {
			total = -EFAULT;
			break;
		}
		total += n;
	}
out:
	filp_close(f, NULL);
	return total;
}

void omx_get_fsgs(u64 *fs, u64 *gs)
{
	preempt_disable();
	*fs = x86_fsbase_read_cpu();
	*gs = native_rdmsrq(MSR_KERNEL_GS_BASE);
	preempt_enable();
}

void omx_set_fsgs(u64 fs, u64 gs)
{
	preempt_disable();
	current->thread.fsbase = fs;
	current->thread.gsbase = gs;
	current->thread.fsindex = 0;
	current->thread.gsindex = 0;
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(fs);
	native_wrmsrq(MSR_KERNEL_GS_BASE, gs);
	preempt_enable();
}

void omx_sig_get(u64 *blocked, u64 *pending, u64 *alt3, struct omx_sigaction *act)
{
	struct sighand_struct *sh = current->sighand;
	int i;

	spin_lock_irq(&sh->siglock);
	*blocked = current->blocked.sig[0];
	*pending = current->pending.signal.sig[0] | current->signal->shared_pending.signal.sig[0];
	for (i = 0; i < 64; i++) {
		struct sigaction *sa = &sh->action[i].sa;

		act[i].handler = (u64)(unsigned long)sa->sa_handler;
		act[i].flags = sa->sa_flags;
		act[i].restorer = (u64)(unsigned long)sa->sa_restorer;
		act[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irq(&sh->siglock);
	alt3[0] = current->sas_ss_sp;
	alt3[1] = current->sas_ss_size;
	alt3[2] = current->sas_ss_flags;
}

void omx_sig_set(u64 blocked, const u64 *alt3, const struct omx_sigaction *act)
{
	struct sighand_struct *sh = current->sighand;
	sigset_t mask;
	int i;

	spin_lock_irq(&sh->siglock);
	for (i = 0; i < 64; i++) {
		struct sigaction *sa = &sh->action[i].sa;

		if (i + 1 == SIGKILL || i + 1 == SIGSTOP)
			continue;
		sa->sa_handler = (__sighandler_t)(unsigned long)act[i].handler;
		sa->sa_flags = act[i].flags;
		sa->sa_restorer = (__sigrestore_t)(unsigned long)act[i].restorer;
		sa->sa_mask.sig[0] = act[i].mask & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	}
	spin_unlock_irq(&sh->siglock);
	mask.sig[0] = blocked & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &mask, NULL);
	current->sas_ss_sp = alt3[0];
	current->sas_ss_size = alt3[1];
	current->sas_ss_flags = alt3[2];
}

void omx_block_signals(bool all)
{
	sigset_t mask;

	if (all)
		sigfillset(&mask);
	else
		sigemptyset(&mask);
	sigdelsetmask(&mask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &mask, NULL);
}

int omx_dequeue_signal(bool blocked_too, int *code, int *err, u8 *fields)
{
	kernel_siginfo_t info;
	enum pid_type type;
	sigset_t keep;
	int sig;

	spin_lock_irq(&current->sighand->siglock);
	if (blocked_too) {
		sigemptyset(&keep);
	} else {
		keep = current->blocked;
		/* A deputy blocks SIGCONT only so that it is queued, not ignored: it is taken. */
		sigdelset(&keep, SIGCONT);
	}
	/* SIGKILL stays pending: it ends the caller (and, through it, its guest). */
	sigaddset(&keep, SIGKILL);
	sig = dequeue_signal(&keep, &info, &type);
	spin_unlock_irq(&current->sighand->siglock);
	/* Its siginfo, as the kernel filled it for this task (pids and users in its view). */
	BUILD_BUG_ON(sizeof(info._sifields) != OMX_SIGINFO_FIELDS);
	*code = info.si_code;
	*err = info.si_errno;
	memcpy(fields, &info._sifields, OMX_SIGINFO_FIELDS);
	return sig;
}

u32 omx_real_uid(void)
{
	return from_kuid_munged(current_user_ns(), current_uid());
}

u32 omx_init_real_uid(void)
{
	return from_kuid_munged(&init_user_ns, current_uid());
}

u32 omx_init_real_gid(void)
{
	return from_kgid_munged(&init_user_ns, current_gid());
}

int omx_signal_from(struct task_struct *task, int sig, int code, int err, const u8 *fields)
{
	kernel_siginfo_t info;

	clear_siginfo(&info);
	info.si_signo = sig;
	info.si_code = code;
	info.si_errno = err;
	memcpy(&info._sifields, fields, OMX_SIGINFO_FIELDS);
	return send_sig_info(sig, &info, task);
}

u64 omx_blocked_mask(void)
{
	return current->blocked.sig[0];
}

u64 omx_pending_mask(void)
{
	struct sighand_struct *sh = current->sighand;
	u64 pending;

	spin_lock_irq(&sh->siglock);
	pending = current->pending.signal.sig[0] | current->signal->shared_pending.signal.sig[0];
	spin_unlock_irq(&sh->siglock);
	return pending;
}

bool omx_take_temporary_mask(u64 *mask)
{
	if (!test_restore_sigmask())
		return false;
	*mask = current->blocked.sig[0];
	clear_restore_sigmask();
	return true;
}

bool omx_deliver_under(u64 temp)
{
	sigset_t set, old = current->blocked;

	sigemptyset(&set);
	set.sig[0] = temp;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (signal_pending(current)) {
		current->saved_sigmask = old;
		set_restore_sigmask();
		return true;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return false;
}

void omx_set_blocked_mask(u64 mask, bool default_only)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	set.sig[0] = mask;
	if (default_only) {
		spin_lock_irq(&current->sighand->siglock);
		for (sig = 1; sig <= 64; sig++) {
			if (sigismember(&set, sig) &&
			    current->sighand->action[sig - 1].sa.sa_handler != SIG_DFL)
				sigdelset(&set, sig);
		}
		spin_unlock_irq(&current->sighand->siglock);
	}
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * Whether current's process group is orphaned, by the POSIX rule the kernel applies to stop
 * signals from a terminal (kernel/exit.c, will_become_orphaned_pgrp, which is not exported):
 * no live member has a parent (other than init) in another group of the same session. Walked
 * under the RCU read lock rather than tasklist_lock (not exported either): a group changing
 * meanwhile may be seen before or after the change, as a signal sent just before or after it.
 */
bool omx_pgrp_orphaned(void)
{
	struct task_struct *p, *parent;
	struct pid *pgrp;
	bool orphaned = true;

	rcu_read_lock();
	pgrp = task_pgrp(current);
	do_each_pid_task(pgrp, PIDTYPE_PGID, p) {
		parent = rcu_dereference(p->real_parent);
		if ((p->exit_state && thread_group_empty(p)) || is_global_init(parent))
			continue;
		if (task_pgrp(parent) != pgrp && task_session(parent) == task_session(p)) {
			orphaned = false;
			goto out;
		}
	} while_each_pid_task(pgrp, PIDTYPE_PGID, p);
out:
	rcu_read_unlock();
	return orphaned;
}

void omx_rlim_get(u64 *out)
{
	int i;

	task_lock(current->group_leader);
	for (i = 0; i < RLIM_NLIMITS && i < 16; i++) {
		out[2 * i] = current->signal->rlim[i].rlim_cur;
		out[2 * i + 1] = current->signal->rlim[i].rlim_max;
	}
	task_unlock(current->group_leader);
}

void omx_rlim_set(const u64 *in)
{
	int i;

	task_lock(current->group_leader);
	for (i = 0; i < RLIM_NLIMITS && i < 16; i++) {
		current->signal->rlim[i].rlim_cur = in[2 * i];
		current->signal->rlim[i].rlim_max = in[2 * i + 1];
	}
	task_unlock(current->group_leader);
}

void omx_misc_get(u32 *umask, u32 *personality)
{
	*umask = current_umask();
	*personality = current->personality;
}

void omx_misc_set(u32 umask, u32 personality)
{
	current->fs->umask = umask & 0777;
	current->personality = personality;
}

/* Takes task's signal lock, as lock_task_sighand() does (it is not exported): the sighand is
 * freed by RCU and may change under an exec. NULL (and no lock) once the task has exited. */
static struct sighand_struct *omx_lock_sighand(struct task_struct *task, unsigned long *flags)
{
	struct sighand_struct *sh;

	rcu_read_lock();
	for (;;) {
		sh = rcu_dereference(task->sighand);
		if (!sh)
			break;
		spin_lock_irqsave(&sh->siglock, *flags);
		if (likely(sh == rcu_access_pointer(task->sighand)))
			break;
		spin_unlock_irqrestore(&sh->siglock, *flags);
	}
	rcu_read_unlock();
	return sh;
}

u64 omx_task_pending_mask(struct task_struct *task)
{
	struct sighand_struct *sh;
	unsigned long flags;
	u64 pending;

	sh = omx_lock_sighand(task, &flags);
	if (!sh)
		return 0;
	pending = task->pending.signal.sig[0] | task->signal->shared_pending.signal.sig[0];
	spin_unlock_irqrestore(&sh->siglock, flags);
	return pending;
}

void omx_task_itimers(struct task_struct *task, u64 *out)
{
	struct signal_struct *sig = task->signal;
	struct task_cputime_atomic *at = &sig->cputimer.cputime_atomic;
	struct sighand_struct *sh;
	unsigned long flags;
	ktime_t rem = 0;
	int i;

	memset(out, 0, 6 * sizeof(*out));
	sh = omx_lock_sighand(task, &flags);
	if (!sh)
		return;
	if (hrtimer_active(&sig->real_timer)) {
		rem = __hrtimer_get_remaining(&sig->real_timer, false);
		/* About to fire: as getitimer(2) says it. */
		if (rem <= 0)
			rem = NSEC_PER_USEC;
	}
	out[0] = rem;
	out[1] = sig->it_real_incr;
	/* it[CPUCLOCK_PROF] then it[CPUCLOCK_VIRT], against the process's CPU time as the
	 * kernel samples it for them (the group's atomic counts, running while one is armed). */
	for (i = 0; i < 2; i++) {
		struct cpu_itimer *it = &sig->it[i ? CPUCLOCK_VIRT : CPUCLOCK_PROF];
		u64 val = it->expires, now;

		if (val) {
			now = atomic64_read(&at->utime);
			if (!i)
				now += atomic64_read(&at->stime);
			val = val <= now ? TICK_NSEC : val - now;
		}
		/* out: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */
		out[i ? 2 : 4] = val;
		out[i ? 3 : 5] = it->incr;
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
}

void omx_set_own_itimer_real(u64 value_ns, u64 interval_ns)
{
	struct signal_struct *sig = current->signal;

	for (;;) {
		spin_lock_irq(&current->sighand->siglock);
		/* As setitimer(2) does: the timer's callback may be running on another CPU. */
		if (hrtimer_try_to_cancel(&sig->real_timer) >= 0)
			break;
		spin_unlock_irq(&current->sighand->siglock);
		cpu_relax();
	}
	if (value_ns) {
		sig->it_real_incr = ns_to_ktime(interval_ns);
		hrtimer_start(&sig->real_timer, ns_to_ktime(value_ns), HRTIMER_MODE_REL);
	} else {
		sig->it_real_incr = 0;
	}
	spin_unlock_irq(&current->sighand->siglock);
}

void omx_set_clear_child_tid(u64 addr)
{
	current->clear_child_tid = (int __user *)(unsigned long)addr;
}

void omx_rseq_get(u64 *addr, u32 *len, u32 *sig)
{
#ifdef CONFIG_RSEQ
	*addr = (u64)(unsigned long)current->rseq.usrptr;
	*len = current->rseq.len;
	*sig = current->rseq.sig;
#else
	*addr = 0;
	*len = 0;
	*sig = 0;
#endif
}

int omx_rseq_set(u64 addr, u32 len, u32 sig)
{
#ifdef CONFIG_RSEQ
	struct rseq __user *rs = (struct rseq __user *)(unsigned long)addr;
	u8 version = 1;

	/* What rseq_length_valid() and rseq_register() of kernel/rseq.c check. */
	if (len) {
		if (len < 32 || (len == 32 && !IS_ALIGNED(addr, 32)))
			return -EINVAL;
		if (len > 32 && (!IS_ALIGNED(addr, rseq_alloc_align()) ||
				 len < offsetof(struct rseq, end)))
			return -EINVAL;
		if (!access_ok(rs, len))
			return -EFAULT;
		if (IS_ENABLED(CONFIG_GENERIC_IRQ_ENTRY) && len > 32)
			version = 2;
		/* The fields a new registration starts with. */
		if (put_user(0ULL, &rs->rseq_cs) || put_user(0U, &rs->flags) ||
		    put_user(RSEQ_CPU_ID_UNINITIALIZED, &rs->cpu_id_start) ||
		    put_user(RSEQ_CPU_ID_UNINITIALIZED, &rs->cpu_id) ||
		    put_user(0U, &rs->node_id) || put_user(0U, &rs->mm_cid))
			return -EFAULT;
	}
	rseq_reset(current);
	if (!len)
		return 0;
	current->rseq.usrptr = rs;
	current->rseq.len = len;
	current->rseq.sig = sig;
	current->rseq.event.has_rseq = version;
	/* The ids are written into the area on the way back to user mode. */
	rseq_force_update();
	return 0;
#else
	return len ? -ENOSYS : 0;
#endif
}

void omx_clocks_now(bool own_view, u64 *mono, u64 *boot)
{
	struct timespec64 m, b;

	ktime_get_ts64(&m);
	ktime_get_boottime_ts64(&b);
	if (own_view) {
		timens_add_monotonic(&m);
		timens_add_boottime(&b);
	}
	*mono = timespec64_to_ns(&m);
	*boot = timespec64_to_ns(&b);
}

void omx_comm_get(char *out16)
{
	task_lock(current);
	strscpy_pad(out16, current->comm, TASK_COMM_LEN);
	task_unlock(current);
}

void omx_comm_set(const char *in16)
{
	char buf[TASK_COMM_LEN];

	/* __set_task_comm() is not exported: the same under the task lock, minus its tracing. */
	memcpy(buf, in16, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = 0;
	task_lock(current);
	strscpy_pad(current->comm, buf, TASK_COMM_LEN);
	task_unlock(current);
}

bool omx_current_runs_as(u32 uid, u32 gid)
{
	const struct cred *c = current_cred();
	kuid_t u = make_kuid(&init_user_ns, uid);
	kgid_t g = make_kgid(&init_user_ns, gid);

	return c->user_ns == &init_user_ns &&
	       uid_eq(c->uid, u) && uid_eq(c->euid, u) && uid_eq(c->suid, u) && uid_eq(c->fsuid, u) &&
	       gid_eq(c->gid, g) && gid_eq(c->egid, g) && gid_eq(c->sgid, g) && gid_eq(c->fsgid, g) &&
	       c->group_info->ngroups == 0 &&
	       cap_isclear(c->cap_inheritable) && cap_isclear(c->cap_permitted) &&
	       cap_isclear(c->cap_effective) && cap_isclear(c->cap_bset) &&
	       cap_isclear(c->cap_ambient) &&
	       uid_eq(c->user->uid, u) && c->ucounts && uid_eq(c->ucounts->uid, u) &&
	       c->ucounts->ns == &init_user_ns;
}

struct omx_spawn_ctx {
	int (*init)(void *data);
	void *data;
};

static int omx_spawn_init(struct subprocess_info *info, struct cred *new)
{
	struct omx_spawn_ctx *ctx = info->data;

	return ctx->init(ctx->data);
}

int omx_spawn(const char *path, char **argv, int (*init)(void *data), void *data)
{
	static char *envp[] = { "HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };
	struct omx_spawn_ctx ctx = { .init = init, .data = data };
	struct subprocess_info *info;

	info = call_usermodehelper_setup(path, argv, envp, GFP_KERNEL, omx_spawn_init, NULL, &ctx);
	if (!info)
		return -ENOMEM;
	return call_usermodehelper_exec(info, UMH_WAIT_EXEC);
}

/* --- Tracepoints ------------------------------------------------------------------------------ */

struct omx_tp_search {
	const char *name;
	struct tracepoint *found;
};

static void omx_tp_match(struct tracepoint *tp, void *priv)
{
	struct omx_tp_search *s = priv;

	if (!s->found && !strcmp(tp->name, s->name))
		s->found = tp;
}

struct tracepoint *omx_find_tracepoint(const char *name)
{
	struct omx_tp_search s = { .name = name, .found = NULL };

	for_each_kernel_tracepoint(omx_tp_match, &s);
	return s.found;
}

void omx_tracepoint_sync(void)
{
	tracepoint_synchronize_unregister();
}

bool omx_signal_pending(void)
{
	return signal_pending(current);
}

/*
 * Guests' /proc/PID, hidden from the node's processes (their entries are already left out of
 * listings of /proc): from all but the guest itself and an administrator (CAP_SYS_ADMIN), who
 * may look at a guest by its pid. A lookup of /proc/PID is proc_pid_lookup; a /proc/PID that was
 * looked up before is checked again by pid_revalidate. Return probes on both: a lookup of a
 * hidden pid is undone (the new dentry unhashed, -ENOENT returned, which makes proc_root_lookup
 * fall through to the fixed entries, where there is no such name), and a cached one is declared
 * stale, so that the walk looks it up again. The pids are kept here, in a lock-free array the
 * probes read in any context.
 */
#define OMX_HIDDEN_MAX 1024
static atomic_t omx_hidden[OMX_HIDDEN_MAX];
static atomic_t omx_hidden_count;

bool omx_hide_pid(u32 pid)
{
	int i;

	for (i = 0; i < OMX_HIDDEN_MAX; i++) {
		if (atomic_cmpxchg(&omx_hidden[i], 0, pid) == 0) {
			atomic_inc(&omx_hidden_count);
			return true;
		}
	}
	return false;
}

void omx_unhide_pid(u32 pid)
{
	int i;

	for (i = 0; i < OMX_HIDDEN_MAX; i++) {
		if (atomic_cmpxchg(&omx_hidden[i], pid, 0) == pid) {
			atomic_dec(&omx_hidden_count);
			return;
		}
	}
}

/* Whether dentry `d` is /proc/PID of a hidden pid that current may not see. */
static bool omx_hidden_from_current(const struct dentry *d)
{
	unsigned int pid;
	int i;

	if (!atomic_read(&omx_hidden_count) || !d || !IS_ROOT(d->d_parent))
		return false;
	if (kstrtouint((const char *)d->d_name.name, 10, &pid) || !pid)
		return false;
	if (pid == task_tgid_nr(current))
		return false;
	for (i = 0; i < OMX_HIDDEN_MAX; i++)
		if (atomic_read(&omx_hidden[i]) == pid)
			return !ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
	return false;
}

struct omx_dentry_arg {
	struct dentry *dentry;
};

/* proc_pid_lookup(dentry, flags) */
static int omx_lookup_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	((struct omx_dentry_arg *)ri->data)->dentry = (struct dentry *)regs->di;
	return 0;
}

static int omx_lookup_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dentry *d = ((struct omx_dentry_arg *)ri->data)->dentry;

	if (regs_return_value(regs) == 0 && omx_hidden_from_current(d)) {
		d_drop(d);
		regs_set_return_value(regs, (unsigned long)ERR_PTR(-ENOENT));
	}
	return 0;
}

/* pid_revalidate(dir, name, dentry, flags) */
static int omx_revalidate_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	((struct omx_dentry_arg *)ri->data)->dentry = (struct dentry *)regs->dx;
	return 0;
}

static int omx_revalidate_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct dentry *d = ((struct omx_dentry_arg *)ri->data)->dentry;

	if (regs_return_value(regs) == 1 && omx_hidden_from_current(d))
		regs_set_return_value(regs, 0);
	return 0;
}

static struct kretprobe omx_lookup_probe = {
	.kp.symbol_name = "proc_pid_lookup",
	.entry_handler = omx_lookup_entry,
	.handler = omx_lookup_return,
	.data_size = sizeof(struct omx_dentry_arg),
	.maxactive = 64,
};

static struct kretprobe omx_revalidate_probe = {
	.kp.symbol_name = "pid_revalidate",
	.entry_handler = omx_revalidate_entry,
	.handler = omx_revalidate_return,
	.data_size = sizeof(struct omx_dentry_arg),
	.maxactive = 64,
};

int omx_pid_hiding_register(void)
{
	int r = register_kretprobe(&omx_lookup_probe);

	if (r)
		return r;
	r = register_kretprobe(&omx_revalidate_probe);
	if (r)
		unregister_kretprobe(&omx_lookup_probe);
	return r;
}

void omx_pid_hiding_unregister(void)
{
	unregister_kretprobe(&omx_revalidate_probe);
	unregister_kretprobe(&omx_lookup_probe);
}

/* --- Areas whose pages come from home ------------------------------------------------------ */

DEFINE_STATIC_SRCU(omx_home_srcu);
static omx_home_pager_fn omx_home_pager;
static void *omx_home_pager_data;

void omx_home_pager_set(omx_home_pager_fn fn, void *data)
{
	WRITE_ONCE(omx_home_pager_data, data);
	/* Pairs with the acquire in omx_home_fault(): data is set before fn. */
	smp_store_release(&omx_home_pager, fn);
	if (!fn)
		synchronize_srcu(&omx_home_srcu);
}

static vm_fault_t omx_home_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	omx_home_pager_fn fn;
	struct page *page;
	int idx, ret;

	/* Only the process itself pages its areas in: not ptrace, not /proc/PID/mem. */
	if (vma->vm_mm != current->mm)
		return VM_FAULT_SIGBUS;
	/* Charged to the process's memory cgroup, as its own pages are. */
	page = alloc_page(GFP_KERNEL | __GFP_ACCOUNT);
	if (!page)
		return VM_FAULT_OOM;
	idx = srcu_read_lock(&omx_home_srcu);
	fn = smp_load_acquire(&omx_home_pager);
	ret = fn ? fn(READ_ONCE(omx_home_pager_data), (u64)(unsigned long)vma->vm_private_data,
		      vmf->pgoff, page_address(page)) : -ENODEV;
	srcu_read_unlock(&omx_home_srcu, idx);
	if (ret) {
		__free_page(page);
		return ret == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	}
	/* The mapping takes this reference; a private area copies the page on write. */
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct omx_home_vm_ops = {
	.fault = omx_home_fault,
};

static int omx_home_mmap(struct file *file, struct vm_area_struct *vma)
{
	/* A shared area never writes here: one whose file is open for writing may be made
	 * writable at home (its mprotect brings the process home); of any other, never. */
	if (((unsigned long)file->private_data & (OMX_HOME_SHARED | OMX_HOME_MAY_WRITE)) ==
	    OMX_HOME_SHARED)
		vm_flags_clear(vma, VM_MAYWRITE);
	vma->vm_ops = &omx_home_vm_ops;
	vma->vm_private_data = file->private_data;
	return 0;
}

static const struct file_operations omx_home_fops = {
	.owner = THIS_MODULE,
	.mmap = omx_home_mmap,
};

long omx_map_home(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
		  u64 pgoff, u64 cookie)
{
	struct file *file;
	unsigned long r;

	if (pgoff > (ULONG_MAX >> PAGE_SHIFT))
		return -EOVERFLOW;
	/* A file of an internal mount that allows PROT_EXEC, with the module's operations. */
	file = shmem_kernel_file_setup("openmosix-home", 0, EMPTY_VMA_FLAGS);
	if (IS_ERR(file))
		return PTR_ERR(file);
	/* The file's new operations hold a reference on the module, as fops_get() takes one. */
	if (!try_module_get(THIS_MODULE)) {
		fput(file);
		return -ENODEV;
	}
	replace_fops(file, &omx_home_fops);
	file->private_data = (void *)(unsigned long)cookie;
	r = vm_mmap(file, addr, len, prot, (flags & ~MAP_TYPE) | MAP_PRIVATE, pgoff << PAGE_SHIFT);
	fput(file);
	return (long)r;
}

struct file *omx_home_file_get(int fd, unsigned long prot)
{
	struct file *file = fget(fd);
	int err = 0;

	if (!file)
		return ERR_PTR(-EBADF);
	if (!S_ISREG(file_inode(file)->i_mode) || !can_mmap_file(file))
		err = -ENODEV;
	else if (!(file->f_mode & FMODE_READ))
		err = -EACCES;
	else if ((prot & PROT_EXEC) && ((file->f_path.mnt->mnt_flags & MNT_NOEXEC) ||
					(file->f_path.mnt->mnt_sb->s_iflags & SB_I_NOEXEC)))
		err = -EPERM;
	if (err) {
		fput(file);
		return ERR_PTR(err);
	}
	return file;
}

bool omx_file_writable(struct file *file)
{
	return file->f_mode & FMODE_WRITE;
}

long omx_home_file_read(struct file *file, void *buf, unsigned long len, u64 off)
{
	loff_t pos = off;

	if (off > LLONG_MAX)
		return -EINVAL;
	return kernel_read(file, buf, len, &pos);
}

long omx_home_file_map(struct file *file, unsigned long addr, unsigned long len,
		       unsigned long prot, bool shared, u64 off)
{
	return (long)vm_mmap(file, addr, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED_NOREPLACE,
			     off);
}

void omx_fput(struct file *file)
{
	fput(file);
}

struct file *omx_ckpt_file_get(int fd, bool append)
{
	struct file *file = fget(fd);
	int err = 0;

	if (!file)
		return ERR_PTR(-EBADF);
	if (!S_ISREG(file_inode(file)->i_mode))
		err = -EINVAL;
	else if (append && (!(file->f_mode & FMODE_WRITE) || !(file->f_flags & O_APPEND)))
		err = -EACCES;
	else if (!append && !(file->f_mode & FMODE_READ))
		err = -EACCES;
	if (err) {
		fput(file);
		return ERR_PTR(err);
	}
	return file;
}

long omx_ckpt_file_append(struct file *file, const void *buf, unsigned long len)
{
	unsigned long done = 0;

	while (done < len) {
		/* O_APPEND: the write goes at the end, whatever the position says. */
		loff_t pos = 0;
		ssize_t n = kernel_write(file, buf + done, len - done, &pos);

		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return done;
}

int omx_file_install(struct file *file)
{
	int fd = get_unused_fd_flags(0);

	if (fd >= 0)
		fd_install(fd, get_file(file));
	return fd;
}

int omx_own_seek(int fd, s64 pos)
{
	/* fdget_pos() is not exported to modules: a SEEK_SET needs no f_pos_lock of its own. */
	CLASS(fd, f)(fd);
	loff_t r;

	if (fd_empty(f))
		return -EBADF;
	if (!S_ISREG(file_inode(fd_file(f))->i_mode))
		return -EINVAL;
	r = vfs_llseek(fd_file(f), pos, SEEK_SET);
	return r < 0 ? (int)r : 0;
}

bool omx_task_stopped(struct task_struct *task)
{
	return task_is_stopped_or_traced(task);
}

/* One whole read or write of len bytes at pos of the calling process's own /proc/self/NAME
 * (opened with the kernel's credentials), through the user buffer ubuf: 0 or -errno. */
static int omx_own_proc_io(const char *path, bool write, char __user *ubuf, size_t len,
			   loff_t pos)
{
	struct file *f;
	ssize_t r;

	scoped_with_kernel_creds()
		f = filp_open(path, write ? O_WRONLY : O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (write && (f->f_mode & FMODE_WRITE) && f->f_op->write)
		r = f->f_op->write(f, ubuf, len, &pos);
	else if (!write && (f->f_mode & FMODE_READ) && f->f_op->read)
		r = f->f_op->read(f, ubuf, len, &pos);
	else
		r = -EINVAL;
	if (r >= 0 && r != len)
		r = -EIO;
	filp_close(f, NULL);
	return r < 0 ? r : 0;
}

int omx_own_clear_soft_dirty(void)
{
	unsigned long sp = current_pt_regs()->sp;
	char __user *ubuf = (char __user *)((sp - 128 - 64) & ~63UL);

	if (sp < PAGE_SIZE + 128 + 64)
		return -EFAULT;
	/* clear_refs takes its command from user memory: one byte, below the red zone. */
	if (put_user('4', ubuf))
		return -EFAULT;
	return omx_own_proc_io("/proc/self/clear_refs", true, ubuf, 1, 0);
}

struct file *omx_area_file(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct file *file = NULL;

	if (!mm)
		return NULL;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma && vma->vm_file && vma->vm_ops != &omx_home_vm_ops &&
	    S_ISREG(file_inode(vma->vm_file)->i_mode))
		file = get_file(vma->vm_file);
	mmap_read_unlock(mm);
	return file;
}

int omx_own_pagemap(unsigned long addr, u64 *out, unsigned int n)
{
	unsigned long sp = current_pt_regs()->sp;
	char __user *ubuf = (char __user *)((sp - 128 - OMX_PROC_CHUNK) & ~63UL);
	size_t len = (size_t)n * 8;
	int r;

	if (sp < PAGE_SIZE + 128 + OMX_PROC_CHUNK)
		return -EFAULT;
	if (len > OMX_PROC_CHUNK)
		return -EINVAL;
	r = omx_own_proc_io("/proc/self/pagemap", false, ubuf, len,
			    (loff_t)(addr >> PAGE_SHIFT) * 8);
	if (!r && copy_from_user(out, ubuf, len))
		r = -EFAULT;
	return r;
}
