/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The blocking transports of the round-trip test. Every one is a pair of
 * one-way channels between side A and side B, set up before fork and used
 * the same way: post() a 4-byte sequence number one way, await() it on the
 * other side in a call that sleeps in the kernel until it comes.
 */
#ifndef BENCH_TRANSPORT_H
#define BENCH_TRANSPORT_H

#include <stdatomic.h>
#include <stdint.h>

/* One-way directions. */
#define DIR_AB	0
#define DIR_BA	1

struct link {
	int fd[4];			/* per-transport descriptors */
	int devfd;			/* /dev/shmring or the memfd */
	unsigned char *map;
	size_t map_size;
	_Atomic uint32_t *word[2];	/* the futex-like words, per direction */
	uint64_t off[2];		/* their offsets in the mapping */
};

struct transport {
	const char *name;
	int (*open)(struct link *l);
	void (*close)(struct link *l);
	/*
	 * Sends @seq on @dir. Returns 1 if it is known that this woke a
	 * sleeping peer, 0 if not or unknown, -1 on error.
	 */
	int (*post)(struct link *l, int dir, uint32_t seq);
	/* Sleeps until @seq arrives on @dir. 0, or -1 on error. */
	int (*await)(struct link *l, int dir, uint32_t seq);
	int knows_wakes;		/* post() tells a real wake-up apart */
};

/* The instance tp_instance uses, which must exist while it runs. */
#define RT_INSTANCE	"bench-rt"
#define RT_INSTANCE_BYTES	(1UL << 20)

extern const struct transport tp_shmring, tp_futex, tp_eventfd, tp_pipe,
	tp_socketpair, tp_watch_epoll, tp_eventfd_epoll, tp_instance;

#endif /* BENCH_TRANSPORT_H */
