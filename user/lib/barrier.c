// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The asymmetric barrier of the SPSC wake-up protocol (block.c): publishing
 * an SPSC index costs a plain store, and the side about to sleep pays for
 * the ordering instead, with membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED).
 *
 * A seq_cst store is a locked instruction on x86, which waits until the
 * store owns its cache line. A consumer that keeps up has just read the
 * tail's line, so every publish waited for that line to come back: with the
 * two CPUs in different L3 domains, the copying API moved half as many
 * 64 B messages as with a plain store. The sleeper already makes a system
 * call to sleep; one more, before it checks the index, orders its waiter
 * flag against every waker as a full fence on each of them would.
 *
 * The barrier reaches only processes registered for it, and a registration
 * does not survive fork(): a process publishes with plain stores only while
 * it is registered, and a child starts unregistered until its next attach.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SR_MB_NEEDED	(MEMBARRIER_CMD_GLOBAL_EXPEDITED | \
			 MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)

/* What the kernel offers: -1 unknown, else 1 or 0. Survives fork(). */
static _Atomic int mb_offered = -1;
/* This process is registered: its wakers may publish with plain stores. */
_Atomic bool sr_mb_registered;
static pthread_once_t mb_atfork_once = PTHREAD_ONCE_INIT;

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static bool offered(void)
{
	int o = atomic_load_explicit(&mb_offered, memory_order_relaxed);

	if (o < 0) {
		long cmds = membarrier(MEMBARRIER_CMD_QUERY);

		o = cmds >= 0 && (cmds & SR_MB_NEEDED) == SR_MB_NEEDED;
		atomic_store_explicit(&mb_offered, o, memory_order_relaxed);
	}
	return o;
}

static void child_unregistered(void)
{
	atomic_store_explicit(&sr_mb_registered, false, memory_order_relaxed);
}

static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, child_unregistered);
}

void sr_barrier_register(void)
{
	if (sr_barrier_light() || !offered())
		return;
	pthread_once(&mb_atfork_once, install_atfork);
	if (!membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		atomic_store_explicit(&sr_mb_registered, true,
				      memory_order_relaxed);
}

/*
 * The sleeper's half: a full barrier on every CPU that runs a registered
 * process. Returns false if the kernel refused it: a peer's plain store may
 * then go unseen, and the caller sleeps only briefly.
 */
bool sr_barrier(struct shmring_channel *ch)
{
	if (!offered())
		return true;	/* then nobody publishes with plain stores */
	ch->stats.barriers++;
	return !membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}
