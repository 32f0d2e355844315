/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin C shims over static inline functions and macros that Rust cannot call directly.
 * Every shim carries the module-unique prefix `omx_`.
 */
#ifndef OPENMOSIX_RUST_HELPERS_H
#define OPENMOSIX_RUST_HELPERS_H

/* Release string of the running kernel (`uname -r`): init_utsname() is a static inline. */
const char *omx_kernel_release(void);

struct inode;

/* Private data of a /proc entry (proc_create_data()'s `data`): pde_data() is a static inline. */
void *omx_pde_data(const struct inode *inode);

#endif /* OPENMOSIX_RUST_HELPERS_H */
