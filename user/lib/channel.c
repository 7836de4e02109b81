// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Named channels: open (create or attach) and close, the participant table,
 * end-of-file and hang-up, and dead participants.
 *
 * The table and the flags change only under the channel's robust lock, and
 * only on open, close and when a dead participant is found. The data path
 * reads the flags lock-free. A channel's life:
 *   - a producer closing last sets EOF: consumers read what is left, then 0;
 *   - a consumer closing last sets HUP: producers get EPIPE;
 *   - a participant found dead (or a lock holder that died) sets BROKEN:
 *     everyone gets EPIPE once nothing is left to read;
 *   - the last one out resets a channel that is BROKEN or HUP to empty, so a
 *     new pair can use it; a producer leaving before any consumer came keeps
 *     its data and EOF for the consumer to come.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void set_flags(struct sr_ring *r, uint32_t f)
{
	atomic_fetch_or_explicit(&r->ctl.flags, f, memory_order_seq_cst);
}

static void clear_flags(struct sr_ring *r, uint32_t f)
{
	atomic_fetch_and_explicit(&r->ctl.flags, ~f, memory_order_seq_cst);
}

/* Participants per role; entries with a role we don't know don't count. */
static void count_peers(struct sr_ring *r, uint32_t *prod, uint32_t *cons)
{
	unsigned int i;

	*prod = *cons = 0;
	for (i = 0; i < SHMRING_MAX_PEERS; i++) {
		struct sr_peer *p = &r->ctl.peers[i];
		uint32_t role;

		if (!atomic_load_explicit(&p->pid, memory_order_acquire))
			continue;
		role = atomic_load_explicit(&p->role, memory_order_relaxed);
		if (role == SHMRING_PRODUCER)
			(*prod)++;
		else if (role == SHMRING_CONSUMER)
			(*cons)++;
	}
}

static bool peer_dead(struct sr_peer *p)
{
	uint32_t pid = atomic_load_explicit(&p->pid, memory_order_acquire);

	return pid && !sr_pid_alive(pid,
			atomic_load_explicit(&p->start, memory_order_relaxed));
}

/* Under the lock: drop dead participants and mark the channel broken. */
static bool reap_locked(struct sr_ring *r, int self)
{
	bool found = false;
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++) {
		if (i == self || !peer_dead(&r->ctl.peers[i]))
			continue;
		atomic_store_explicit(&r->ctl.peers[i].pid, 0,
				      memory_order_release);
		found = true;
	}
	if (found)
		set_flags(r, SHMRING_CH_BROKEN);
	return found;
}

static int ctl_lock(struct sr_ring *r)
{
	bool stolen;
	int ret = sr_lock(&r->ctl.lock, &stolen);

	/* The holder died between two steps: trust nothing it was doing. */
	if (!ret && stolen)
		set_flags(r, SHMRING_CH_BROKEN);
	return ret;
}

/* Under the lock, with nobody attached: back to an empty ring. */
void sr_ring_reset(struct shmring_channel *ch)
{
	struct sr_ring *r = ch->r;

	if (ch->kind == SHMRING_MPMC) {
		sr_mpmc_init(r, ch->cap, ch->stride);
	} else {
		atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
		atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	}
	/* Flags left by sleepers that timed out or were killed. */
	atomic_store_explicit(&r->wq.prod_waiter, 0, memory_order_relaxed);
	atomic_store_explicit(&r->wq.cons_waiter, 0, memory_order_relaxed);
	atomic_store_explicit(&r->ctl.flags, 0, memory_order_release);
}

/*
 * Called by a blocked participant after each sleep slice: checks everyone
 * lock-free and takes the lock only to act on a dead one. Returns whether the
 * channel is broken.
 */
bool sr_channel_reap(struct shmring_channel *ch)
{
	struct sr_ring *r = ch->r;
	bool found = false;
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS && !found; i++)
		found = i != ch->peer && peer_dead(&r->ctl.peers[i]);
	if (found && !ctl_lock(r)) {
		found = reap_locked(r, ch->peer);
		sr_unlock(&r->ctl.lock);
		if (found)
			sr_notify_all(ch);
	}
	return sr_flags(r) & SHMRING_CH_BROKEN;
}

static int join(struct shmring_channel *ch, uint32_t role)
{
	struct sr_ring *r = ch->r;
	uint32_t prod, cons, f;
	uint64_t start;
	pid_t pid = sr_self(&start);
	int i, ret = 0;

	ret = ctl_lock(r);
	if (ret)
		return ret;
	reap_locked(r, -1);
	count_peers(r, &prod, &cons);
	f = sr_flags(r);
	if (!prod && !cons && f & (SHMRING_CH_BROKEN | SHMRING_CH_HUP)) {
		sr_ring_reset(ch);
		f = 0;
	}
	ch->peer = -1;
	for (i = 0; i < (int)SHMRING_MAX_PEERS && ch->peer < 0; i++)
		if (!atomic_load_explicit(&r->ctl.peers[i].pid,
					  memory_order_relaxed))
			ch->peer = i;
	if (f & SHMRING_CH_BROKEN)
		ret = -EPIPE;
	else if (ch->kind != SHMRING_MPMC &&
		 (role == SHMRING_PRODUCER ? prod : cons))
		ret = -EBUSY;
	else if (ch->peer < 0)
		ret = -EBUSY;
	else if (ch->kind != SHMRING_MPMC)
		ret = sr_spsc_attach(ch);
	if (!ret) {
		struct sr_peer *p = &r->ctl.peers[ch->peer];

		atomic_store_explicit(&p->start, start, memory_order_relaxed);
		atomic_store_explicit(&p->role, role, memory_order_relaxed);
		atomic_store_explicit(&p->pid, (uint32_t)pid,
				      memory_order_release);
		clear_flags(r, role == SHMRING_PRODUCER ? SHMRING_CH_EOF :
			    SHMRING_CH_HUP);
	}
	sr_unlock(&r->ctl.lock);
	return ret;
}

static int leave(struct shmring_channel *ch)
{
	struct sr_ring *r = ch->r;
	struct sr_peer *p = &r->ctl.peers[ch->peer];
	uint32_t prod, cons;
	uint64_t start;
	pid_t pid = sr_self(&start);
	int ret;

	ret = ctl_lock(r);
	if (ret)
		return ret;
	if (atomic_load_explicit(&p->pid, memory_order_relaxed) == (uint32_t)pid)
		atomic_store_explicit(&p->pid, 0, memory_order_release);
	count_peers(r, &prod, &cons);
	if (ch->role == SHMRING_PRODUCER && !prod)
		set_flags(r, SHMRING_CH_EOF);
	if (ch->role == SHMRING_CONSUMER && !cons)
		set_flags(r, SHMRING_CH_HUP);
	if (!prod && !cons &&
	    sr_flags(r) & (SHMRING_CH_BROKEN | SHMRING_CH_HUP))
		sr_ring_reset(ch);
	sr_unlock(&r->ctl.lock);
	return 0;
}

static int open_check(struct shmring *sh, const char *name, int role,
		      unsigned int flags,
		      const struct shmring_channel_attr *attr,
		      struct shmring_channel **out)
{
	size_t n;

	if (!sh || !name || !out)
		return -EINVAL;
	n = strnlen(name, SHMRING_NAME_MAX + 1);
	if (!n || n > SHMRING_NAME_MAX)
		return -EINVAL;
	if (role != SHMRING_PRODUCER && role != SHMRING_CONSUMER)
		return -EINVAL;
	if (flags & ~(SHMRING_CREATE | SHMRING_EXCL) ||
	    (flags & SHMRING_EXCL && !(flags & SHMRING_CREATE)))
		return -EINVAL;
	if (flags & SHMRING_CREATE && !attr)
		return -EINVAL;
	if (attr && sr_attr_check(attr))
		return -EINVAL;
	if (sh->size < SR_MIN_BUFFER)
		return -EINVAL;
	return 0;
}

int shmring_channel_open(struct shmring *sh, const char *name, int role,
			 unsigned int flags,
			 const struct shmring_channel_attr *attr,
			 struct shmring_channel **out)
{
	struct shmring_channel *ch;
	struct sr_header *hdr;
	struct sr_dirent *e;
	int ret;

	ret = open_check(sh, name, role, flags, attr, out);
	if (ret)
		return sr_fail(-ret);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return sr_fail(ENOMEM);
	ch->role = (uint32_t)role;
	sr_barrier_register();
	ret = sr_layout_lock(sh, flags & SHMRING_CREATE, &hdr);
	if (ret)
		goto out_free;
	e = sr_dir_find(hdr, name);
	if (e && flags & SHMRING_EXCL)
		ret = -EEXIST;
	else if (!e && !(flags & SHMRING_CREATE))
		ret = -ENOENT;
	else if (!e)
		ret = sr_dir_create(sh, hdr, name, attr, &e);
	if (!ret && attr && e->kind != attr->kind)
		ret = -EPROTOTYPE;
	if (!ret)
		ret = sr_ring_bind(ch, sh, e);
	/* A READY entry never changes: the directory lock can go. */
	sr_layout_unlock(hdr);
	if (!ret)
		ret = join(ch, (uint32_t)role);
	if (ret)
		goto out_free;
	*out = ch;
	return 0;
out_free:
	free(ch);
	return sr_fail(-ret);
}

int shmring_channel_close(struct shmring_channel *ch)
{
	int ret;

	if (!ch)
		return 0;
	/* Leave nothing half done in the ring for the others. */
	if (ch->role == SHMRING_PRODUCER) {
		if (ch->kind == SHMRING_MPMC && ch->busy)
			sr_mpmc_commit(ch, 0);
		else if (ch->kind != SHMRING_MPMC)
			sr_spsc_publish(ch);
	} else {
		if (ch->kind == SHMRING_MPMC && ch->busy)
			sr_mpmc_release(ch);
		else if (ch->kind == SHMRING_MSG)
			sr_spsc_release(ch);
	}
	ch->busy = false;
	ret = leave(ch);
	sr_notify_all(ch);
	free(ch);
	return ret ? sr_fail(-ret) : 0;
}

int shmring_channel_attr(const struct shmring_channel *ch,
			 struct shmring_channel_attr *attr)
{
	if (!ch || !attr)
		return sr_fail(EINVAL);
	attr->kind = ch->kind;
	attr->slot_size = ch->slot_size;
	attr->capacity = ch->cap;
	return 0;
}

size_t shmring_channel_max_msg(const struct shmring_channel *ch)
{
	return ch ? ch->max_msg : 0;
}

int shmring_channel_stats(const struct shmring_channel *ch,
			  struct shmring_stats *st)
{
	if (!ch || !st)
		return sr_fail(EINVAL);
	*st = ch->stats;
	return 0;
}

/*
 * @e is the private copy that sr_ring_bind() checked: the name (terminated)
 * and region reported are the ones checked, not a peer's later writes.
 * The ring's indices and participants are read once each and only reported.
 */
static void describe(struct shmring_channel *ch, const struct sr_dirent *e,
		     struct shmring_chinfo *ci)
{
	struct sr_ring *r = ch->r;
	uint32_t used;

	memset(ci, 0, sizeof(*ci));
	memcpy(ci->name, e->name, sizeof(ci->name));
	ci->kind = ch->kind;
	ci->slot_size = ch->slot_size;
	ci->capacity = ch->cap;
	ci->offset = e->offset;
	ci->length = e->length;
	used = atomic_load_explicit(&r->tail, memory_order_acquire) -
	       atomic_load_explicit(&r->head, memory_order_acquire);
	ci->used = used > ch->cap ? ch->cap : used;
	count_peers(r, &ci->producers, &ci->consumers);
	ci->flags = sr_flags(r);
}

int shmring_channels(struct shmring *sh, struct shmring_chinfo *out,
		     unsigned int max)
{
	struct shmring_channel ch;
	struct sr_header *hdr;
	unsigned int i, n = 0;
	int ret;

	if (!sh || (max && !out))
		return sr_fail(EINVAL);
	ret = sr_layout_lock(sh, false, &hdr);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return sr_fail(-ret);
	for (i = 0; i < SHMRING_MAX_CHANNELS && !ret; i++) {
		struct sr_dirent e;

		/* One copy, bound (and so checked) and described. */
		sr_dirent_read(&hdr->dir[i], &e);
		if (e.state != SR_DIR_READY)
			continue;
		memset(&ch, 0, sizeof(ch));
		ret = sr_ring_bind(&ch, sh, &e);
		if (!ret && n < max)
			describe(&ch, &e, &out[n]);
		n++;
	}
	sr_layout_unlock(hdr);
	return ret ? sr_fail(-ret) : (int)n;
}
