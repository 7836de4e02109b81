// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The wait/wake backend: SHMRING_IOC_WAIT/WAKE on the device, or the futex
 * syscall on a memfd mapping. Both sleep only while the word still holds
 * the expected value, checked atomically against WAKE in the kernel, which
 * the blocking protocol in block.c relies on.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int64_t sr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Starts the deadline the first time a call has to block; returns the time
 * now. The spin, the sleeps and the liveness checks all count from there.
 */
int64_t sr_deadline_start(struct sr_deadline *dl)
{
	int64_t now = sr_now_ns();

	if (dl->start)
		return now;
	dl->start = now;
	dl->end = dl->timeout < 0 || dl->timeout > INT64_MAX / 2 ?
		  INT64_MAX : now + dl->timeout;
	dl->reap_at = now + SR_LIVENESS_NS;
	return now;
}

/* Nanoseconds left, 0 once expired, INT64_MAX for no deadline. */
int64_t sr_deadline_left(struct sr_deadline *dl)
{
	int64_t now = sr_deadline_start(dl);

	if (dl->end == INT64_MAX)
		return INT64_MAX;
	return now < dl->end ? dl->end - now : 0;
}

/* The word must be an aligned u32 inside the buffer, for either backend. */
static bool word_ok(const struct shmring *sh, const void *word)
{
	uintptr_t p = (uintptr_t)word, b = (uintptr_t)sh->base;

	return word && !(p & 3) && p >= b && p - b <= sh->size - 4;
}

static int futex_wait(const void *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000LL;
		ts.tv_nsec = timeout_ns % 1000000000LL;
		tsp = &ts;
	}
	/* Not FUTEX_PRIVATE: the waker may be another process. */
	if (syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0))
		return -errno;
	return 0;
}

static int futex_wake(const void *word, uint32_t count)
{
	long n = syscall(SYS_futex, word, FUTEX_WAKE,
			 count > INT_MAX ? INT_MAX : (int)count, NULL, NULL, 0);

	return n < 0 ? -errno : (int)n;
}

int sr_wait_word(struct shmring *sh, const void *word, uint32_t expected,
		 int64_t timeout_ns)
{
	struct shmring_wait w = {
		.expected = expected,
		.timeout_ns = timeout_ns,
	};

	if (sh->backend == SHMRING_BACKEND_FUTEX)
		return futex_wait(word, expected, timeout_ns);
	w.offset = (uint64_t)((const unsigned char *)word - sh->base);
	return ioctl(sh->fd, SHMRING_IOC_WAIT, &w) ? -errno : 0;
}

int sr_wake_word(struct shmring *sh, const void *word, uint32_t count)
{
	struct shmring_wake w = { .count = count };
	int n;

	if (sh->backend == SHMRING_BACKEND_FUTEX)
		return futex_wake(word, count);
	w.offset = (uint64_t)((const unsigned char *)word - sh->base);
	n = ioctl(sh->fd, SHMRING_IOC_WAKE, &w);
	return n < 0 ? -errno : n;
}

int shmring_wait(struct shmring *sh, const uint32_t *word, uint32_t expected,
		 int64_t timeout_ns)
{
	if (!sh || !word_ok(sh, word))
		return sr_fail(EINVAL);
	return (int)sr_ret(sr_wait_word(sh, word, expected, timeout_ns));
}

int shmring_wake(struct shmring *sh, const uint32_t *word, uint32_t count)
{
	if (!sh || !word_ok(sh, word))
		return sr_fail(EINVAL);
	return (int)sr_ret(sr_wake_word(sh, word, count));
}
