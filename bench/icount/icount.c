// SPDX-License-Identifier: GPL-2.0
/*
 * shmring-bench-icount API LEN BATCHES: the ring work of one thread that
 * produces and consumes BATCHES batches of 32 messages of LEN bytes through
 * one API, for bench/icount/run.sh to count under callgrind. Two runs of
 * different BATCHES differ only by the steady state, so the difference of
 * their instruction counts over the messages is the cost per message of the
 * ring itself, set-up excluded, and unlike a time it is exact.
 *
 *   copy    shmring_msg_send() x 32, shmring_msg_recv() x 32
 *   zc      shmring_msg_reserve() + _commit(SHMRING_MORE but the last)
 *           x 32, shmring_msg_peek() x 32, one shmring_msg_release()
 *   stream  shmring_stream_write() x 32, shmring_stream_read() x 32
 *   mpmc    reserve + commit x 32, peek + release x 32 (slot = LEN)
 *
 * The zero-copy calls neither write nor read the payload: what is left is
 * the ring's own cost. Exit status 0, or 1 with a message on any error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmring.h>

#define BATCH	32
#define RING	(1U << 20)

static char buf[1 << 16];

static int fail(const char *what)
{
	fprintf(stderr, "shmring-bench-icount: %s: %s\n", what,
		strerror(errno));
	return 1;
}

enum api { COPY, ZC, STREAM, MPMC };

static const char *const names[] = { "copy", "zc", "stream", "mpmc" };

static int produce(enum api api, struct shmring_channel *p, size_t len,
		   int i)
{
	void *d;

	switch (api) {
	case COPY:
		if (shmring_msg_send(p, buf, len, 0) != (ssize_t)len)
			return fail("shmring_msg_send");
		return 0;
	case STREAM:
		if (shmring_stream_write(p, buf, len, 0) != (ssize_t)len)
			return fail("shmring_stream_write");
		return 0;
	default:
		if (shmring_msg_reserve(p, len, &d, 0))
			return fail("shmring_msg_reserve");
		if (shmring_msg_commit(p, len, api == ZC && i < BATCH - 1 ?
				       SHMRING_MORE : 0))
			return fail("shmring_msg_commit");
		return 0;
	}
}

static int consume(enum api api, struct shmring_channel *c, size_t len)
{
	const void *q;

	switch (api) {
	case COPY:
		if (shmring_msg_recv(c, buf, len, 0) != (ssize_t)len)
			return fail("shmring_msg_recv");
		return 0;
	case STREAM:
		if (shmring_stream_read(c, buf, len, 0) != (ssize_t)len)
			return fail("shmring_stream_read");
		return 0;
	default:
		if (shmring_msg_peek(c, &q, 0) != (ssize_t)len)
			return fail("shmring_msg_peek");
		if (api == MPMC && shmring_msg_release(c))
			return fail("shmring_msg_release");
		return 0;
	}
}

static int batch(enum api api, struct shmring_channel *p,
		 struct shmring_channel *c, size_t len)
{
	int i;

	for (i = 0; i < BATCH; i++)
		if (produce(api, p, len, i))
			return 1;
	for (i = 0; i < BATCH; i++)
		if (consume(api, c, len))
			return 1;
	if (api == ZC && shmring_msg_release(c))
		return fail("shmring_msg_release");
	return 0;
}

int main(int argc, char **argv)
{
	struct shmring_channel_attr a = { .kind = SHMRING_MSG,
					  .capacity = RING };
	struct shmring_channel *p, *c;
	struct shmring *sh;
	unsigned long n, len;
	enum api api;
	char *end;

	if (argc != 4)
		goto usage;
	for (api = COPY; api <= MPMC; api++)
		if (!strcmp(argv[1], names[api]))
			break;
	if (api > MPMC)
		goto usage;
	len = strtoul(argv[2], &end, 0);
	if (*end || !len || len > sizeof(buf))
		goto usage;
	n = strtoul(argv[3], &end, 0);
	if (*end)
		goto usage;
	if (api == STREAM) {
		a.kind = SHMRING_STREAM;
	} else if (api == MPMC) {
		a.kind = SHMRING_MPMC;
		a.slot_size = (uint32_t)len;
		a.capacity = 64;
	}
	if (shmring_open_memfd(4 * RING, &sh))
		return fail("shmring_open_memfd");
	if (shmring_channel_open(sh, "icount", SHMRING_PRODUCER,
				 SHMRING_CREATE, &a, &p) ||
	    shmring_channel_open(sh, "icount", SHMRING_CONSUMER, 0, NULL, &c))
		return fail("shmring_channel_open");
	while (n--)
		if (batch(api, p, c, len))
			return 1;
	if (shmring_channel_close(p) || shmring_channel_close(c))
		return fail("shmring_channel_close");
	shmring_close(sh);
	return 0;
usage:
	fprintf(stderr, "usage: shmring-bench-icount copy|zc|stream|mpmc "
		"LEN BATCHES\n");
	return 2;
}
