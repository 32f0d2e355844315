/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin C shims over static inline functions and macros that Rust cannot call directly.
 * Every shim carries the module-unique prefix `omx_`.
 */
#ifndef OPENMOSIX_RUST_HELPERS_H
#define OPENMOSIX_RUST_HELPERS_H

#include <linux/types.h>

struct inode;
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

#endif /* OPENMOSIX_RUST_HELPERS_H */
