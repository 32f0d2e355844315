// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C shims for the openmosix module's Rust code; see helpers.h.
 */
#include <linux/err.h>
#include <linux/inetdevice.h>
#include <linux/kernel_stat.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/utsname.h>
#include <net/net_namespace.h>
#include <net/sock.h>

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
