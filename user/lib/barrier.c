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
 * Each participant records in the channel whether it publishes plainly
 * (SR_PEER_PLAIN), because the sleeper's process may lack what the waker's
 * has: a sleeper that cannot issue the barrier (an old kernel, a seccomp
 * profile that refuses it, or the opt-out below) sleeps only briefly while
 * any peer on the channel publishes plainly, and fully otherwise.
 *
 * GLOBAL_EXPEDITED interrupts every CPU that runs a registered process,
 * which a real-time process may not want, neither to receive nor to send.
 * SHMRING_NO_MEMBARRIER=1 in the environment opts a process out: it never
 * registers nor issues the barrier, and publishes with fenced stores.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

/* SHMRING_NO_MEMBARRIER set to anything but "" or "0". */
static bool opted_out(void)
{
	const char *v = getenv("SHMRING_NO_MEMBARRIER");

	return v && *v && strcmp(v, "0");
}

static bool offered(void)
{
	int o = atomic_load_explicit(&mb_offered, memory_order_relaxed);

	if (o < 0) {
		long cmds = opted_out() ? -1 : membarrier(MEMBARRIER_CMD_QUERY);

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
 * process. Returns false if there was none (not offered, opted out, or
 * refused): a peer's plain store may then go unseen, so the caller sleeps
 * only briefly if any peer publishes plainly (sr_plain_peers()).
 */
bool sr_barrier(struct shmring_channel *ch)
{
	if (!offered())
		return false;
	ch->stats.barriers++;
	return !membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}
