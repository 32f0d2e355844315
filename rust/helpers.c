// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C shims for the openmosix module's Rust code; see helpers.h.
 */
#include <linux/proc_fs.h>
#include <linux/utsname.h>

#include "helpers.h"

const char *omx_kernel_release(void)
{
	return init_utsname()->release;
}

void *omx_pde_data(const struct inode *inode)
{
	return pde_data(inode);
}
