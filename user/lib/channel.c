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
#include <sys/stat.h>
#include <unistd.h>

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

/* The byte of the buffer's file whose lock says participant @i lives. */
static uint64_t live_byte(const struct shmring_channel *ch, int i)
{
	return (uint64_t)((unsigned char *)ch->r - ch->sh->base) + (unsigned)i;
}

/*
 * Gone: its process died (or its pid went to another process), or it holds
 * no liveness lock any more though it recorded one (it exec'ed). The lock
 * is tested through the buffer's own fd, which holds no lock itself, and
 * only on the file that fd is on; the record names the file, so a
 * participant that locked another (a device node of its own, say) is known
 * by its pid alone. The fields are read here only to decide; a corrupted
 * record can make a live peer look dead, which it could as well by setting
 * BROKEN.
 */
static bool peer_dead_as(struct shmring_channel *ch, int i,
			 uint32_t pid, uint32_t f)
{
	struct sr_peer *p = &ch->r->ctl.peers[i];
	bool alive;

	if (!pid)
		return false;
	/* The kernel tells (events.c); its pid may be another namespace's. */
	if (f & SR_PEER_RELEASE)
		return f & SR_PEER_DEAD;
	sr_fds_hold();
	alive = sr_peer_alive(&ch->pidfd[i], pid,
			      atomic_load_explicit(&p->start,
						   memory_order_relaxed));
	sr_fds_release();
	if (!alive)
		return true;
	return ch->file_known && f & SR_PEER_LOCKED &&
	       atomic_load_explicit(&p->lock_dev, memory_order_relaxed) ==
	       ch->lock_dev &&
	       atomic_load_explicit(&p->lock_ino, memory_order_relaxed) ==
	       ch->lock_ino &&
	       sr_live_lock_gone(ch->sh->fd, live_byte(ch, i));
}

static bool peer_dead(struct shmring_channel *ch, int i)
{
	struct sr_peer *p = &ch->r->ctl.peers[i];
	uint32_t pid = atomic_load_explicit(&p->pid, memory_order_acquire);

	return peer_dead_as(ch, i, pid,
			    atomic_load_explicit(&p->flags,
						 memory_order_relaxed));
}

/*
 * Whether the kernel tells of the end of every participant but us: only
 * then may a sleeper wait on the watch fd with no liveness slices.
 */
bool sr_peers_told(const struct shmring_channel *ch)
{
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++) {
		struct sr_peer *p = &ch->r->ctl.peers[i];

		if (i != ch->peer &&
		    atomic_load_explicit(&p->pid, memory_order_acquire) &&
		    !(atomic_load_explicit(&p->flags, memory_order_relaxed) &
		      SR_PEER_RELEASE))
			return false;
	}
	return true;
}

/* Under the lock: drop dead participants and mark the channel broken. */
static bool reap_locked(struct shmring_channel *ch, int self)
{
	struct sr_ring *r = ch->r;
	bool found = false;
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++) {
		if (i == self || !peer_dead(ch, i))
			continue;
		atomic_store_explicit(&r->ctl.peers[i].pid, 0,
				      memory_order_release);
		found = true;
	}
	if (found)
		set_flags(r, SHMRING_CH_BROKEN);
	return found;
}

/* Someone else on the channel publishes SPSC indices with plain stores. */
bool sr_plain_peers(const struct shmring_channel *ch)
{
	const struct sr_peer *p = ch->r->ctl.peers;
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++)
		if (i != ch->peer &&
		    atomic_load_explicit(&p[i].pid, memory_order_acquire) &&
		    atomic_load_explicit(&p[i].flags, memory_order_relaxed) &
		    SR_PEER_PLAIN)
			return true;
	return false;
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
	/* Armed bits left by sleepers that timed out or were killed. */
	atomic_fetch_and_explicit(&r->wq.prod_bell, ~1U, memory_order_relaxed);
	atomic_fetch_and_explicit(&r->wq.cons_bell, ~1U, memory_order_relaxed);
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
		found = i != ch->peer && peer_dead(ch, i);
	if (found && !ctl_lock(r)) {
		reap_locked(ch, ch->peer);
		sr_unlock(&r->ctl.lock);
		/* Whatever the lock saw, BROKEN may have been set under it. */
		sr_notify_all(ch);
	}
	return sr_flags(r) & SHMRING_CH_BROKEN;
}

/* Which file the buffer's fd is on, to test and take liveness locks on. */
static void file_identify(struct shmring_channel *ch)
{
	struct stat st;

	ch->file_known = ch->sh->fd >= 0 && !fstat(ch->sh->fd, &st);
	if (ch->file_known) {
		ch->lock_dev = st.st_dev;
		ch->lock_ino = st.st_ino;
	}
}

/*
 * Takes the liveness lock of our entry; without one, the pid must do.
 * Under sr_fds_hold() (events.c), so that a fork() in another thread sees
 * the descriptor either not yet opened or already on the handle, never in
 * between: the child must close every copy of it.
 */
static void live_lock(struct shmring_channel *ch)
{
	uint64_t dev, ino;
	int fd = -1;

	if (ch->file_known)
		fd = sr_live_lock(ch->sh->fd, live_byte(ch, ch->peer), &dev,
				  &ino);
	/* Opened through /proc: it must be the very same file. */
	if (fd >= 0 && (dev != ch->lock_dev || ino != ch->lock_ino)) {
		close(fd);
		fd = -1;
	}
	ch->lock_fd = fd;
}

static void live_unlock(struct shmring_channel *ch)
{
	sr_fds_hold();
	if (ch->lock_fd >= 0)
		close(ch->lock_fd);
	ch->lock_fd = -1;
	sr_fds_release();
}

static int join(struct shmring_channel *ch, uint32_t role)
{
	struct sr_ring *r = ch->r;
	uint32_t prod, cons, f;
	uint64_t start;
	pid_t pid = sr_self(&start);
	int i, ret = 0;

	file_identify(ch);
	ret = ctl_lock(r);
	if (ret)
		return ret;
	reap_locked(ch, -1);
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
		uint32_t pf = ch->plain ? SR_PEER_PLAIN : 0;

		sr_fds_hold();
		live_lock(ch);
		if (sr_release_add(ch))
			pf |= SR_PEER_RELEASE;
		sr_fds_release();
		if (ch->lock_fd >= 0) {
			pf |= SR_PEER_LOCKED;
			atomic_store_explicit(&p->lock_dev, ch->lock_dev,
					      memory_order_relaxed);
			atomic_store_explicit(&p->lock_ino, ch->lock_ino,
					      memory_order_relaxed);
		}
		atomic_store_explicit(&p->flags, pf, memory_order_relaxed);
		atomic_store_explicit(&p->start, start, memory_order_relaxed);
		atomic_store_explicit(&p->role, role, memory_order_relaxed);
		atomic_store_explicit(&p->pid, (uint32_t)pid,
				      memory_order_seq_cst);
		clear_flags(r, role == SHMRING_PRODUCER ? SHMRING_CH_EOF :
			    SHMRING_CH_HUP);
	}
	sr_unlock(&r->ctl.lock);
	/*
	 * A flag changed (EOF or HUP cleared, BROKEN set by a reap or a
	 * stolen lock), and a sleeper that cannot issue the barrier must see
	 * that we publish plainly before it sleeps long: ring both bells
	 * (the seq_cst stores above are W1).
	 */
	sr_notify_all(ch);
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
	if (ret) {
		live_unlock(ch);
		return ret;
	}
	if (atomic_load_explicit(&p->pid, memory_order_relaxed) == (uint32_t)pid)
		atomic_store_explicit(&p->pid, 0, memory_order_release);
	/* Our entry is clear: our end is no news any more (events.c). */
	sr_release_cancel(ch);
	/* The dead must not keep the last one out from resetting the ring. */
	reap_locked(ch, ch->peer);
	count_peers(r, &prod, &cons);
	if (ch->role == SHMRING_PRODUCER && !prod)
		set_flags(r, SHMRING_CH_EOF);
	if (ch->role == SHMRING_CONSUMER && !cons)
		set_flags(r, SHMRING_CH_HUP);
	if (!prod && !cons &&
	    sr_flags(r) & (SHMRING_CH_BROKEN | SHMRING_CH_HUP))
		sr_ring_reset(ch);
	sr_unlock(&r->ctl.lock);
	/* Only now: a survivor that saw our entry under the lock saw it held. */
	live_unlock(ch);
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

/* Off the process's list (events.c): nothing can copy its descriptors. */
static void handle_free(struct shmring_channel *ch)
{
	sr_pidfds_drop(ch->pidfd, SHMRING_MAX_PEERS);
	free(ch);
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
	ch->lock_fd = -1;
	ch->watch_fd = -1;
	sr_barrier_register();
	ch->plain = sr_barrier_light();
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
	/* The kind as bound and checked, not a second read of the entry. */
	if (!ret)
		ret = sr_ring_bind(ch, sh, e);
	if (!ret && attr && ch->kind != attr->kind)
		ret = -EPROTOTYPE;
	/* A READY entry never changes: the directory lock can go. */
	sr_layout_unlock(hdr);
	if (ret)
		goto out_free;
	/* On the list before join() opens its descriptor: see events.c. */
	sr_handles_add(ch);
	ret = join(ch, (uint32_t)role);
	if (ret) {
		sr_handles_del(ch);
		goto out_free;
	}
	*out = ch;
	return 0;
out_free:
	handle_free(ch);
	return sr_fail(-ret);
}

int shmring_channel_close(struct shmring_channel *ch)
{
	int ret;

	if (!ch)
		return 0;
	/* A copy fork() gave: the parent's, which only the parent closes. */
	if (ch->inherited) {
		sr_handles_del(ch);
		handle_free(ch);
		return 0;
	}
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
	sr_events_close(ch);
	sr_handles_del(ch);
	handle_free(ch);
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

int shmring_channel_peers(struct shmring *sh, const char *name,
			  struct shmring_peerinfo *out, unsigned int max)
{
	struct shmring_channel ch;
	struct sr_header *hdr;
	struct sr_dirent *e;
	unsigned int n = 0;
	int i, ret;

	if (!sh || !name || (max && !out) ||
	    strnlen(name, SHMRING_NAME_MAX + 1) > SHMRING_NAME_MAX)
		return sr_fail(EINVAL);
	ret = sr_layout_lock(sh, false, &hdr);
	if (ret)
		return sr_fail(-ret);
	memset(&ch, 0, sizeof(ch));
	e = sr_dir_find(hdr, name);
	ret = e ? sr_ring_bind(&ch, sh, e) : -ENOENT;
	sr_layout_unlock(hdr);
	if (ret)
		return sr_fail(-ret);
	ch.peer = -1;
	file_identify(&ch);
	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++) {
		struct sr_peer *p = &ch.r->ctl.peers[i];
		uint32_t pid, role, f;

		/* Each field once, the pid on both sides of the others. */
		pid = atomic_load_explicit(&p->pid, memory_order_acquire);
		role = atomic_load_explicit(&p->role, memory_order_relaxed);
		f = atomic_load_explicit(&p->flags, memory_order_acquire);
		if (!pid ||
		    pid != atomic_load_explicit(&p->pid, memory_order_relaxed))
			continue;
		if (role != SHMRING_PRODUCER && role != SHMRING_CONSUMER) {
			ret = -EBADMSG;
			break;
		}
		if (n < max)
			out[n] = (struct shmring_peerinfo){
				.pid = pid,
				.role = role,
				.dead = peer_dead_as(&ch, i, pid, f),
				.kernel = !!(f & SR_PEER_RELEASE),
			};
		n++;
	}
	sr_pidfds_drop(ch.pidfd, SHMRING_MAX_PEERS);
	return ret ? sr_fail(-ret) : (int)n;
}
