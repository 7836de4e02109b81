// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The byte stream on an SPSC ring (SHMRING_STREAM): no records, so data
 * wraps freely; copies are split at the end of the ring.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>

#include "internal.h"

static int stream_check(const struct shmring_channel *ch, uint32_t role)
{
	if (!ch || ch->kind != SHMRING_STREAM || ch->role != role)
		return -EINVAL;
	return 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The free span at the write position; room for at least one byte known. */
static uint32_t write_span(const struct shmring_channel *ch)
{
	uint32_t free = ch->cap - (ch->tail - ch->head_cache);

	return min_u32(free, ch->cap - (ch->tail & ch->mask));
}

ssize_t shmring_stream_write(struct shmring_channel *ch, const void *buf,
			     size_t len, int64_t timeout_ns)
{
	const unsigned char *src = buf;
	struct sr_deadline dl;
	size_t done = 0;
	uint32_t n;
	int ret = 0;

	if (stream_check(ch, SHMRING_PRODUCER) || !buf || !len ||
	    len > SSIZE_MAX)
		return sr_fail(EINVAL);
	if (ch->busy)
		return sr_fail(EBUSY);
	sr_deadline_init(&dl, timeout_ns);
	while (done < len) {
		ret = sr_spsc_room(ch, 1, &dl);
		if (ret)
			break;
		n = write_span(ch);
		if (n > len - done)
			n = (uint32_t)(len - done);
		memcpy(ch->data + (ch->tail & ch->mask), src + done, n);
		ch->tail += n;
		done += n;
		/* At most two publishes per lap of the ring. */
		sr_spsc_publish(ch);
	}
	if (done) {
		ch->stats.messages++;
		ch->stats.bytes += done;
		return (ssize_t)done;
	}
	return sr_fail(-ret);
}

ssize_t shmring_stream_read(struct shmring_channel *ch, void *buf, size_t len,
			    int64_t timeout_ns)
{
	unsigned char *dst = buf;
	struct sr_deadline dl;
	uint32_t pos, n, first;
	int avail;

	if (stream_check(ch, SHMRING_CONSUMER) || !buf || !len ||
	    len > SSIZE_MAX)
		return sr_fail(EINVAL);
	sr_deadline_init(&dl, timeout_ns);
	avail = sr_spsc_avail(ch, &dl);
	if (avail <= 0)
		return sr_ret(avail);
	n = len < (size_t)avail ? (uint32_t)len : (uint32_t)avail;
	pos = ch->head & ch->mask;
	first = min_u32(n, ch->cap - pos);
	memcpy(dst, ch->data + pos, first);
	memcpy(dst + first, ch->data, n - first);
	ch->head += n;
	ch->peek_len = 0;
	sr_spsc_release(ch);
	ch->stats.messages++;
	ch->stats.bytes += n;
	return n;
}

ssize_t shmring_stream_reserve(struct shmring_channel *ch, void **data,
			       int64_t timeout_ns)
{
	struct sr_deadline dl;
	int ret;

	if (stream_check(ch, SHMRING_PRODUCER) || !data)
		return sr_fail(EINVAL);
	if (ch->busy)
		return sr_fail(EBUSY);
	sr_deadline_init(&dl, timeout_ns);
	ret = sr_spsc_room(ch, 1, &dl);
	if (ret)
		return sr_fail(-ret);
	ch->res_len = write_span(ch);
	ch->busy = true;
	*data = ch->data + (ch->tail & ch->mask);
	return ch->res_len;
}

int shmring_stream_commit(struct shmring_channel *ch, size_t n,
			  unsigned int flags)
{
	if (stream_check(ch, SHMRING_PRODUCER) || !ch->busy || !n ||
	    n > ch->res_len || flags & ~SHMRING_MORE)
		return sr_fail(EINVAL);
	ch->tail += (uint32_t)n;
	ch->busy = false;
	ch->stats.messages++;
	ch->stats.bytes += n;
	if (!(flags & SHMRING_MORE))
		sr_spsc_publish(ch);
	return 0;
}

ssize_t shmring_stream_peek(struct shmring_channel *ch, const void **data,
			    int64_t timeout_ns)
{
	struct sr_deadline dl;
	uint32_t pos;
	int avail;

	if (stream_check(ch, SHMRING_CONSUMER) || !data)
		return sr_fail(EINVAL);
	sr_deadline_init(&dl, timeout_ns);
	avail = sr_spsc_avail(ch, &dl);
	if (avail <= 0)
		return sr_ret(avail);
	pos = ch->head & ch->mask;
	ch->peek_len = min_u32((uint32_t)avail, ch->cap - pos);
	*data = ch->data + pos;
	return ch->peek_len;
}

int shmring_stream_release(struct shmring_channel *ch, size_t n)
{
	if (stream_check(ch, SHMRING_CONSUMER) || !n || n > ch->peek_len)
		return sr_fail(EINVAL);
	ch->head += (uint32_t)n;
	ch->peek_len = 0;
	sr_spsc_release(ch);
	ch->stats.messages++;
	ch->stats.bytes += n;
	return 0;
}
