// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Kernel events, from module ABI 2 on: the release actions that tell the
 * survivors of a participant's end at once, the channel's pollable watch
 * fd, and the process's list of handles that fork() must fix up.
 *
 * Release actions. A participant on the device registers, on the open file
 * of its liveness lock (liveness.c: a description of its own, close-on-exec,
 * never mapped), four actions that the kernel applies when that file is
 * released, by close, exit, a kill or exec:
 *	OR  SHMRING_CH_BROKEN into the channel's flags
 *	OR  SR_PEER_DEAD      into its entry's flags
 *	ADD 2                 to the consumers' bell, then to the producers'
 * each followed by a kernel WAKE of every sleeper and watcher on the word.
 * Moving a bell by 2 is a new epoch with the armed bit as it was (W3 of
 * block.c also clears it; left set, it costs one spurious WAKE later), so
 * the bell no longer holds what any sleeper armed, and one that armed
 * wakes and checks again:
 * it finds BROKEN (set before the bells moved) and returns EPIPE, in the
 * time of one wake-up and whatever pid namespace either side is in. The
 * entry says so (SR_PEER_RELEASE), and survivors then judge it by
 * SR_PEER_DEAD alone: its pid may mean nothing in their namespace.
 *
 * Leaving cleanly, the participant cancels the actions under the channel
 * lock, after it cleared its entry. Dying in between makes the actions run
 * on an entry that is free (SR_PEER_DEAD there is overwritten by the next
 * one to take it) and set BROKEN, as the lock taken over from a dead holder
 * would anyway.
 *
 * fork(). The child shares the open file, and the kernel releases it only
 * when both have closed it: while the child lived, the parent's death would
 * go unseen. Handles belong to the process that opened them, so the child
 * closes its copies of their descriptors at once (pthread_atfork()); the
 * parent's actions then run when the parent goes, whatever the child does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

static uint64_t word_offset(const struct shmring_channel *ch, const void *w)
{
	return (uint64_t)((const unsigned char *)w - ch->sh->base);
}

static int release_one(struct shmring_channel *ch, int i, const void *word,
		       uint32_t op, uint32_t value)
{
	struct shmring_release rel = {
		.offset = word_offset(ch, word), .op = op, .value = value,
	};

	if (ioctl(ch->lock_fd, SHMRING_IOC_RELEASE_ADD, &rel))
		return -errno;
	ch->release_id[i] = rel.id;
	return 0;
}

/*
 * Under the channel lock, before the entry is published: registers the
 * actions on the liveness lock's file. Returns whether all are in place
 * (the entry may then say SR_PEER_RELEASE); on a failure none is.
 */
bool sr_release_add(struct shmring_channel *ch)
{
	struct sr_ring *r = ch->r;
	struct sr_peer *p = &r->ctl.peers[ch->peer];

	if (ch->lock_fd < 0 || ch->sh->backend != SHMRING_BACKEND_DEVICE ||
	    !(ch->sh->features & SHMRING_FEATURE_RELEASE))
		return false;
	/*
	 * BROKEN before DEAD: a joiner that sees DEAD reaps the entry and,
	 * if nobody is left, resets the channel, flags and all; BROKEN must
	 * not land on the channel after that reset.
	 */
	if (release_one(ch, 0, &r->ctl.flags, SHMRING_RELEASE_OR,
			SHMRING_CH_BROKEN) ||
	    release_one(ch, 1, &p->flags, SHMRING_RELEASE_OR, SR_PEER_DEAD) ||
	    release_one(ch, 2, &r->wq.cons_bell, SHMRING_RELEASE_ADD, 2) ||
	    release_one(ch, 3, &r->wq.prod_bell, SHMRING_RELEASE_ADD, 2)) {
		sr_release_cancel(ch);
		return false;
	}
	return true;
}

/* Under the channel lock, once the entry is cleared: a clean leave. */
void sr_release_cancel(struct shmring_channel *ch)
{
	int i;

	for (i = 0; i < SR_NR_RELEASE; i++) {
		struct shmring_release rel = { .id = ch->release_id[i] };

		if (rel.id && ch->lock_fd >= 0)
			ioctl(ch->lock_fd, SHMRING_IOC_RELEASE_DEL, &rel);
		ch->release_id[i] = 0;
	}
}

int shmring_channel_fd(struct shmring_channel *ch)
{
	uint64_t off;
	struct shmring_watch w = {
		.offsets = (uintptr_t)&off,
		.nr = 1,
		.flags = SHMRING_WATCH_NONBLOCK,
	};
	int fd;

	if (!ch)
		return sr_fail(EINVAL);
	if (ch->watch_fd >= 0)
		return ch->watch_fd;
	if (ch->sh->backend != SHMRING_BACKEND_DEVICE ||
	    !(ch->sh->features & SHMRING_FEATURE_WATCH))
		return sr_fail(EOPNOTSUPP);
	off = word_offset(ch, sr_bell(ch));
	fd = ioctl(ch->sh->fd, SHMRING_IOC_WATCH, &w);
	if (fd < 0)
		return sr_fail(errno);
	ch->watch_fd = fd;
	return fd;
}

int shmring_channel_arm(struct shmring_channel *ch)
{
	uint64_t n;
	int ret;

	if (!ch || ch->watch_fd < 0)
		return sr_fail(EINVAL);
	/* Before S1: a WAKE after it counts anew. Empty: EAGAIN, fine. */
	while (read(ch->watch_fd, &n, sizeof(n)) < 0) {
		if (errno == EAGAIN)
			break;
		if (errno != EINTR)
			return sr_fail(errno);
	}
	ret = sr_arm(ch);
	return ret < 0 ? sr_fail(-ret) : ret;
}

void sr_events_close(struct shmring_channel *ch)
{
	if (ch->watch_fd >= 0)
		close(ch->watch_fd);
	ch->watch_fd = -1;
}

/* ---- the process's handles, for fork ---- */

/*
 * handles_lock guards the list, and is held wherever a handle's liveness
 * descriptor is opened or closed (sr_fds_hold()) and across fork(): the
 * child sees each descriptor either not yet opened or on its handle, and
 * closes every one. Those are a few system calls, never a wait.
 */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shmring_channel *handles;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

void sr_fds_hold(void)
{
	pthread_mutex_lock(&handles_lock);
}

void sr_fds_release(void)
{
	pthread_mutex_unlock(&handles_lock);
}

static void before_fork(void)
{
	pthread_mutex_lock(&handles_lock);
}

static void parent_after_fork(void)
{
	pthread_mutex_unlock(&handles_lock);
}

/*
 * In the child, which is not the participant: its copies of the handles'
 * descriptors go, so that the parent's end is seen when the parent goes.
 * The handles stay allocated, but own nothing: closing one in the child
 * only frees it, and touches neither the ring nor the parent's entry.
 */
static void child_after_fork(void)
{
	struct shmring_channel *ch;

	for (ch = handles; ch; ch = ch->next) {
		if (ch->lock_fd >= 0)
			close(ch->lock_fd);
		ch->lock_fd = -1;
		memset(ch->release_id, 0, sizeof(ch->release_id));
		sr_events_close(ch);
		sr_pidfds_drop(ch->pidfd, SHMRING_MAX_PEERS);
		ch->inherited = true;
	}
	pthread_mutex_unlock(&handles_lock);
}

static void atfork_register(void)
{
	pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

void sr_handles_add(struct shmring_channel *ch)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&handles_lock);
	ch->prev = NULL;
	ch->next = handles;
	if (handles)
		handles->prev = ch;
	handles = ch;
	pthread_mutex_unlock(&handles_lock);
}

void sr_handles_del(struct shmring_channel *ch)
{
	pthread_mutex_lock(&handles_lock);
	if (ch->prev)
		ch->prev->next = ch->next;
	else
		handles = ch->next;
	if (ch->next)
		ch->next->prev = ch->prev;
	pthread_mutex_unlock(&handles_lock);
}
