// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libshmring on a memfd: every API error path, the ring
 * semantics, and corrupted shared memory (which must give EBADMSG, never a
 * crash: the sanitizer builds catch any out-of-bounds access).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define BUF	(4 * MiB)

static struct sr_header *hdr_of(struct shmring *sh)
{
	return shmring_base(sh);
}

static struct sr_dirent *dirent_of(struct shmring *sh, const char *name)
{
	struct sr_header *h = hdr_of(sh);
	int i;

	for (i = 0; i < SHMRING_MAX_CHANNELS; i++)
		if (h->dir[i].state == SR_DIR_READY &&
		    !strcmp(h->dir[i].name, name))
			return &h->dir[i];
	CHECK(!"channel in the directory");
	return NULL;
}

static struct sr_ring *ring_of(struct shmring *sh, const char *name)
{
	return (struct sr_ring *)((char *)shmring_base(sh) +
				  dirent_of(sh, name)->offset);
}

static int test_open_args(void)
{
	struct shmring *sh;
	void *p;

	CHECK_ERR(shmring_open_memfd(0, &sh), EINVAL);
	CHECK_ERR(shmring_open_memfd(4096 + 1, &sh), EINVAL);
	CHECK_ERR(shmring_open_memfd((size_t)2 << 30, &sh), EINVAL);
	CHECK_ERR(shmring_open_memfd(BUF, NULL), EINVAL);
	CHECK_ERR(shmring_open("/nonexistent/shmring", &sh), ENOENT);
	CHECK_ERR(shmring_open(NULL, NULL), EINVAL);
	/* Not the device: INFO is not known there. */
	CHECK_ERR(shmring_open("/dev/null", &sh), ENOTTY);

	p = shared_alloc(BUF);
	CHECK_ERR(shmring_attach(NULL, BUF, SHMRING_BACKEND_FUTEX, -1, &sh),
		  EINVAL);
	CHECK_ERR(shmring_attach(p, 0, SHMRING_BACKEND_FUTEX, -1, &sh), EINVAL);
	CHECK_ERR(shmring_attach((char *)p + 8, 4096, SHMRING_BACKEND_FUTEX,
				 -1, &sh), EINVAL);
	CHECK_ERR(shmring_attach(p, BUF, 7, -1, &sh), EINVAL);
	CHECK_ERR(shmring_attach(p, BUF, SHMRING_BACKEND_DEVICE, -1, &sh),
		  EINVAL);
	CHECK_ERR(shmring_attach(p, BUF, SHMRING_BACKEND_FUTEX, -1, NULL),
		  EINVAL);
	CHECK_OK(shmring_attach(p, BUF, SHMRING_BACKEND_FUTEX, -1, &sh));
	CHECK(shmring_base(sh) == p && shmring_size(sh) == BUF);
	CHECK(shmring_fd(sh) == -1);
	shmring_close(sh);
	shmring_close(NULL);
	CHECK(!shmring_base(NULL) && !shmring_size(NULL) &&
	      shmring_fd(NULL) == -1);
	munmap(p, BUF);
	return 0;
}

static int test_info(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_info info;

	CHECK_ERR(shmring_info(NULL, &info), EINVAL);
	CHECK_ERR(shmring_info(sh, NULL), EINVAL);
	CHECK_OK(shmring_info(sh, &info));
	CHECK(info.page_size == (uint32_t)getpagesize());
	CHECK(info.abi_version == SHMRING_ABI_VERSION);
	if (on_device())
		CHECK(info.size >= BUF);
	else
		CHECK(info.size == BUF && !info.nr_waiters);
	CHECK(shmring_fd(sh) >= 0);
	shmring_close(sh);
	return 0;
}

struct waker {
	struct shmring *sh;
	uint32_t *word;
	int woke;
};

static void *wake_later(void *arg)
{
	struct waker *w = arg;

	sleep_ms(50);
	__atomic_store_n(w->word, 1, __ATOMIC_SEQ_CST);
	w->woke = shmring_wake(w->sh, w->word, UINT32_MAX);
	return NULL;
}

static int test_wait_wake(void)
{
	struct shmring *sh = buffer_new(BUF);
	uint32_t *w = shmring_base(sh);
	struct waker wk = { .sh = sh, .word = w + 16 };
	pthread_t t;
	int64_t t0;
	int ret;

	CHECK_ERR(shmring_wait(NULL, w, 0, 0), EINVAL);
	CHECK_ERR(shmring_wait(sh, NULL, 0, 0), EINVAL);
	CHECK_ERR(shmring_wait(sh, (uint32_t *)((char *)w + 2), 0, 0), EINVAL);
	CHECK_ERR(shmring_wait(sh, w + BUF / 4, 0, 0), EINVAL);
	CHECK_ERR(shmring_wait(sh, w - 1, 0, 0), EINVAL);
	CHECK_ERR(shmring_wake(sh, w + BUF / 4, 1), EINVAL);
	CHECK_ERR(shmring_wake(NULL, w, 1), EINVAL);
	CHECK_ERR(shmring_wait(sh, w + BUF / 4 - 1, 1, 0), EAGAIN);
	CHECK_ERR(shmring_wait(sh, w, 5, 0), EAGAIN);
	CHECK_ERR(shmring_wait(sh, w, 0, 0), ETIMEDOUT);
	t0 = now_ns();
	CHECK_ERR(shmring_wait(sh, w, 0, 20000000), ETIMEDOUT);
	CHECK(now_ns() - t0 >= 20000000);
	CHECK_EQ(shmring_wake(sh, w, UINT32_MAX), 0);

	CHECK(!pthread_create(&t, NULL, wake_later, &wk));
	do {
		ret = shmring_wait(sh, wk.word, 0, -1);
	} while (ret == -EINTR);
	CHECK(ret == 0 || ret == -EAGAIN);
	pthread_join(t, NULL);
	/* Woken by the WAKE, or the store came first and WAIT never slept. */
	CHECK_EQ(wk.woke, ret == 0 ? 1 : 0);
	shmring_close(sh);
	return 0;
}

static int test_format(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct sr_header *h = hdr_of(sh);
	struct shmring *tiny = buffer_new(4096);

	CHECK_ERR(shmring_check(NULL), EINVAL);
	CHECK_ERR(shmring_format(NULL, 0), EINVAL);
	CHECK_ERR(shmring_format(sh, 2), EINVAL);
	CHECK_ERR(shmring_format(tiny, 0), EINVAL);
	CHECK_ERR(shmring_check(sh), ENOENT);
	CHECK_OK(shmring_format(sh, 0));
	CHECK_OK(shmring_check(sh));
	CHECK_OK(shmring_format(sh, 0));
	CHECK(h->magic == SR_LAYOUT_MAGIC && h->version == SR_LAYOUT_VERSION);
	CHECK(h->size == BUF && !h->lock);

	/* A foreign buffer is refused, and FORCE takes it over. */
	memset(h, 0x5a, 64);
	CHECK_ERR(shmring_check(sh), EBADMSG);
	CHECK_ERR(shmring_format(sh, 0), EBADMSG);
	CHECK_OK(shmring_format(sh, SHMRING_FORMAT_FORCE));
	CHECK_OK(shmring_check(sh));
	/* Magic 0 but not blank is foreign too, not something to format. */
	memset(h, 0, 4096);
	((char *)h)[100] = 1;
	CHECK_ERR(shmring_format(sh, 0), EBADMSG);
	shmring_close(tiny);
	shmring_close(sh);
	return 0;
}

static int test_channel_args(void)
{
	static const struct shmring_channel_attr bad[] = {
		{ .kind = 0, .capacity = 4096 },
		{ .kind = 4, .capacity = 4096 },
		{ .kind = SHMRING_MSG, .capacity = 0 },
		{ .kind = SHMRING_MSG, .capacity = 4095 },
		{ .kind = SHMRING_MSG, .capacity = 32 },
		{ .kind = SHMRING_MSG, .capacity = 1ULL << 31 },
		{ .kind = SHMRING_MSG, .capacity = 4096, .slot_size = 8 },
		{ .kind = SHMRING_STREAM, .capacity = 1ULL << 40 },
		{ .kind = SHMRING_MPMC, .capacity = 16, .slot_size = 0 },
		{ .kind = SHMRING_MPMC, .capacity = 16,
		  .slot_size = SHMRING_MAX_SLOT_SIZE + 1 },
		{ .kind = SHMRING_MPMC, .capacity = 1, .slot_size = 64 },
		{ .kind = SHMRING_MPMC, .capacity = 12, .slot_size = 64 },
		{ .kind = SHMRING_MPMC, .capacity = 1U << 25, .slot_size = 8 },
		{ .kind = SHMRING_MPMC, .capacity = 1U << 20,
		  .slot_size = 4096 },
	};
	struct shmring_channel_attr a = { .kind = SHMRING_MSG, .capacity = 4096 };
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *ch;
	char name[40];
	size_t i;

	CHECK_ERR(shmring_channel_open(NULL, "a", 1, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, NULL, 1, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 1, SHMRING_CREATE, &a, NULL),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "", 1, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	memset(name, 'n', sizeof(name));
	name[SHMRING_NAME_MAX + 1] = '\0';
	CHECK_ERR(shmring_channel_open(sh, name, 1, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 0, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 3, SHMRING_CREATE, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 1, 4, &a, &ch), EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 1, SHMRING_EXCL, &a, &ch),
		  EINVAL);
	CHECK_ERR(shmring_channel_open(sh, "a", 1, SHMRING_CREATE, NULL, &ch),
		  EINVAL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_ERR(shmring_channel_open(sh, "a", 1, SHMRING_CREATE,
					       &bad[i], &ch), EINVAL);
	/* Nothing was created by any of that. */
	CHECK_ERR(shmring_check(sh), ENOENT);
	CHECK_ERR(shmring_channel_open(sh, "a", 1, 0, NULL, &ch), ENOENT);

	/* 31 bytes is the longest name. */
	name[SHMRING_NAME_MAX] = '\0';
	CHECK_OK(shmring_channel_open(sh, name, 1, SHMRING_CREATE, &a, &ch));
	CHECK_OK(shmring_channel_close(ch));
	CHECK_OK(shmring_channel_close(NULL));
	CHECK_ERR(shmring_channel_attr(NULL, &a), EINVAL);
	CHECK_ERR(shmring_channel_stats(NULL, NULL), EINVAL);
	CHECK(!shmring_channel_max_msg(NULL));
	shmring_close(sh);
	return 0;
}

static int test_channel_lifecycle(void)
{
	struct shmring_channel_attr a = { .kind = SHMRING_MSG, .capacity = 4096 };
	struct shmring_channel_attr s = { .kind = SHMRING_STREAM,
					  .capacity = 1024 };
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p, *c, *x;
	struct shmring_chinfo ci[4];

	CHECK_OK(shmring_channel_open(sh, "m", SHMRING_PRODUCER,
				      SHMRING_CREATE | SHMRING_EXCL, &a, &p));
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_CONSUMER,
				       SHMRING_CREATE | SHMRING_EXCL, &a, &x),
		  EEXIST);
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_CONSUMER, 0, &s, &x),
		  EPROTOTYPE);
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_PRODUCER, 0, NULL, &x),
		  EBUSY);
	/* An existing channel keeps its geometry. */
	a.capacity = 65536;
	CHECK_OK(shmring_channel_open(sh, "m", SHMRING_CONSUMER,
				      SHMRING_CREATE, &a, &c));
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_CONSUMER, 0, NULL, &x),
		  EBUSY);
	CHECK_OK(shmring_channel_attr(c, &a));
	CHECK(a.kind == SHMRING_MSG && a.capacity == 4096 && !a.slot_size);
	CHECK_EQ(shmring_channel_max_msg(c), 4096 / 2 - 8);
	CHECK_OK(shmring_channel_open(sh, "s", SHMRING_CONSUMER,
				      SHMRING_CREATE, &s, &x));
	CHECK_EQ(shmring_channel_max_msg(x), 0);
	CHECK_EQ(shmring_msg_send(p, "abc", 3, 0), 3);

	CHECK_ERR(shmring_channels(NULL, ci, 4), EINVAL);
	CHECK_ERR(shmring_channels(sh, NULL, 4), EINVAL);
	CHECK_EQ(shmring_channels(sh, NULL, 0), 2);
	CHECK_EQ(shmring_channels(sh, ci, 1), 2);
	CHECK_EQ(shmring_channels(sh, ci, 4), 2);
	CHECK(!strcmp(ci[0].name, "m") && ci[0].kind == SHMRING_MSG);
	CHECK(ci[0].capacity == 4096 && ci[0].used == 16);
	CHECK(ci[0].producers == 1 && ci[0].consumers == 1 && !ci[0].flags);
	CHECK(!strcmp(ci[1].name, "s") && ci[1].consumers == 1 &&
	      !ci[1].producers);
	CHECK_OK(shmring_channel_close(x));
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int test_directory_full(void)
{
	struct shmring_channel_attr a = { .kind = SHMRING_MSG, .capacity = 64 };
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *ch;
	char name[16];
	int i;

	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		CHECK_OK(shmring_channel_open(sh, name, SHMRING_PRODUCER,
					      SHMRING_CREATE, &a, &ch));
		CHECK_OK(shmring_channel_close(ch));
	}
	CHECK_ERR(shmring_channel_open(sh, "one-more", SHMRING_PRODUCER,
				       SHMRING_CREATE, &a, &ch), ENOSPC);
	/* The existing ones still open. */
	CHECK_OK(shmring_channel_open(sh, "c7", SHMRING_CONSUMER, 0, NULL, &ch));
	CHECK_OK(shmring_channel_close(ch));
	shmring_close(sh);

	/* Not enough bytes left in the buffer. */
	sh = buffer_new(BUF);
	a.capacity = BUF / 2;
	CHECK_OK(shmring_channel_open(sh, "big", SHMRING_PRODUCER,
				      SHMRING_CREATE, &a, &ch));
	CHECK_OK(shmring_channel_close(ch));
	CHECK_ERR(shmring_channel_open(sh, "big2", SHMRING_PRODUCER,
				       SHMRING_CREATE, &a, &ch), ENOSPC);
	a.capacity = BUF / 4;
	CHECK_OK(shmring_channel_open(sh, "quarter", SHMRING_PRODUCER,
				      SHMRING_CREATE, &a, &ch));
	CHECK_OK(shmring_channel_close(ch));
	shmring_close(sh);
	return 0;
}

static int test_msg_errors(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "m", SHMRING_PRODUCER,
					 SHMRING_MSG, 4096, 0);
	struct shmring_channel *c = chan(sh, "m", SHMRING_CONSUMER,
					 SHMRING_MSG, 4096, 0);
	struct shmring_channel *s = chan(sh, "s", SHMRING_PRODUCER,
					 SHMRING_STREAM, 4096, 0);
	char buf[4096];
	const void *cp;
	void *d;

	memset(buf, 7, sizeof(buf));
	CHECK_ERR(shmring_msg_send(NULL, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_send(p, NULL, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_send(p, buf, 0, 0), EINVAL);
	CHECK_ERR(shmring_msg_send(p, buf, 4096 / 2 - 7, 0), EINVAL);
	CHECK_ERR(shmring_msg_send(c, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_send(s, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_recv(p, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_recv(c, NULL, 1, 0), EINVAL);
	CHECK_ERR(shmring_msg_recv(c, buf, 0, 0), EINVAL);
	CHECK_ERR(shmring_msg_peek(c, NULL, 0), EINVAL);
	CHECK_ERR(shmring_msg_peek(p, &cp, 0), EINVAL);
	CHECK_ERR(shmring_msg_release(p), EINVAL);
	CHECK_ERR(shmring_msg_release(NULL), EINVAL);
	CHECK_ERR(shmring_msg_reserve(p, 8, NULL, 0), EINVAL);
	CHECK_ERR(shmring_msg_reserve(c, 8, &d, 0), EINVAL);
	CHECK_ERR(shmring_msg_commit(p, 8, 0), EINVAL);
	CHECK_ERR(shmring_flush(c), EINVAL);
	CHECK_ERR(shmring_flush(NULL), EINVAL);

	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 1000000), ETIMEDOUT);
	CHECK_ERR(shmring_msg_peek(c, &cp, 0), EAGAIN);

	CHECK_OK(shmring_msg_reserve(p, 100, &d, 0));
	CHECK(((uintptr_t)d & 7) == 0);
	CHECK_ERR(shmring_msg_reserve(p, 100, &d, 0), EBUSY);
	CHECK_ERR(shmring_msg_send(p, buf, 1, 0), EBUSY);
	CHECK_ERR(shmring_msg_commit(p, 101, 0), EINVAL);
	CHECK_ERR(shmring_msg_commit(p, 0, 0), EINVAL);
	CHECK_ERR(shmring_msg_commit(p, 10, 2), EINVAL);
	memcpy(d, "0123456789", 10);
	CHECK_OK(shmring_msg_commit(p, 10, 0));
	CHECK_ERR(shmring_msg_commit(p, 10, 0), EINVAL);

	/* Too small a buffer: EMSGSIZE, and the message stays. */
	CHECK_ERR(shmring_msg_recv(c, buf, 9, 0), EMSGSIZE);
	CHECK_EQ(shmring_msg_recv(c, buf, 10, 0), 10);
	CHECK(!memcmp(buf, "0123456789", 10));
	/* Again with the message already seen: recv's one-step path. */
	CHECK_EQ(shmring_msg_send(p, "ab", 2, 0), 2);
	CHECK_EQ(shmring_msg_send(p, "cdef", 4, 0), 4);
	CHECK_EQ(shmring_msg_recv(c, buf, 2, 0), 2);
	CHECK_ERR(shmring_msg_recv(c, buf, 3, 0), EMSGSIZE);
	CHECK_EQ(shmring_msg_recv(c, buf, 4, 0), 4);
	CHECK(!memcmp(buf, "cdef", 4));

	/* Fill the ring: EAGAIN, then ETIMEDOUT. */
	while (shmring_msg_send(p, buf, 500, 0) == 500)
		;
	CHECK_ERR(shmring_msg_send(p, buf, 500, 0), EAGAIN);
	CHECK_ERR(shmring_msg_send(p, buf, 500, 1000000), ETIMEDOUT);
	CHECK_OK(shmring_channel_close(s));
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* Batches: SHMRING_MORE holds back publication; peeks batch releases. */
static int test_msg_batch(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "m", SHMRING_PRODUCER,
					 SHMRING_MSG, 4096, 0);
	struct shmring_channel *c = chan(sh, "m", SHMRING_CONSUMER,
					 SHMRING_MSG, 4096, 0);
	struct shmring_stats st;
	const void *m[3];
	void *d;
	int i;

	for (i = 0; i < 3; i++) {
		CHECK_OK(shmring_msg_reserve(p, 8, &d, 0));
		memcpy(d, &i, sizeof(i));
		CHECK_OK(shmring_msg_commit(p, sizeof(i), SHMRING_MORE));
	}
	CHECK_ERR(shmring_msg_peek(c, &m[0], 0), EAGAIN);
	CHECK_OK(shmring_flush(p));
	for (i = 0; i < 3; i++) {
		CHECK_EQ(shmring_msg_peek(c, &m[i], 0), sizeof(i));
		CHECK(!memcmp(m[i], &i, sizeof(i)));
	}
	CHECK_ERR(shmring_msg_peek(c, &m[0], 0), EAGAIN);
	/* Nothing released yet: the producer's view of the head is old. */
	CHECK(!atomic_load(&ring_of(sh, "m")->head));
	CHECK_OK(shmring_msg_release(c));
	CHECK_EQ(atomic_load(&ring_of(sh, "m")->head), 3 * 16);
	CHECK_OK(shmring_msg_release(c));
	CHECK_OK(shmring_channel_stats(c, &st));
	CHECK(st.messages == 3 && st.bytes == 3 * sizeof(i) && !st.waits);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static size_t wrap_len(uint64_t k, size_t max)
{
	return k % 5 ? 1 + mix64(k) % max : max;
}

/* Many laps with sizes that force padding records at the end. */
static int test_msg_wrap(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "m", SHMRING_PRODUCER,
					 SHMRING_MSG, 256, 0);
	struct shmring_channel *c = chan(sh, "m", SHMRING_CONSUMER,
					 SHMRING_MSG, 256, 0);
	size_t max = shmring_channel_max_msg(p), len;
	uint64_t sent = 0, got = 0, n;
	unsigned char buf[256];
	ssize_t ret;
	int i;

	pattern(0);
	CHECK_EQ(max, 120);
	for (i = 0; i < 20000; i++) {
		/* Fill up, then drain part of it. */
		while ((ret = shmring_msg_send(p, pattern(sent),
					       wrap_len(sent, max), 0)) > 0)
			sent++;
		CHECK_EQ(ret, -EAGAIN);
		CHECK(sent > got);
		for (n = 1 + mix64(i) % (sent - got); n; n--, got++) {
			len = wrap_len(got, max);
			CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), len);
			CHECK(!memcmp(buf, pattern(got), len));
		}
	}
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int test_stream(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "s", SHMRING_PRODUCER,
					 SHMRING_STREAM, 1024, 0);
	struct shmring_channel *c = chan(sh, "s", SHMRING_CONSUMER,
					 SHMRING_STREAM, 1024, 0);
	struct shmring_channel *m = chan(sh, "m", SHMRING_PRODUCER,
					 SHMRING_MSG, 1024, 0);
	unsigned char buf[2048];
	const void *cp;
	void *d;
	uint64_t wr = 0, rd = 0;
	ssize_t n;
	int i;

	pattern(0);
	CHECK_ERR(shmring_stream_write(NULL, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_write(p, NULL, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_write(p, buf, 0, 0), EINVAL);
	CHECK_ERR(shmring_stream_write(c, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_write(m, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_read(p, buf, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_read(c, NULL, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_read(c, buf, 0, 0), EINVAL);
	CHECK_ERR(shmring_stream_reserve(c, &d, 0), EINVAL);
	CHECK_ERR(shmring_stream_reserve(p, NULL, 0), EINVAL);
	CHECK_ERR(shmring_stream_commit(p, 1, 0), EINVAL);
	CHECK_ERR(shmring_stream_peek(p, &cp, 0), EINVAL);
	CHECK_ERR(shmring_stream_release(c, 1), EINVAL);
	CHECK_ERR(shmring_stream_read(c, buf, 1, 0), EAGAIN);
	CHECK_ERR(shmring_stream_peek(c, &cp, 1000), ETIMEDOUT);

	/* A write larger than the ring is short when the ring fills. */
	CHECK_EQ(shmring_stream_write(p, pattern(0), 1500, 0), 1024);
	wr = 1024;
	CHECK_ERR(shmring_stream_write(p, pattern(0), 1, 0), EAGAIN);
	CHECK_EQ(shmring_stream_read(c, buf, 100, 0), 100);
	CHECK(!memcmp(buf, pattern(0), 100));
	rd = 100;

	for (i = 0; i < 20000; i++) {
		size_t len = 1 + mix64(i) % 700;

		if (i & 1) {
			n = shmring_stream_write(p, pattern(wr), len, 0);
			CHECK(n > 0 || n == -EAGAIN);
			if (n > 0)
				wr += (uint64_t)n;
		} else {
			n = shmring_stream_reserve(p, &d, 0);
			CHECK(n > 0 || n == -EAGAIN);
			if (n > 0) {
				CHECK_ERR(shmring_stream_reserve(p, &d, 0), EBUSY);
				CHECK_ERR(shmring_stream_write(p, buf, 1, 0), EBUSY);
				if ((size_t)n > len)
					n = (ssize_t)len;
				memcpy(d, pattern(wr), (size_t)n);
				CHECK_ERR(shmring_stream_commit(p, 0, 0), EINVAL);
				CHECK_OK(shmring_stream_commit(p, (size_t)n, 0));
				wr += (uint64_t)n;
			}
		}
		len = 1 + mix64(i + 99) % 900;
		if (i % 3) {
			n = shmring_stream_read(c, buf, len, 0);
			CHECK(n > 0 || (n == -EAGAIN && rd == wr));
			if (n > 0) {
				CHECK(!memcmp(buf, pattern(rd), (size_t)n));
				rd += (uint64_t)n;
			}
		} else {
			n = shmring_stream_peek(c, &cp, 0);
			CHECK(n > 0 || (n == -EAGAIN && rd == wr));
			if (n > 0) {
				if ((size_t)n > len)
					n = (ssize_t)len;
				CHECK(!memcmp(cp, pattern(rd), (size_t)n));
				CHECK_ERR(shmring_stream_release(c, 0), EINVAL);
				CHECK_OK(shmring_stream_release(c, (size_t)n));
				CHECK_ERR(shmring_stream_release(c, 1), EINVAL);
				rd += (uint64_t)n;
			}
		}
		CHECK(wr - rd <= 1024);
	}
	CHECK_OK(shmring_channel_close(p));
	/* End of file after the rest is read. */
	while ((n = shmring_stream_read(c, buf, sizeof(buf), 0)) > 0) {
		CHECK(!memcmp(buf, pattern(rd), (size_t)n));
		rd += (uint64_t)n;
	}
	CHECK_EQ(n, 0);
	CHECK_EQ(rd, wr);
	CHECK_OK(shmring_channel_close(c));
	CHECK_OK(shmring_channel_close(m));
	shmring_close(sh);
	return 0;
}

static int test_mpmc(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "q", SHMRING_PRODUCER,
					 SHMRING_MPMC, 8, 64);
	struct shmring_channel *p2 = chan(sh, "q", SHMRING_PRODUCER,
					  SHMRING_MPMC, 8, 64);
	struct shmring_channel *c = chan(sh, "q", SHMRING_CONSUMER,
					 SHMRING_MPMC, 8, 64);
	struct shmring_channel_attr a;
	unsigned char buf[64];
	const void *cp;
	void *d;
	int i;

	CHECK_OK(shmring_channel_attr(c, &a));
	CHECK(a.kind == SHMRING_MPMC && a.capacity == 8 && a.slot_size == 64);
	CHECK_EQ(shmring_channel_max_msg(p), 64);
	CHECK_ERR(shmring_msg_send(p, buf, 65, 0), EINVAL);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	for (i = 0; i < 8; i++)
		CHECK_EQ(shmring_msg_send(i & 1 ? p : p2, &i, sizeof(i), 0),
			 sizeof(i));
	CHECK_ERR(shmring_msg_send(p, &i, sizeof(i), 0), EAGAIN);
	CHECK_ERR(shmring_msg_send(p, &i, sizeof(i), 2000000), ETIMEDOUT);
	/* EMSGSIZE keeps the slot for the next recv; peek must wait. */
	CHECK_ERR(shmring_msg_recv(c, buf, 2, 0), EMSGSIZE);
	CHECK_ERR(shmring_msg_peek(c, &cp, 0), EBUSY);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), sizeof(i));
	CHECK(!memcmp(buf, &(int){0}, sizeof(i)));
	for (i = 1; i < 8; i++) {
		CHECK_EQ(shmring_msg_peek(c, &cp, 0), sizeof(i));
		CHECK(!memcmp(cp, &i, sizeof(i)));
		CHECK_OK(shmring_msg_release(c));
	}
	CHECK_OK(shmring_msg_release(c));
	/* A producer closing with a reservation: consumers skip it. */
	CHECK_OK(shmring_msg_reserve(p2, 64, &d, 0));
	CHECK_ERR(shmring_msg_reserve(p2, 64, &d, 0), EBUSY);
	CHECK_EQ(shmring_msg_send(p, "x", 1, 0), 1);
	CHECK_OK(shmring_channel_close(p2));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 1);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_OK(shmring_channel_close(p));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 0);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* End of file, hang-up, reuse by a new pair, and data left for later. */
static int test_eof_hup(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p, *c;
	char buf[64];

	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	CHECK_EQ(shmring_msg_send(p, "one", 3, 0), 3);
	CHECK_OK(shmring_channel_close(p));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 3);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 0);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 0);
	CHECK_OK(shmring_channel_close(c));

	/* A new session: the consumer first, and no stale end-of-file. */
	c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	CHECK_OK(shmring_channel_close(c));
	/* The consumer left: the producer gets EPIPE, as from a pipe, though
	 * it knows of room (send's one-step path).
	 */
	CHECK_ERR(shmring_msg_send(p, "two", 3, 0), EPIPE);
	CHECK_OK(shmring_channel_close(p));

	/* The producer first: its data waits for the consumer. */
	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	CHECK_EQ(shmring_msg_send(p, "three", 5, 0), 5);
	CHECK_OK(shmring_channel_close(p));
	c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 5);
	CHECK(!memcmp(buf, "three", 5));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 0);
	CHECK_OK(shmring_channel_close(c));
	CHECK(!atomic_load(&ring_of(sh, "m")->ctl.flags));
	shmring_close(sh);
	return 0;
}

struct blocker {
	struct shmring_channel *c;
	ssize_t got;
	char buf[16];
};

static void *block_recv(void *arg)
{
	struct blocker *b = arg;

	b->got = shmring_msg_recv(b->c, b->buf, sizeof(b->buf), -1);
	return NULL;
}

/* A blocked consumer sleeps in WAIT and the producer's WAKE gets it out. */
static int test_blocking(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "m", SHMRING_PRODUCER,
					 SHMRING_MSG, 4096, 0);
	struct blocker b = {
		.c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0),
	};
	struct shmring_stats sp, sc;
	pthread_t t;

	CHECK(!pthread_create(&t, NULL, block_recv, &b));
	sleep_ms(150);
	CHECK_EQ(shmring_msg_send(p, "wake", 4, 0), 4);
	pthread_join(t, NULL);
	CHECK_EQ(b.got, 4);
	CHECK(!memcmp(b.buf, "wake", 4));
	CHECK_OK(shmring_channel_stats(p, &sp));
	CHECK_OK(shmring_channel_stats(b.c, &sc));
	CHECK(sc.waits >= 1 && sp.wakes == 1);
	/* Nobody asleep: no WAKE. */
	CHECK_EQ(shmring_msg_send(p, "more", 4, 0), 4);
	CHECK_OK(shmring_channel_stats(p, &sp));
	CHECK_EQ(sp.wakes, 1);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(b.c));
	shmring_close(sh);
	return 0;
}

/*
 * No lost wake-ups: blocking ping-pong where the answer comes after a random
 * delay of up to twice the longest spin, so that whatever the adaptive spin
 * budget is at the time, sleepers often go to sleep just as the other side
 * publishes. A lost wake-up would show as a WAIT that runs out its whole
 * liveness slice; there must be none.
 */
#define PINGS	3000

struct pinger {
	struct shmring *sh;
	bool first;
	struct shmring_stats st;
	int err;
};

/* Busy for a random time up to twice the library's longest spin. */
static void busy(uint64_t r)
{
	int64_t end = now_ns() + (int64_t)(r % (2 * SR_SPIN_MAX_NS + 1));

	while (now_ns() < end)
		;
}

static int pingpong_side(void *arg)
{
	struct pinger *pg = arg;
	struct shmring_channel *tx, *rx;
	uint32_t i, v;

	tx = chan(pg->sh, pg->first ? "ping" : "pong", SHMRING_PRODUCER,
		  SHMRING_MSG, 4096, 0);
	rx = chan(pg->sh, pg->first ? "pong" : "ping", SHMRING_CONSUMER,
		  SHMRING_MSG, 4096, 0);
	for (i = 0; i < PINGS && !pg->err; i++) {
		if (pg->first) {
			busy(mix64(i));
			if (shmring_msg_send(tx, &i, sizeof(i), -1) != sizeof(i) ||
			    shmring_msg_recv(rx, &v, sizeof(v), -1) != sizeof(v) ||
			    v != i)
				pg->err = __LINE__;
		} else {
			if (shmring_msg_recv(rx, &v, sizeof(v), -1) != sizeof(v) ||
			    v != i)
				pg->err = __LINE__;
			busy(mix64(i + PINGS));
			if (shmring_msg_send(tx, &i, sizeof(i), -1) != sizeof(i))
				pg->err = __LINE__;
		}
	}
	shmring_channel_stats(rx, &pg->st);
	shmring_channel_close(tx);
	shmring_channel_close(rx);
	return pg->err;
}

static void *pingpong_thread(void *arg)
{
	pingpong_side(arg);
	return NULL;
}

static int pingpong(bool procs)
{
	struct shmring *sh = buffer_new(BUF);
	struct pinger *pg = shared_alloc(2 * sizeof(*pg));
	uint64_t waits = 0, timeouts = 0;
	pthread_t t[2];
	pid_t pid[2];
	int64_t t0 = now_ns();
	int i;

	for (i = 0; i < 2; i++) {
		pg[i] = (struct pinger){ .sh = sh, .first = i == 0 };
		if (procs)
			pid[i] = spawn(pingpong_side, &pg[i]);
		else
			CHECK(!pthread_create(&t[i], NULL, pingpong_thread,
					      &pg[i]));
	}
	for (i = 0; i < 2; i++) {
		if (procs)
			reap(pid[i]);
		else
			pthread_join(t[i], NULL);
		CHECK_EQ(pg[i].err, 0);
		waits += pg[i].st.waits;
		timeouts += pg[i].st.timeouts;
	}
	printf("# %d round trips in %.2f s, %llu WAITs, %llu ran out\n", PINGS,
	       (double)(now_ns() - t0) / 1e9, (unsigned long long)waits,
	       (unsigned long long)timeouts);
	CHECK(waits > 0);
	CHECK_EQ(timeouts, 0);
	shmring_close(sh);
	return 0;
}

static int pingpong_threads(void) { return pingpong(false); }
static int pingpong_procs(void) { return pingpong(true); }

/*
 * The producer publishes within a few microseconds of the moment the
 * consumer's spin ends and it goes to sleep, at an offset that sweeps that
 * window, so that the producer's W1 and W2 fall among the consumer's S1-S3
 * (block.c). Where the spin really ends, after the consumer's estimate,
 * differs by machine (under TCG by microseconds), so the estimate follows
 * the results: one step later after a round the data arrived during the
 * spin, one step earlier after a round that reached the barrier. A wake-up
 * lost there costs a whole liveness slice: the test stops at the first.
 * Without the sleeper's barrier (S1') it loses one within a few hundred
 * rounds on the machines we measured.
 */
#define RACE_ROUNDS	4000
#define RACE_STEP_NS	50
#define RACE_STEPS	81	/* offsets -2 us to +2 us */

struct racer {
	struct shmring *sh;
	_Atomic uint32_t round;		/* the consumer waits for round - 1 */
	_Atomic int64_t spin_end;	/* when the consumer's spin runs out */
	_Atomic bool stop;
	_Atomic int err;	/* written by both threads */
};

static void *race_producer(void *arg)
{
	struct racer *rc = arg;
	struct shmring_channel *tx;
	uint32_t i;
	int64_t at;

	tx = chan(rc->sh, "race", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	for (i = 0; i < RACE_ROUNDS; i++) {
		while (atomic_load(&rc->round) != i + 1)
			if (atomic_load(&rc->stop))
				goto out;
		at = atomic_load(&rc->spin_end) +
		     (int64_t)(i % RACE_STEPS) * RACE_STEP_NS -
		     RACE_STEPS / 2 * RACE_STEP_NS;
		while (now_ns() < at)
			;
		if (shmring_msg_send(tx, &i, sizeof(i), -1) != sizeof(i)) {
			rc->err = __LINE__;
			break;
		}
	}
out:
	shmring_channel_close(tx);
	return NULL;
}

/*
 * A child of fork() is not registered for the sleeper's barrier, so it must
 * publish with fenced stores until it registers, at its next attach.
 */
static int barrier_child(void *arg)
{
	struct shmring_channel *ch;

	if (sr_barrier_light())
		return 1;
	ch = chan(arg, "forked", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	if (!sr_barrier_light())
		return 2;
	shmring_channel_close(ch);
	return 0;
}

static int test_barrier_fork(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *ch;

	ch = chan(sh, "parent", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	/* Every kernel we run on (6.1 and later) offers the barrier. */
	CHECK(sr_barrier_light());
	CHECK_EQ(reap(spawn(barrier_child, sh)), 0);
	CHECK(sr_barrier_light());
	shmring_channel_close(ch);
	shmring_close(sh);
	return 0;
}

/*
 * A call's timeout counts from the moment it first has to wait, spin
 * included: a call that spins for 500 us must still return about when a
 * 20 us timeout says. The deadline once started only after the spin, so the
 * call overran by the whole spin budget. The fastest of a few tries, so
 * that a vCPU taken away by the host does not count.
 */
static int test_timeout_includes_spin(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *c = chan(sh, "t", SHMRING_CONSUMER,
					 SHMRING_MSG, 4096, 0);
	int64_t t0, took, best = INT64_MAX;
	char buf[16];
	int i;

	for (i = 0; i < 20; i++) {
		c->spin_ns = SR_SPIN_MAX_NS;
		t0 = now_ns();
		CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 20000),
			  ETIMEDOUT);
		took = now_ns() - t0;
		best = took < best ? took : best;
	}
	printf("# a 20 us timeout with a %d us spin took %.1f us at best\n",
	       SR_SPIN_MAX_NS / 1000, (double)best / 1e3);
	CHECK(best >= 20000);
	CHECK(best < SR_SPIN_MAX_NS / 2);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/*
 * A producer that publishes nothing but empty slots (what a producer closing
 * with a slot reserved leaves, and what a hostile peer can write at will)
 * kept a consumer skipping them for ever: the claim loops retried without
 * looking at the deadline. Here each slot the consumer skips is at once
 * published empty again (from the hook after the consumer's release, so
 * the ring is never found empty). A timed peek must end about on time and
 * a non-blocking one at once.
 */
static struct shmring_channel *skip_prod, *skip_cons;
static uint64_t skips;

static void refill_skip(const struct shmring_channel *ch, enum sr_step step)
{
	void *d;

	if (ch != skip_cons || step != SR_STEP_W1)
		return;
	if (!shmring_msg_reserve(skip_prod, 8, &d, 0)) {
		sr_mpmc_commit(skip_prod, 0);
		skips++;
	}
}

static int test_mpmc_claim_deadline(void)
{
	struct shmring *sh = buffer_new(BUF);
	const void *d;
	int64_t t0, took;
	void *w;
	int pass, i;

	skip_prod = chan(sh, "q", SHMRING_PRODUCER, SHMRING_MPMC, 16, 8);
	skip_cons = chan(sh, "q", SHMRING_CONSUMER, SHMRING_MPMC, 16, 8);
	for (i = 0; i < 16; i++) {
		CHECK_OK(shmring_msg_reserve(skip_prod, 8, &w, 0));
		sr_mpmc_commit(skip_prod, 0);
	}
	atomic_store(&sr_test_hook, refill_skip);
	for (pass = 0; pass < 2; pass++) {
		int64_t timeout = pass ? 20000000 : 0;

		t0 = now_ns();
		CHECK_ERR(shmring_msg_peek(skip_cons, &d, timeout),
			  pass ? ETIMEDOUT : EAGAIN);
		took = now_ns() - t0;
		printf("# timeout %lld ms among empty slots: %.2f ms, %llu "
		       "skipped\n", (long long)timeout / 1000000,
		       (double)took / 1e6, (unsigned long long)skips);
		CHECK(took >= timeout && took < timeout + 500000000);
	}
	atomic_store(&sr_test_hook, NULL);
	CHECK(skips > 0);
	CHECK_OK(shmring_channel_close(skip_prod));
	CHECK_OK(shmring_channel_close(skip_cons));
	shmring_close(sh);
	return 0;
}

/* INFO must name an ABI this library speaks, and a size it can map. */
static int test_info_check(void)
{
	struct shmring_info info = { .size = BUF, .abi_version = 1 };

	CHECK_OK(sr_info_check(&info));
	info.abi_version = SHMRING_ABI_VERSION + 1;	/* later ones add */
	CHECK_OK(sr_info_check(&info));
	info.abi_version = 0;
	CHECK_EQ(sr_info_check(&info), -EPROTO);
	info.abi_version = 1;
	info.size = 0;
	CHECK_EQ(sr_info_check(&info), -EINVAL);
	return 0;
}

/*
 * Participants whose processes differ in what they may do about the
 * sleeper's barrier (barrier.c): refused by a seccomp profile, opted out of
 * with SHMRING_NO_MEMBARRIER, or used. Each runs in a child that sets itself
 * up so before its first open, as a process would from its start.
 */
enum mb_mode { MB_USED, MB_REFUSED, MB_OPTED_OUT };

struct mb_peer {
	struct shmring *sh;
	enum mb_mode mode;
	int role;
	_Atomic int state;	/* 1 attached, 2 told to go on, 3 done */
	bool plain;		/* what its handle and its record say */
	bool recorded_plain;
	struct shmring_stats st;
	int64_t slept;		/* a consumer: its 50 ms receive took */
};

/* membarrier(2) fails with ENOSYS, as on a kernel without it. */
static void refuse_membarrier(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	CHECK_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK_OK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

static int mb_peer_main(void *arg)
{
	struct mb_peer *p = arg;
	struct shmring_channel *ch;
	char buf[16];
	int64_t t0;

	if (p->mode == MB_REFUSED)
		refuse_membarrier();
	if (p->mode == MB_OPTED_OUT)
		CHECK_OK(setenv("SHMRING_NO_MEMBARRIER", "1", 1));
	ch = chan(p->sh, "mb", p->role, SHMRING_MSG, 4096, 0);
	p->plain = ch->plain;
	p->recorded_plain = atomic_load(&ch->r->ctl.peers[ch->peer].flags) &
			    SR_PEER_PLAIN;
	atomic_store(&p->state, 1);
	while (atomic_load(&p->state) != 2)
		sleep_ms(1);
	if (p->role == SHMRING_CONSUMER) {
		t0 = now_ns();
		CHECK_ERR(shmring_msg_recv(ch, buf, sizeof(buf), 50000000),
			  ETIMEDOUT);
		p->slept = now_ns() - t0;
		/* and a message sent by the other process still comes */
		CHECK_EQ(shmring_msg_recv(ch, buf, sizeof(buf), -1), 4);
	} else {
		CHECK_EQ(shmring_msg_send(ch, "late", 4, -1), 4);
	}
	shmring_channel_stats(ch, &p->st);
	CHECK_OK(shmring_channel_close(ch));
	atomic_store(&p->state, 3);
	return 0;
}

/* A producer and a consumer in two processes of the given modes. */
static void mb_pair(enum mb_mode prod, enum mb_mode cons,
		    struct mb_peer *pp, struct mb_peer *cp)
{
	struct shmring *sh = buffer_new(BUF);
	pid_t a, b;

	*pp = (struct mb_peer){ .sh = sh, .mode = prod,
				.role = SHMRING_PRODUCER };
	*cp = (struct mb_peer){ .sh = sh, .mode = cons,
				.role = SHMRING_CONSUMER };
	a = spawn(mb_peer_main, pp);
	while (!atomic_load(&pp->state))
		sleep_ms(1);
	b = spawn(mb_peer_main, cp);
	while (!atomic_load(&cp->state))
		sleep_ms(1);
	atomic_store(&cp->state, 2);
	/* The producer sends once the consumer's timed receive is over. */
	while (!cp->slept)
		sleep_ms(1);
	atomic_store(&pp->state, 2);
	CHECK_EQ(reap(a), 0);
	CHECK_EQ(reap(b), 0);
	shmring_close(sh);
}

/*
 * A consumer whose process may not issue membarrier, against a producer
 * that publishes with plain stores: it cannot order its sleep against
 * them, so it sleeps in slices of SR_BARRIER_SLICE_NS (tens of WAITs in
 * 50 ms). When it assumed, from its own process alone, that nobody
 * published plainly, it slept the 50 ms in one WAIT and could miss a
 * publish for a whole liveness slice.
 */
static int test_barrier_refused(void)
{
	struct mb_peer *p = shared_alloc(2 * sizeof(*p));

	mb_pair(MB_USED, MB_REFUSED, &p[0], &p[1]);
	CHECK(p[0].plain && p[0].recorded_plain);
	CHECK(!p[1].plain && !p[1].recorded_plain);
	printf("# 50 ms empty: %llu WAITs, %llu membarriers\n",
	       (unsigned long long)p[1].st.waits,
	       (unsigned long long)p[1].st.barriers);
	CHECK_EQ(p[1].st.barriers, 0);
	CHECK(p[1].st.waits >= 10);
	CHECK_EQ(p[1].st.timeouts, 0);
	return 0;
}

/*
 * The same consumer against a producer that publishes with fenced stores
 * (opted out): nothing to fear, one WAIT for the whole 50 ms.
 */
static int test_barrier_refused_fenced_peer(void)
{
	struct mb_peer *p = shared_alloc(2 * sizeof(*p));

	mb_pair(MB_OPTED_OUT, MB_REFUSED, &p[0], &p[1]);
	CHECK(!p[0].plain && !p[0].recorded_plain);
	printf("# 50 ms empty: %llu WAITs\n",
	       (unsigned long long)p[1].st.waits);
	CHECK(p[1].st.waits >= 1 && p[1].st.waits <= 3);
	return 0;
}

/*
 * SHMRING_NO_MEMBARRIER: the process neither registers nor issues the
 * barrier, and publishes with fenced stores; its plain-publishing peer
 * makes it sleep in short slices, and messages pass both ways.
 */
static int test_barrier_opt_out(void)
{
	struct mb_peer *p = shared_alloc(4 * sizeof(*p));

	mb_pair(MB_USED, MB_OPTED_OUT, &p[0], &p[1]);
	CHECK(!p[1].plain && !p[1].recorded_plain);
	CHECK_EQ(p[1].st.barriers, 0);
	CHECK(p[1].st.waits >= 10);
	mb_pair(MB_OPTED_OUT, MB_USED, &p[2], &p[3]);
	CHECK(!p[2].plain && p[3].plain);
	/* Nobody publishes plainly to it: one barrier per sleep, one WAIT. */
	CHECK(p[3].st.barriers >= 1);
	CHECK(p[3].st.waits >= 1 && p[3].st.waits <= 3);
	return 0;
}

static int test_wake_at_sleep(void)
{
	struct racer rc = { .sh = buffer_new(BUF) };
	struct shmring_channel *rx;
	struct shmring_stats st = { 0 };
	uint64_t barriers = 0;
	int64_t late = 0;	/* the spin's end after the estimate */
	pthread_t t;
	uint32_t i, v;

	rx = chan(rc.sh, "race", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	CHECK(!pthread_create(&t, NULL, race_producer, &rc));
	for (i = 0; i < RACE_ROUNDS && !rc.err; i++) {
		/* recv spins from about now, for the budget it has now */
		atomic_store(&rc.spin_end, now_ns() + late +
			     (rx->spin_ns ? rx->spin_ns : SR_SPIN_MIN_NS));
		atomic_store(&rc.round, i + 1);
		if (shmring_msg_recv(rx, &v, sizeof(v), -1) != sizeof(v) ||
		    v != i)
			rc.err = __LINE__;
		shmring_channel_stats(rx, &st);
		if (st.timeouts)
			break;
		late += st.barriers > barriers ? -RACE_STEP_NS : RACE_STEP_NS;
		barriers = st.barriers;
	}
	atomic_store(&rc.stop, true);
	pthread_join(t, NULL);
	printf("# %u rounds, %llu slept, %llu membarriers, %llu ran out\n", i,
	       (unsigned long long)st.waits, (unsigned long long)st.barriers,
	       (unsigned long long)st.timeouts);
	CHECK_EQ(rc.err, 0);
	CHECK_EQ(st.timeouts, 0);
	/* The window was hit: about half the rounds reach the barrier. */
	CHECK(st.barriers > RACE_ROUNDS / 4);
	shmring_channel_close(rx);
	shmring_close(rc.sh);
	return 0;
}

/*
 * A timing test whose premise the host broke (it took a vCPU away at the
 * wrong moment, which the test can tell) runs at most this many times.
 */
#define PREMISE_TRIES	3

/*
 * The spin adapts: a producer that pauses 100 us before each message (over
 * the initial spin, under the longest) is soon waited out by spinning, so the
 * consumer sleeps only while the budget grows. With a fixed 30 us spin it
 * would sleep for almost every message. Quiet, it sleeps a handful of times.
 * A producer descheduled for longer than the longest spin makes a real
 * pause, which rightly costs a sleep or two (the one after may come before
 * the budget is back): a run where that happened to more than one message
 * in a hundred (a host taking a vCPU away) runs again. The budget must grow
 * however long a wake-up takes: when it grew only after sleeps shorter than
 * twice the budget, which include the wake-up, the consumer here slept 12 to
 * 355 times on the same machine.
 */
#define HICCUPS		2000
#define HICCUP_NS	100000
#define HICCUP_STALLS	(HICCUPS / 100)

struct hiccups {
	struct shmring_channel *tx;
	uint32_t stalls;	/* sends later than the longest spin */
};

static void *hiccup_producer(void *arg)
{
	struct hiccups *h = arg;
	int64_t last = now_ns(), end;
	uint32_t i;

	for (i = 0; i < HICCUPS; i++) {
		end = now_ns() + HICCUP_NS;
		while (now_ns() < end)
			;
		if (shmring_msg_send(h->tx, &i, sizeof(i), -1) != sizeof(i))
			return (void *)1;
		if (now_ns() - last > SR_SPIN_MAX_NS)
			h->stalls++;
		last = now_ns();
	}
	return NULL;
}

static int test_spin_adapts(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *tx, *rx;
	struct shmring_stats st;
	struct hiccups h;
	uint64_t waits = 0;
	int try;
	pthread_t t;
	void *ret;
	uint32_t i, v;

	tx = chan(sh, "hiccup", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	rx = chan(sh, "hiccup", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	for (try = 1;; try++) {
		rx->spin_ns = 0;	/* from the initial spin */
		h = (struct hiccups){ .tx = tx };
		CHECK(!pthread_create(&t, NULL, hiccup_producer, &h));
		for (i = 0; i < HICCUPS; i++) {
			CHECK_EQ(shmring_msg_recv(rx, &v, sizeof(v), -1),
				 sizeof(v));
			CHECK_EQ(v, i);
		}
		CHECK(!pthread_join(t, &ret));
		CHECK(!ret);
		CHECK_OK(shmring_channel_stats(rx, &st));
		printf("# %d messages 100 us apart: the consumer slept %llu "
		       "times; the producer stalled %u times\n", HICCUPS,
		       (unsigned long long)(st.waits - waits), h.stalls);
		if (h.stalls <= HICCUP_STALLS || try == PREMISE_TRIES)
			break;
		waits = st.waits;
	}
	CHECK(st.waits - waits <= 2 * h.stalls + HICCUP_STALLS);
	CHECK_OK(shmring_channel_close(tx));
	CHECK_OK(shmring_channel_close(rx));
	shmring_close(sh);
	return 0;
}

/* ---- corruption: each case must give EBADMSG ---- */

typedef void (*corrupt_fn)(struct shmring *sh);

static void hdr_magic(struct shmring *sh) { hdr_of(sh)->magic = 0x12345678; }
static void hdr_version(struct shmring *sh) { hdr_of(sh)->version = 9; }
static void hdr_state(struct shmring *sh) { hdr_of(sh)->nr_dirents = 64; }
static void hdr_size(struct shmring *sh) { hdr_of(sh)->size = 2 * BUF; }
static void hdr_next(struct shmring *sh) { hdr_of(sh)->next = BUF + 128; }
static void hdr_next_align(struct shmring *sh) { hdr_of(sh)->next += 8; }
static void dir_state(struct shmring *sh) { dirent_of(sh, "v")->state = 7; }
static void dir_kind(struct shmring *sh) { dirent_of(sh, "v")->kind = 0; }

static void dir_offset(struct shmring *sh)
{
	dirent_of(sh, "v")->offset = BUF - 64;
}

static void dir_length(struct shmring *sh)
{
	dirent_of(sh, "v")->length = UINT64_MAX - 4096;
}

static void dir_name(struct shmring *sh)
{
	memset(dirent_of(sh, "v")->name, 'x', SHMRING_NAME_MAX + 1);
}

static void ring_magic(struct shmring *sh)
{
	ring_of(sh, "v")->desc.magic = 0;
}

static void ring_cap(struct shmring *sh)
{
	ring_of(sh, "v")->desc.capacity = 3000;
}

static void ring_cap_big(struct shmring *sh)
{
	struct sr_ring *r = ring_of(sh, "v");

	r->desc.capacity = 1U << 30;
	r->desc.data_len = 1U << 30;
}

static void ring_len(struct shmring *sh)
{
	ring_of(sh, "v")->desc.data_len = 8192;
}

static void ring_kind(struct shmring *sh)
{
	ring_of(sh, "v")->desc.kind = SHMRING_STREAM;
}

static void ring_indices(struct shmring *sh)
{
	atomic_store(&ring_of(sh, "v")->tail, 4096 + 64);
}

static void ring_misaligned(struct shmring *sh)
{
	atomic_store(&ring_of(sh, "v")->tail, 12);
	atomic_store(&ring_of(sh, "v")->head, 4);
}

/*
 * A sleeper on an SPSC ring that timed out takes its flag back, so the
 * next publish makes no WAKE for nobody; MPMC's shared flag stays set.
 */
static int test_no_idle_wake(void)
{
	static const uint32_t kinds[] = { SHMRING_MSG, SHMRING_MPMC };
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p, *c;
	struct shmring_stats st;
	char buf[16], name[8];
	unsigned int k;

	for (k = 0; k < 2; k++) {
		snprintf(name, sizeof(name), "w%u", k);
		p = chan(sh, name, SHMRING_PRODUCER, kinds[k], k ? 64 : 4096,
			 k ? 16 : 0);
		c = chan(sh, name, SHMRING_CONSUMER, kinds[k], k ? 64 : 4096,
			 k ? 16 : 0);
		CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 20000000),
			  ETIMEDOUT);
		CHECK_OK(shmring_channel_stats(c, &st));
		CHECK(st.waits >= 1);
		CHECK_EQ(shmring_msg_send(p, "x", 1, 0), 1);
		CHECK_OK(shmring_channel_stats(p, &st));
		CHECK_EQ(st.wakes, kinds[k] == SHMRING_MPMC);
		CHECK_OK(shmring_channel_close(p));
		CHECK_OK(shmring_channel_close(c));
	}
	shmring_close(sh);
	return 0;
}

struct burst {
	struct shmring_channel *tx;
	uint32_t msgs;		/* sent back to back, then: */
	int64_t pause_ns;	/* a stall, before each of */
	uint32_t after;		/* these messages */
	_Atomic int started;	/* the producer thread runs */
	uint64_t late_sleeps;	/* in the last busy stretch before the stall */
};

static void spin_until(int64_t end)
{
	while (now_ns() < end)
		;
}

static void *burst_producer(void *arg)
{
	struct burst *b = arg;
	uint32_t i;

	atomic_store(&b->started, 1);
	for (i = 0; i < b->msgs + b->after; i++) {
		if (i >= b->msgs)
			spin_until(now_ns() + b->pause_ns);
		if (shmring_msg_send(b->tx, &i, sizeof(i), -1) != sizeof(i))
			return (void *)1;
	}
	return NULL;
}

/* Receives what @b sends; returns the consumer's spin budget after it. */
static int64_t spin_after(struct burst *b, struct shmring_channel *rx)
{
	pthread_t t;
	void *ret;
	uint32_t i, v;

	atomic_store(&b->started, 0);
	if (pthread_create(&t, NULL, burst_producer, b))
		return -1;
	/*
	 * Under TCG a thread can take milliseconds to start: a sleep that
	 * long, before any message, would rightly shrink the budget.
	 */
	while (!atomic_load(&b->started))
		sched_yield();
	b->late_sleeps = 0;
	for (i = 0; i < b->msgs + b->after; i++) {
		if (i + SR_SPIN_BUSY_MSGS == b->msgs)
			b->late_sleeps = rx->stats.waits;
		if (i == b->msgs && b->msgs >= SR_SPIN_BUSY_MSGS)
			b->late_sleeps = rx->stats.waits - b->late_sleeps;
		if (shmring_msg_recv(rx, &v, sizeof(v), -1) != sizeof(v) ||
		    v != i)
			break;
	}
	if (pthread_join(t, &ret) || ret || i != b->msgs + b->after)
		return -1;
	return rx->spin_ns;
}

/*
 * The spin budget shrinks back when the peer goes idle, but a stall of a
 * busy peer (a descheduled CPU) does not cost the stream that follows it.
 * A sleep in the last SR_SPIN_BUSY_MSGS messages before the stall (the
 * producer's wake-up or a vCPU taken away by the host came late) makes the
 * stall follow a short stretch, which rightly looks idle: such a burst runs
 * again.
 */
static int test_spin_idle_or_stall(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *tx, *rx;
	int64_t spin;
	struct burst b;
	int try;

	tx = chan(sh, "idle", SHMRING_PRODUCER, SHMRING_MSG, 1 << 16, 0);
	rx = chan(sh, "idle", SHMRING_CONSUMER, SHMRING_MSG, 1 << 16, 0);
	b = (struct burst){ .tx = tx, .msgs = 20000, .pause_ns = 20000000,
			    .after = 1 };
	for (try = 1;; try++) {
		rx->spin_ns = SR_SPIN_MAX_NS;
		spin = spin_after(&b, rx);
		if (!b.late_sleeps || try == PREMISE_TRIES)
			break;
		printf("# the consumer slept %llu times just before the stall: "
		       "run again\n", (unsigned long long)b.late_sleeps);
	}
	CHECK_EQ(spin, SR_SPIN_MAX_NS);
	/* One message per 10 ms: idle, down to the floor in five sleeps. */
	b = (struct burst){ .tx = tx, .msgs = 0, .pause_ns = 10000000,
			    .after = 8 };
	CHECK_EQ(spin_after(&b, rx), SR_SPIN_MIN_NS);
	CHECK_OK(shmring_channel_close(tx));
	CHECK_OK(shmring_channel_close(rx));
	shmring_close(sh);
	return 0;
}

static int test_corrupt_layout(void)
{
	static const struct {
		const char *name;
		corrupt_fn fn;
	} cases[] = {
		{ "header magic", hdr_magic },
		{ "header version", hdr_version },
		{ "directory size", hdr_state },
		{ "header size", hdr_size },
		{ "allocator", hdr_next },
		{ "allocator alignment", hdr_next_align },
		{ "entry state", dir_state },
		{ "entry kind", dir_kind },
		{ "entry offset", dir_offset },
		{ "entry length", dir_length },
		{ "entry name", dir_name },
		{ "ring magic", ring_magic },
		{ "ring capacity", ring_cap },
		{ "ring capacity beyond region", ring_cap_big },
		{ "ring length", ring_len },
		{ "ring kind", ring_kind },
		{ "ring indices", ring_indices },
		{ "ring index alignment", ring_misaligned },
	};
	struct shmring_channel *ch;
	struct shmring_chinfo ci;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shmring *sh = buffer_new(BUF);

		ch = chan(sh, "v", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
		CHECK_OK(shmring_channel_close(ch));
		cases[i].fn(sh);
		printf("# corrupt: %s\n", cases[i].name);
		CHECK_ERR(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0,
					       NULL, &ch), EBADMSG);
		if (i < 11) {
			CHECK_ERR(shmring_check(sh), EBADMSG);
			CHECK_ERR(shmring_channels(sh, &ci, 1), EBADMSG);
			CHECK_ERR(shmring_channel_open(sh, "w",
					SHMRING_CONSUMER, SHMRING_CREATE,
					&(struct shmring_channel_attr){
						.kind = SHMRING_MSG,
						.capacity = 64 }, &ch),
				  EBADMSG);
		}
		shmring_close(sh);
	}
	return 0;
}

/* Records and indices corrupted while both sides are attached. */
/*
 * A peer rewrites a record header while the consumer reads it. The consumer
 * loads it in one atomic load, so it validates exactly the value it uses:
 * each peek gives the message whole or EBADMSG, never another length. (A
 * memcpy() of the header is a data race with such a writer, which the TSan
 * build reports.)
 */
struct header_flipper {
	uint64_t *word;
	_Atomic bool started, stop;
};

static void *flip_header(void *arg)
{
	struct header_flipper *f = arg;
	uint64_t good = (uint64_t)~8U << 32 | 8, bad = (uint64_t)~3U << 32 | 9;
	unsigned int i;

	atomic_store(&f->started, true);
	for (i = 0; !atomic_load_explicit(&f->stop, memory_order_relaxed);
	     i++)
		__atomic_store_n(f->word, i & 1 ? good : bad,
				 __ATOMIC_RELAXED);
	__atomic_store_n(f->word, good, __ATOMIC_RELAXED);
	return NULL;
}

static int test_record_header_race(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p = chan(sh, "v", SHMRING_PRODUCER,
					 SHMRING_MSG, 4096, 0);
	struct shmring_channel *c = chan(sh, "v", SHMRING_CONSUMER,
					 SHMRING_MSG, 4096, 0);
	struct header_flipper f = { .word = (uint64_t *)ring_of(sh, "v")->data };
	unsigned int i, good = 0, bad = 0;
	int64_t end;
	const void *d;
	pthread_t t;
	ssize_t n;

	CHECK_EQ(shmring_msg_send(p, "12345678", 8, 0), 8);
	CHECK(!pthread_create(&t, NULL, flip_header, &f));
	while (!atomic_load(&f.started))
		sched_yield();
	end = now_ns() + 100000000;
	for (i = 0; i < 200000 || now_ns() < end; i++) {
		c->head = 0;	/* the same record again */
		n = shmring_msg_peek(c, &d, 0);
		if (n == 8)
			good++;
		else if (n == -EBADMSG)
			bad++;
		else
			break;
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	printf("# %u whole, %u EBADMSG\n", good, bad);
	CHECK_EQ(good + bad, i);
	CHECK(good && bad);	/* both values were seen: the race ran */
	c->head = 0;
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int test_corrupt_records(void)
{
	struct shmring *sh;
	struct shmring_channel *p, *c;
	struct sr_ring *r;
	uint32_t *w;
	char buf[4096];
	int i;

	for (i = 0; i < 9; i++) {
		sh = buffer_new(BUF);
		p = chan(sh, "v", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
		c = chan(sh, "v", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
		r = ring_of(sh, "v");
		w = (uint32_t *)r->data;
		CHECK_EQ(shmring_msg_send(p, "hello", 5, 0), 5);
		switch (i) {
		case 0:	/* check word */
			w[1] ^= 1;
			break;
		case 1:	/* length over the maximum */
			w[0] = 4000, w[1] = ~4000U;
			break;
		case 2:	/* zero length */
			w[0] = 0, w[1] = ~0U;
			break;
		case 3:	/* longer than what was published */
			w[0] = 100, w[1] = ~100U;
			break;
		case 4:	/* padding that does not reach the end */
			w[0] = SR_REC_PAD | 8, w[1] = ~(SR_REC_PAD | 8);
			break;
		case 5:	/* tail beyond the head by more than the capacity */
			atomic_store(&r->tail, 8192);
			break;
		case 6:	/* tail not on a record boundary */
			atomic_store(&r->tail, 20);
			break;
		case 7:	/* tail moved backwards after the consumer saw it */
			CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 5);
			atomic_store(&r->tail, (uint32_t)-16);
			break;
		case 8:	/* a record the consumer already knows is published */
			CHECK_EQ(shmring_msg_send(p, "again", 5, 0), 5);
			CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 5);
			w[4] = 4000, w[5] = ~4000U;
			break;
		}
		printf("# records: case %d\n", i);
		CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EBADMSG);
		CHECK_OK(shmring_channel_close(p));
		CHECK_OK(shmring_channel_close(c));
		shmring_close(sh);
	}

	/* The producer checks the consumer's head. */
	for (i = 0; i < 3; i++) {
		sh = buffer_new(BUF);
		p = chan(sh, "v", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
		c = chan(sh, "v", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
		r = ring_of(sh, "v");
		while (shmring_msg_send(p, buf, 1000, 0) > 0)
			;
		atomic_store(&r->head, i == 0 ? 9000 : i == 1 ? -8 : 4);
		CHECK_ERR(shmring_msg_send(p, buf, 1000, 0), EBADMSG);
		CHECK_OK(shmring_channel_close(p));
		CHECK_OK(shmring_channel_close(c));
		shmring_close(sh);
	}
	return 0;
}

static int test_corrupt_mpmc(void)
{
	struct shmring *sh;
	struct shmring_channel *p, *c;
	struct sr_slot *s;
	struct sr_ring *r;
	char buf[64];
	int i;

	for (i = 0; i < 4; i++) {
		sh = buffer_new(BUF);
		p = chan(sh, "q", SHMRING_PRODUCER, SHMRING_MPMC, 8, 32);
		c = chan(sh, "q", SHMRING_CONSUMER, SHMRING_MPMC, 8, 32);
		r = ring_of(sh, "q");
		s = (struct sr_slot *)r->data;
		CHECK_EQ(shmring_msg_send(p, "abc", 3, 0), 3);
		switch (i) {
		case 0:	/* a sequence ahead that nobody reached */
			atomic_store(&s->seq, 1000);
			CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0),
				  EBADMSG);
			break;
		case 1:	/* a sequence more than a lap behind */
			atomic_store(&s->seq, (uint32_t)-100);
			CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0),
				  EBADMSG);
			break;
		case 2:	/* a length over the slot size */
			s->len = 33;
			CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0),
				  EBADMSG);
			/* The slot was given back, the queue goes on. */
			CHECK_EQ(shmring_msg_send(p, "d", 1, 0), 1);
			CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 1);
			break;
		case 3:	/* the enqueue position far ahead */
			atomic_store(&r->tail, 1U << 31);
			CHECK_ERR(shmring_msg_send(p, "x", 1, 0), EBADMSG);
			break;
		}
		CHECK_OK(shmring_channel_close(p));
		CHECK_OK(shmring_channel_close(c));
		shmring_close(sh);
	}
	return 0;
}

static int exit_now(void *arg)
{
	(void)arg;
	return 0;
}

/* The overtaken channel lock marks the channel broken. */
static int test_dead_lock_broken(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p, *c;
	struct sr_ring *r;
	pid_t pid;

	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	r = ring_of(sh, "m");
	pid = spawn(exit_now, NULL);
	CHECK_EQ(reap(pid), 0);
	atomic_store(&hdr_of(sh)->lock, (uint64_t)pid);
	atomic_store(&r->ctl.lock, (uint64_t)pid);
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_CONSUMER, 0, NULL, &c),
		  EPIPE);
	CHECK(atomic_load(&r->ctl.flags) & SHMRING_CH_BROKEN);
	CHECK(!atomic_load(&hdr_of(sh)->lock) && !atomic_load(&r->ctl.lock));
	CHECK_ERR(shmring_msg_send(p, "x", 1, 0), EPIPE);
	/* The last one out resets it; then it works again. */
	CHECK_OK(shmring_channel_close(p));
	c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0);
	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	CHECK_EQ(shmring_msg_send(p, "x", 1, 0), 1);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* Liveness: a reused pid (another start time) and a zombie are dead. */
/*
 * A participant that takes the channel lock over from a dead holder marks
 * the channel broken; it must also wake the sleepers, which otherwise
 * learned of it only when their liveness slice ran out.
 */
static int test_stolen_lock_wakes(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_channel *p, *c2;
	struct blocker b;
	struct shmring_stats st;
	struct sr_ring *r;
	int64_t t0;
	pthread_t t;
	pid_t pid;

	p = chan(sh, "m", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	b = (struct blocker){
		.c = chan(sh, "m", SHMRING_CONSUMER, SHMRING_MSG, 4096, 0),
	};
	r = ring_of(sh, "m");
	pid = spawn(exit_now, NULL);
	CHECK_EQ(reap(pid), 0);
	/* Only a lost wake-up may let a slice run out. */
	atomic_store(&sr_test_liveness_ns, 10 * SHMRING_LIVENESS_NS);
	CHECK(!pthread_create(&t, NULL, block_recv, &b));
	sleep_ms(20);		/* asleep in WAIT by now, whatever its spin */
	atomic_store(&r->ctl.lock, (uint64_t)pid);
	t0 = now_ns();
	CHECK_ERR(shmring_channel_open(sh, "m", SHMRING_CONSUMER, 0, NULL,
				       &c2), EPIPE);
	pthread_join(t, NULL);
	printf("# the sleeper saw BROKEN after %.1f ms\n",
	       (double)(now_ns() - t0) / 1e6);
	CHECK(now_ns() - t0 < SHMRING_LIVENESS_NS);
	CHECK_EQ(b.got, -EPIPE);
	CHECK_OK(shmring_channel_stats(b.c, &st));
	CHECK_EQ(st.timeouts, 0);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(b.c));
	shmring_close(sh);
	return 0;
}

/* Once through a fresh pidfd, then again through the one kept. */
static bool alive_twice(uint32_t pid, uint64_t start)
{
	struct sr_pidfd pf = { 0 };
	bool a = sr_peer_alive(&pf, pid, start);

	CHECK_EQ(sr_peer_alive(&pf, pid, start), a);
	sr_pidfds_drop(&pf, 1);
	return a;
}

/* Through pidfds, then through /proc as where pidfd_open() fails. */
static int test_liveness(void)
{
	siginfo_t si;
	uint64_t start;
	pid_t me = sr_self(&start), pid;
	int pass;

	CHECK(start);
	for (pass = 0; pass < 2; pass++) {
		atomic_store(&sr_test_no_pidfd, pass);
		CHECK(alive_twice((uint32_t)me, start));
		CHECK(alive_twice((uint32_t)me, 0));
		CHECK(!alive_twice((uint32_t)me, start + 1));
		CHECK(!alive_twice(0, 0));
		CHECK(!alive_twice(UINT32_MAX, 0));
		pid = spawn(exit_now, NULL);
		CHECK(!waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT));
		CHECK(!alive_twice((uint32_t)pid, 0));
		CHECK_EQ(reap(pid), 0);
		CHECK(!alive_twice((uint32_t)pid, 0));
	}
	return 0;
}

TAP_TESTS(
	{ "open_args", test_open_args, 0 },
	{ "info", test_info, 0 },
	{ "wait_wake", test_wait_wake, 0 },
	{ "format", test_format, 0 },
	{ "channel_args", test_channel_args, 0 },
	{ "channel_lifecycle", test_channel_lifecycle, 0 },
	{ "directory_full", test_directory_full, 0 },
	{ "msg_errors", test_msg_errors, 0 },
	{ "msg_batch", test_msg_batch, 0 },
	{ "msg_wrap", test_msg_wrap, 0 },
	{ "stream", test_stream, 0 },
	{ "mpmc", test_mpmc, 0 },
	{ "eof_hup", test_eof_hup, 0 },
	{ "blocking", test_blocking, 0 },
	{ "pingpong_threads", pingpong_threads, 120 },
	{ "pingpong_procs", pingpong_procs, 120 },
	{ "wake_at_sleep", test_wake_at_sleep, 120 },
	{ "timeout_includes_spin", test_timeout_includes_spin, 0 },
	{ "mpmc_claim_deadline", test_mpmc_claim_deadline, 0 },
	{ "info_check", test_info_check, 0 },
	{ "barrier_fork", test_barrier_fork, 0 },
	{ "barrier_refused", test_barrier_refused, 0 },
	{ "barrier_refused_fenced_peer", test_barrier_refused_fenced_peer, 0 },
	{ "barrier_opt_out", test_barrier_opt_out, 0 },
	{ "spin_adapts", test_spin_adapts, 0 },
	{ "spin_idle_or_stall", test_spin_idle_or_stall, 0 },
	{ "no_idle_wake", test_no_idle_wake, 0 },
	{ "corrupt_layout", test_corrupt_layout, 0 },
	{ "corrupt_records", test_corrupt_records, 0 },
	{ "record_header_race", test_record_header_race, 0 },
	{ "corrupt_mpmc", test_corrupt_mpmc, 0 },
	{ "dead_lock_broken", test_dead_lock_broken, 0 },
	{ "stolen_lock_wakes", test_stolen_lock_wakes, 0 },
	{ "liveness", test_liveness, 0 },
)
