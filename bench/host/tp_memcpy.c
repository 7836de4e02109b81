// SPDX-License-Identifier: GPL-2.0
/*
 * The single-thread baselines, on the producer's CPU:
 *
 *   memcpy      the same work as every transport, on one thread: fill a
 *               private message buffer, memcpy() it into a buffer the size
 *               of the ring (at the next position, wrapping like a ring),
 *               then read and check it there. One copy, nothing shared.
 *   memcpy_raw  memcpy() alone of the same bytes into the same ring-sized
 *               buffer, from a source filled once: the upper limit of
 *               moving the bytes, without the fair work (no fill, no check
 *               per message; the data is checked once at the end).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "payload.h"

struct mc_thread {
	unsigned char *src, *dst;
};

static int mc_setup(struct worker *w)
{
	const struct cell *c = w->job->c;
	struct mc_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return worker_fail(w, "out of memory");
	w->priv = t;
	t->src = aligned_alloc(64, c->msg);
	t->dst = aligned_alloc(64, c->cap);
	if (!t->src || !t->dst)
		return worker_fail(w, "out of memory");
	memset(t->src, 0, c->msg);
	memset(t->dst, 0, c->cap);
	return 0;
}

static void mc_teardown(struct worker *w)
{
	struct mc_thread *t = w->priv;

	if (t) {
		free(t->src);
		free(t->dst);
		free(t);
	}
	w->priv = NULL;
}

static size_t next_off(const struct cell *c, size_t off)
{
	off += c->msg;
	return off + c->msg > c->cap ? 0 : off;
}

static int mc_fair(struct worker *w)
{
	struct mc_thread *t = w->priv;
	const struct cell *c = w->job->c;
	size_t off = 0;
	uint64_t seq;

	for (seq = 0; seq < w->n; seq++) {
		msg_fill(t->src, c->msg, msg_id(0, seq), 0);
		memcpy(t->dst + off, t->src, c->msg);
		if (msg_take(w, t->dst + off, c->msg))
			return -1;
		consumer_took(w, NULL);
		off = next_off(c, off);
	}
	return 0;
}

static int mc_raw(struct worker *w)
{
	struct mc_thread *t = w->priv;
	const struct cell *c = w->job->c;
	size_t off = 0;
	uint64_t seq, id, ts;

	msg_fill(t->src, c->msg, msg_id(0, 0), 0);
	for (seq = 0; seq < w->n; seq++) {
		memcpy(t->dst + off, t->src, c->msg);
		/* The copy is observable: the compiler must not drop it. */
		__asm__ __volatile__("" : : "r"(t->dst) : "memory");
		/* Counted as received, in order, for the harness's checks. */
		w->got++;
		w->seq_sum += seq;
		consumer_took(w, NULL);
		off = next_off(c, off);
	}
	if (msg_check(t->dst, c->msg, &id, &ts) || id != msg_id(0, 0))
		return worker_fail(w, "memcpy_raw: bad copy");
	return 0;
}

int tp_memcpy(const struct cell *c, struct rep *out, char *why, size_t n)
{
	static const struct tp_ops ops = {
		mc_setup, mc_fair, NULL, mc_teardown,
	};
	struct cell mc = *c;

	mc.nprod = 1;
	mc.ncons = 0;
	return harness_run(&mc, NULL, &ops, out, why, n);
}

int tp_memcpy_raw(const struct cell *c, struct rep *out, char *why, size_t n)
{
	static const struct tp_ops ops = {
		mc_setup, mc_raw, NULL, mc_teardown,
	};
	struct cell mc = *c;

	mc.nprod = 1;
	mc.ncons = 0;
	return harness_run(&mc, NULL, &ops, out, why, n);
}
