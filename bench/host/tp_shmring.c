// SPDX-License-Identifier: GPL-2.0
/*
 * libshmring on a memfd (futex WAIT/WAKE), three ways:
 *
 *   shmring_copy  SPSC SHMRING_MSG, shmring_msg_send() from a private
 *                 buffer the producer fills, shmring_msg_recv() into a
 *                 private buffer the consumer checks: one message per call,
 *                 each published and released on its own.
 *   shmring_zc    SPSC SHMRING_MSG in place: shmring_msg_reserve(), fill,
 *                 shmring_msg_commit() with SHMRING_MORE but on every
 *                 c->batch-th message; shmring_msg_peek(), check, and one
 *                 shmring_msg_release() per c->batch messages, or sooner
 *                 when the ring is empty (release before blocking).
 *   shmring_mpmc  SHMRING_MPMC, slot size = message size, c->nprod
 *                 producers and c->ncons consumers, in place
 *                 (reserve/commit, peek/release: one slot per call).
 *
 * Each thread opens its own channel handle (handles are per thread); the
 * WAIT and WAKE counts come from shmring_channel_stats() of every handle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmring.h>

#include "bench.h"
#include "payload.h"

#define CHANNEL "bench"
#define SLACK	(64 * 1024)	/* header page, ring control lines */

struct shm_ctx {
	struct shmring *sh;
	struct shmring_channel_attr attr;
};

struct shm_thread {
	struct shmring_channel *ch;
	void *buf;		/* copy API: the private message buffer */
};

static struct shmring_channel *chan(struct worker *w)
{
	return ((struct shm_thread *)w->priv)->ch;
}

static uint64_t shm_syscalls(struct worker *w)
{
	struct shmring_stats st;

	if (shmring_channel_stats(chan(w), &st))
		return 0;
	return st.waits + st.wakes + st.barriers;
}

static int shm_setup(struct worker *w)
{
	struct shm_ctx *x = w->job->ctx;
	struct shm_thread *t = calloc(1, sizeof(*t));
	int role = w->role == 0 ? SHMRING_PRODUCER : SHMRING_CONSUMER;

	if (!t)
		return worker_fail(w, "out of memory");
	w->priv = t;
	t->buf = aligned_alloc(64, w->job->c->msg);
	if (!t->buf)
		return worker_fail(w, "out of memory");
	memset(t->buf, 0, w->job->c->msg);
	if (shmring_channel_open(x->sh, CHANNEL, role, SHMRING_CREATE,
				 &x->attr, &t->ch))
		return worker_fail(w, "shmring_channel_open: %s",
				   strerror(errno));
	return 0;
}

static void shm_teardown(struct worker *w)
{
	struct shm_thread *t = w->priv;

	if (!t)
		return;
	if (t->ch && shmring_channel_close(t->ch))
		worker_fail(w, "shmring_channel_close: %s", strerror(errno));
	free(t->buf);
	free(t);
	w->priv = NULL;
}

/* ---- copying API ---- */

static int copy_prod(struct worker *w)
{
	struct shm_thread *t = w->priv;
	const struct cell *c = w->job->c;
	uint64_t seq;

	for (seq = 0; seq < w->n; seq++) {
		msg_fill(t->buf, c->msg, msg_id(w->idx, seq), 0);
		msg_set_stamp(t->buf, c, seq);
		if (shmring_msg_send(t->ch, t->buf, c->msg, -1) < 0)
			return worker_fail(w, "shmring_msg_send: %s",
					   strerror(errno));
		producer_sent(w, shm_syscalls);
		if (job_aborted(w->job))
			break;
	}
	return 0;
}

static int copy_cons(struct worker *w)
{
	struct shm_thread *t = w->priv;
	const struct cell *c = w->job->c;
	ssize_t n;

	for (;;) {
		n = shmring_msg_recv(t->ch, t->buf, c->msg, -1);
		if (!n)
			break;
		if (n < 0)
			return worker_fail(w, "shmring_msg_recv: %s",
					   strerror(errno));
		if (msg_take(w, t->buf, (size_t)n))
			return -1;
		consumer_took(w, shm_syscalls);
	}
	consumer_done(w);
	return 0;
}

/* ---- zero-copy API (SPSC batches; MPMC one slot at a time) ---- */

static int zc_prod(struct worker *w)
{
	struct shm_thread *t = w->priv;
	const struct cell *c = w->job->c;
	unsigned int flags;
	uint64_t seq;
	void *p;

	for (seq = 0; seq < w->n; seq++) {
		if (shmring_msg_reserve(t->ch, c->msg, &p, -1))
			return worker_fail(w, "shmring_msg_reserve: %s",
					   strerror(errno));
		msg_fill(p, c->msg, msg_id(w->idx, seq), 0);
		msg_set_stamp(p, c, seq);
		flags = (seq + 1) % c->batch && seq + 1 < w->n ?
			SHMRING_MORE : 0;
		if (shmring_msg_commit(t->ch, c->msg, flags))
			return worker_fail(w, "shmring_msg_commit: %s",
					   strerror(errno));
		producer_sent(w, shm_syscalls);
		if (job_aborted(w->job))
			break;
	}
	return 0;
}

static int zc_cons(struct worker *w)
{
	struct shm_thread *t = w->priv;
	const struct cell *c = w->job->c;
	unsigned int held = 0;
	const void *p;
	ssize_t n;

	for (;;) {
		n = shmring_msg_peek(t->ch, &p, 0);
		if (n == -EAGAIN) {
			/* Empty: give the room back before blocking. */
			if (held && shmring_msg_release(t->ch))
				return worker_fail(w, "shmring_msg_release: %s",
						   strerror(errno));
			held = 0;
			n = shmring_msg_peek(t->ch, &p, -1);
		}
		if (!n)
			break;
		if (n < 0)
			return worker_fail(w, "shmring_msg_peek: %s",
					   strerror(errno));
		if (msg_take(w, p, (size_t)n))
			return -1;
		consumer_took(w, shm_syscalls);
		if (++held >= c->batch) {
			if (shmring_msg_release(t->ch))
				return worker_fail(w, "shmring_msg_release: %s",
						   strerror(errno));
			held = 0;
		}
	}
	consumer_done(w);
	return 0;
}

/* ---- set-up ---- */

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static int run(const struct cell *c, const struct shmring_channel_attr *a,
	       size_t data_bytes, const struct tp_ops *ops, struct rep *out,
	       char *why, size_t whylen)
{
	struct shm_ctx x = { .attr = *a };
	int ret;

	if (shmring_open_memfd(page_round(data_bytes + SLACK), &x.sh)) {
		snprintf(why, whylen, "shmring_open_memfd(%zu): %s",
			 page_round(data_bytes + SLACK), strerror(errno));
		return -1;
	}
	ret = harness_run(c, &x, ops, out, why, whylen);
	shmring_close(x.sh);
	return ret;
}

int tp_shmring_copy(const struct cell *c, struct rep *out, char *why,
		    size_t n)
{
	static const struct tp_ops ops = {
		shm_setup, copy_prod, copy_cons, shm_teardown,
	};
	struct shmring_channel_attr a = {
		.kind = SHMRING_MSG, .capacity = c->cap,
	};

	if (c->msg > c->cap / 2 - 8) {
		snprintf(why, n, "message over capacity/2-8");
		return 1;
	}
	return run(c, &a, c->cap, &ops, out, why, n);
}

int tp_shmring_zc(const struct cell *c, struct rep *out, char *why, size_t n)
{
	static const struct tp_ops ops = {
		shm_setup, zc_prod, zc_cons, shm_teardown,
	};
	struct shmring_channel_attr a = {
		.kind = SHMRING_MSG, .capacity = c->cap,
	};

	if (c->msg > c->cap / 2 - 8) {
		snprintf(why, n, "message over capacity/2-8");
		return 1;
	}
	return run(c, &a, c->cap, &ops, out, why, n);
}

/* Slots: the ring's bytes over the slot stride, a power of two, at least 4. */
static uint64_t mpmc_slots(const struct cell *c)
{
	uint64_t stride = (c->msg + 8 + 7) / 8 * 8, want = c->cap / stride;
	uint64_t s = 4;

	while (s * 2 <= want)
		s *= 2;
	return s;
}

int tp_shmring_mpmc(const struct cell *c, struct rep *out, char *why,
		    size_t n)
{
	static const struct tp_ops ops = {
		shm_setup, zc_prod, zc_cons, shm_teardown,
	};
	uint64_t slots = mpmc_slots(c), stride = (c->msg + 8 + 7) / 8 * 8;
	struct shmring_channel_attr a = {
		.kind = SHMRING_MPMC, .slot_size = (uint32_t)c->msg,
		.capacity = slots,
	};
	struct cell mc = *c;

	if (c->msg > SHMRING_MAX_SLOT_SIZE ||
	    slots * stride > SHMRING_MAX_CAPACITY) {
		snprintf(why, n, "slot of %zu bytes over SHMRING_MAX_SLOT_SIZE "
			 "or ring over SHMRING_MAX_CAPACITY", c->msg);
		return 1;
	}
	/* MPMC takes and gives back one slot per call. */
	mc.batch = 1;
	return run(&mc, &a, slots * stride, &ops, out, why, n);
}
