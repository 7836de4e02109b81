// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The message API, for SPSC message rings and MPMC queues alike: argument
 * checks here, the ring work in spsc.c and mpmc.c.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>

#include "internal.h"

static bool msg_ok(const struct shmring_channel *ch, uint32_t role)
{
	return ch && ch->kind != SHMRING_STREAM && ch->role == role;
}

static void count(struct shmring_channel *ch, size_t len)
{
	ch->stats.messages++;
	ch->stats.bytes += len;
}

int shmring_msg_reserve(struct shmring_channel *ch, size_t len, void **data,
			int64_t timeout_ns)
{
	struct sr_deadline dl;
	int ret;

	if (!msg_ok(ch, SHMRING_PRODUCER) || !data || !len ||
	    len > ch->max_msg)
		return sr_fail(EINVAL);
	if (ch->busy)
		return sr_fail(EBUSY);
	sr_deadline_init(&dl, timeout_ns);
	if (ch->kind == SHMRING_MPMC)
		ret = sr_mpmc_reserve(ch, len, data, &dl);
	else
		ret = sr_spsc_msg_reserve(ch, len, data, &dl);
	return ret ? sr_fail(-ret) : 0;
}

int shmring_msg_commit(struct shmring_channel *ch, size_t len,
		       unsigned int flags)
{
	if (!msg_ok(ch, SHMRING_PRODUCER) || !ch->busy || !len ||
	    len > ch->res_len || flags & ~SHMRING_MORE)
		return sr_fail(EINVAL);
	count(ch, len);
	if (ch->kind == SHMRING_MPMC)
		return sr_mpmc_commit(ch, len);
	return sr_spsc_msg_commit(ch, len, flags);
}

int shmring_flush(struct shmring_channel *ch)
{
	if (!ch || ch->role != SHMRING_PRODUCER)
		return sr_fail(EINVAL);
	if (ch->kind != SHMRING_MPMC)
		sr_spsc_publish(ch);
	return 0;
}

ssize_t shmring_msg_send(struct shmring_channel *ch, const void *buf,
			 size_t len, int64_t timeout_ns)
{
	void *dst;
	int ret;

	if (!buf)
		return sr_fail(EINVAL);
	if (msg_ok(ch, SHMRING_PRODUCER) && ch->kind == SHMRING_MSG &&
	    !ch->busy && len && len <= ch->max_msg &&
	    sr_spsc_msg_send_fast(ch, buf, len)) {
		count(ch, len);
		return (ssize_t)len;
	}
	ret = shmring_msg_reserve(ch, len, &dst, timeout_ns);
	if (ret)
		return ret;
	memcpy(dst, buf, len);
	shmring_msg_commit(ch, len, 0);
	return (ssize_t)len;
}

static ssize_t peek(struct shmring_channel *ch, const void **data,
		    int64_t timeout_ns)
{
	struct sr_deadline dl;

	sr_deadline_init(&dl, timeout_ns);
	if (ch->kind == SHMRING_MPMC)
		return sr_mpmc_peek(ch, data, &dl);
	return sr_spsc_msg_peek(ch, data, &dl);
}

ssize_t shmring_msg_peek(struct shmring_channel *ch, const void **data,
			 int64_t timeout_ns)
{
	ssize_t n;

	if (!msg_ok(ch, SHMRING_CONSUMER) || !data)
		return sr_fail(EINVAL);
	if (ch->busy)
		return sr_fail(EBUSY);
	n = peek(ch, data, timeout_ns);
	if (n > 0)
		count(ch, (size_t)n);
	return sr_ret(n);
}

int shmring_msg_release(struct shmring_channel *ch)
{
	if (!msg_ok(ch, SHMRING_CONSUMER))
		return sr_fail(EINVAL);
	if (ch->kind == SHMRING_MPMC) {
		if (ch->busy)
			sr_mpmc_release(ch);
	} else {
		sr_spsc_release(ch);
	}
	return 0;
}

/*
 * On EMSGSIZE the message stays: SPSC rewinds the read cursor; MPMC, whose
 * slot is claimed for good, keeps holding it for the next recv.
 */
ssize_t shmring_msg_recv(struct shmring_channel *ch, void *buf, size_t len,
			 int64_t timeout_ns)
{
	uint32_t cursor;
	const void *src;
	ssize_t n;

	if (!msg_ok(ch, SHMRING_CONSUMER) || !buf || !len)
		return sr_fail(EINVAL);
	if (ch->kind == SHMRING_MSG) {
		n = sr_spsc_msg_recv_fast(ch, buf, len);
		if (n) {
			count(ch, (size_t)n);
			return n;
		}
	}
	cursor = ch->head;
	if (ch->kind == SHMRING_MPMC && ch->busy) {
		src = sr_mpmc_held(ch);
		n = ch->res_len;
	} else {
		n = peek(ch, &src, timeout_ns);
		if (n <= 0)
			return sr_ret(n);
	}
	if ((size_t)n > len) {
		if (ch->kind != SHMRING_MPMC)
			ch->head = cursor;
		return sr_fail(EMSGSIZE);
	}
	memcpy(buf, src, (size_t)n);
	count(ch, (size_t)n);
	shmring_msg_release(ch);
	return n;
}
