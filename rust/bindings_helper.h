/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel headers that the 7.2 `kernel` crate's bindings do not cover, for bindgen.
 * Only the items allowlisted in bindgen_parameters are generated; the types they refer to
 * resolve to the `kernel` crate's own bindings.
 */
#include <crypto/chacha20poly1305.h>
#include <crypto/sha2.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/net.h>
#include <linux/proc_fs.h>
#include <linux/tcp.h>
#include <net/sock.h>
#include "helpers.h"
