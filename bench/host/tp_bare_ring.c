// SPDX-License-Identifier: GPL-2.0
/*
 * bare_ring: the least a shared-memory SPSC ring can do under the fair
 * work, written for this one benchmark, as memcpy_raw is for the copy.
 *
 * The same memfd mapping and the same batches as shmring_zc (the producer
 * publishes its index once per c->batch messages, the consumer its own
 * once per c->batch), the same fill in place and check in place; but fixed
 * slots of exactly the message size (page-aligned at 4 KiB and up), no
 * record headers, no checks of the peer's index, and a spin instead of a
 * sleep. No library could do with less, so where this ring is under a
 * bound, so is every ring, on those two CPUs at that moment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "internal.h"	/* sr_cpu_relax() */
#include "payload.h"

/* The indices, on lines of their own, in the first page of the mapping. */
struct bare_ctl {
	_Alignas(128) _Atomic uint64_t tail;	/* messages published */
	_Alignas(128) _Atomic uint64_t head;	/* messages released */
};

struct bare_ring {
	struct bare_ctl *ctl;
	unsigned char *slots;
	uint64_t nslots;
	size_t map_len;
};

#define CTL_BYTES	4096

static int bare_prod(struct worker *w)
{
	struct bare_ring *x = w->job->ctx;
	const struct cell *c = w->job->c;
	uint64_t seq, head = 0;
	void *p;

	for (seq = 0; seq < w->n; seq++) {
		while (seq - head >= x->nslots) {
			if (job_aborted(w->job))
				return 0;
			sr_cpu_relax();
			head = atomic_load_explicit(&x->ctl->head,
						    memory_order_acquire);
		}
		p = x->slots + (seq % x->nslots) * c->msg;
		msg_fill(p, c->msg, msg_id(0, seq), 0);
		msg_set_stamp(p, c, seq);
		if ((seq + 1) % c->batch == 0 || seq + 1 == w->n)
			atomic_store_explicit(&x->ctl->tail, seq + 1,
					      memory_order_release);
		producer_sent(w, NULL);
	}
	return 0;
}

static int bare_cons(struct worker *w)
{
	struct bare_ring *x = w->job->ctx;
	const struct cell *c = w->job->c;
	uint64_t seq, tail = 0;

	for (seq = 0; seq < w->job->total; seq++) {
		while (seq >= tail) {
			if (job_aborted(w->job))
				return 0;
			sr_cpu_relax();
			tail = atomic_load_explicit(&x->ctl->tail,
						    memory_order_acquire);
		}
		if (msg_take(w, x->slots + (seq % x->nslots) * c->msg, c->msg))
			return -1;
		consumer_took(w, NULL);
		if ((seq + 1) % c->batch == 0)
			atomic_store_explicit(&x->ctl->head, seq + 1,
					      memory_order_release);
	}
	consumer_done(w);
	return 0;
}

int tp_bare_ring(const struct cell *c, struct rep *out, char *why, size_t n)
{
	static const struct tp_ops ops = { NULL, bare_prod, bare_cons, NULL };
	struct bare_ring x = {
		.nslots = c->cap / c->msg,
		.map_len = CTL_BYTES + c->cap,
	};
	void *map;
	int fd, ret;

	if (x.nslots < 2) {
		snprintf(why, n, "ring of %zu bytes holds under two messages",
			 c->cap);
		return 1;
	}
	fd = memfd_create("bare_ring", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, n, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)x.map_len)) {
		snprintf(why, n, "ftruncate(%zu): %s", x.map_len,
			 strerror(errno));
		close(fd);
		return -1;
	}
	map = mmap(NULL, x.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(why, n, "mmap(%zu): %s", x.map_len, strerror(errno));
		return -1;
	}
	x.ctl = map;
	x.slots = (unsigned char *)map + CTL_BYTES;
	ret = harness_run(c, &x, &ops, out, why, n);
	munmap(map, x.map_len);
	return ret;
}
