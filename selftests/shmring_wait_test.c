// SPDX-License-Identifier: GPL-2.0
/*
 * WAIT/WAKE on /dev/shmring: futex semantics on 32-bit words of the shared
 * buffer. Return values, exact wake counts, per-offset separation, timeouts,
 * signals, bad input, the file's access mode, wake order by priority, time
 * namespaces, the freezer, lost wake-ups and races with mmap/munmap/close.
 *
 * A waiter is only known to be queued, so that a WAKE finds it, once
 * INFO.nr_waiters counts it; tests poll it (bounded) instead of sleeping
 * and hoping.
 *
 * Environment, to scale the long tests:
 *   SHMRING_PINGPONG  round trips per ping-pong (default 100000)
 *   SHMRING_STRESS    rounds of each wake-vs-timeout/signal race (2000)
 *   SHMRING_RACE_MS   length of the mmap/close race in ms (3000)
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

/* Time a waiter that should stay asleep gets to (wrongly) return. */
#define SETTLE_US		100000
/* Timers may fire late, never early; the guest is emulated and slow. */
#define LATE_NS			(5 * NSEC_PER_SEC)
/* "At once": no timer involved, only syscall latency. */
#define AT_ONCE_NS		(2 * NSEC_PER_SEC)
/* Long enough that only a signal or WAKE ends the wait in a test. */
#define LONG_NS			(20 * NSEC_PER_SEC)

#define WAITER_STACK		(64 * 1024)
/* The buffer must hold every offset used below. */
#define MIN_PAGES		16

/* A value no test ever stores: a wait on it returns EAGAIN. */
#define OTHER_VALUE		0xdeadbeefU

struct shared {
	int handled;		/* signal handler runs, seen across fork */
	/* What a WAIT in a time namespace saw, from the grandchild. */
	int tn_ret;
	int64_t tn_now;		/* its CLOCK_MONOTONIC at the start */
	int64_t tn_elapsed;
};

struct ctx {
	int fd;
	uint64_t size;
	uint64_t page;
	uint8_t *buf;
	struct shared *sh;
};

static int *handled_count;

static void count_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(handled_count, 1, __ATOMIC_SEQ_CST);
}

static void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

static uint32_t *word(struct ctx *c, uint64_t off)
{
	return (uint32_t *)(c->buf + off);
}

static void set_word(struct ctx *c, uint64_t off, uint32_t v)
{
	__atomic_store_n(word(c, off), v, __ATOMIC_SEQ_CST);
}

static int await_int(int *p, int want)
{
	int64_t start = now_ns();
	int n;

	while ((n = __atomic_load_n(p, __ATOMIC_SEQ_CST)) != want &&
	       poll_again(start))
		;
	return n;
}

/*
 * Children report a WAIT result as their exit code (0 or an errno).
 * Returns 0 or -errno like the helpers, or -1000 - signal if killed.
 */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1000;
	if (WIFSIGNALED(status))
		return -1000 - WTERMSIG(status);
	return -WEXITSTATUS(status);
}

/* Still running: neither exited nor killed. */
static bool alive(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == 0;
}

static int set_handler(int sig, bool restart)
{
	struct sigaction sa = {
		.sa_handler = count_signal,
		.sa_flags = restart ? SA_RESTART : 0,
	};

	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

static int wait_raw(int fd, const void *arg)
{
	return ioctl(fd, SHMRING_IOC_WAIT, arg) ? -errno : 0;
}

static int wake_flags(int fd, uint64_t off, uint32_t count, uint32_t flags)
{
	struct shmring_wake w = { .offset = off, .count = count,
				  .flags = flags };
	int ret = ioctl(fd, SHMRING_IOC_WAKE, &w);

	return ret < 0 ? -errno : ret;
}

/* Waiter threads */

struct waiter {
	pthread_t tid;
	int fd;
	uint64_t off;
	uint32_t val;
	uint32_t flags;
	int64_t timeout_ns;
	int *nr_done;		/* optional, counts returns */
	int ret;
	int done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->ret = shmring_wait(w->fd, w->off, w->val, w->flags, w->timeout_ns);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	if (w->nr_done)
		__atomic_add_fetch(w->nr_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Small stacks: some tests run a thousand of these. */
static int start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err;

	err = pthread_attr_init(&attr);
	if (err)
		return err;
	err = pthread_attr_setstacksize(&attr, WAITER_STACK);
	if (!err)
		err = pthread_create(tid, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

/* Starts @n waiters on one word; returns 0 or a pthread error. */
static int start_waiters(struct waiter *w, int n, int fd, uint64_t off,
			 uint32_t val, uint32_t flags, int64_t timeout_ns,
			 int *nr_done)
{
	int i, err;

	for (i = 0; i < n; i++) {
		w[i] = (struct waiter){
			.fd = fd, .off = off, .val = val, .flags = flags,
			.timeout_ns = timeout_ns, .nr_done = nr_done,
		};
		err = start_thread(&w[i].tid, waiter_fn, &w[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Joins @n waiters; returns how many of them returned @want. */
static int join_waiters(struct waiter *w, int n, int want)
{
	int i, hits = 0;

	for (i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		hits += w[i].ret == want;
	}
	return hits;
}

static int count_done(struct waiter *w, int n)
{
	int i, done = 0;

	for (i = 0; i < n; i++)
		done += __atomic_load_n(&w[i].done, __ATOMIC_SEQ_CST);
	return done;
}

/*
 * After a WAKE: exactly @returned waiters (of those counting into
 * @nr_done) came back, they stay that many, and @asleep are still queued.
 */
static void check_returned(struct __test_metadata *_metadata, struct ctx *c,
			   int *nr_done, int returned, int asleep)
{
	ASSERT_EQ(returned, await_int(nr_done, returned));
	ASSERT_EQ(asleep, await_nr_waiters(c->fd, asleep));
	usleep(SETTLE_US);
	ASSERT_EQ(returned, __atomic_load_n(nr_done, __ATOMIC_SEQ_CST));
	ASSERT_EQ(asleep, nr_waiters(c->fd));
}

/* Fixture: the device, the whole buffer mapped and zeroed, no waiters */

static void ctx_setup(struct __test_metadata *_metadata, struct ctx *c)
{
	struct shmring_info info;

	c->fd = shmring_open(O_RDWR);
	if (c->fd < 0 && errno == ENOENT)
		SKIP(return, "%s is missing: shmring is not loaded", SHMRING_DEV);
	ASSERT_LE(0, c->fd) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
	ASSERT_EQ(0, shmring_get_info(c->fd, &info));
	ASSERT_EQ((__u32)SHMRING_ABI_VERSION, info.abi_version);
	c->size = info.size;
	c->page = info.page_size;
	ASSERT_LE(MIN_PAGES * c->page, c->size);

	c->buf = shmring_map_zeroed(c->fd, c->size);
	ASSERT_NE(MAP_FAILED, c->buf);
	c->sh = mmap(NULL, sizeof(*c->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c->sh);
	handled_count = &c->sh->handled;

	/* A previous test's killed waiters may take a moment to go. */
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
}

static void ctx_teardown(struct __test_metadata *_metadata, struct ctx *c)
{
	/* Every test leaves no waiter behind; on failure, exit reaps them. */
	if (_metadata->exit_code == KSFT_PASS) {
		EXPECT_EQ(0, await_nr_waiters(c->fd, 0));
	}
	munmap(c->sh, sizeof(*c->sh));
	munmap(c->buf, c->size);
	close(c->fd);
}

FIXTURE(shmring_wait) {
	struct ctx c;
};

FIXTURE_SETUP(shmring_wait)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(shmring_wait)
{
	ctx_teardown(_metadata, &self->c);
}

/* Basic results */

TEST_F(shmring_wait, eagain_when_value_differs)
{
	static const uint32_t cases[][2] = {	/* { stored, expected } */
		{ 0, 1 }, { 1, 0 }, { 0x00010000, 0 }, { 0x80000000, 0 },
		{ 0, 0x80000000 }, { 0xffffffff, 0x7fffffff },
		{ 0x12345678, 0x78563412 },
	};
	struct ctx *c = &self->c;
	const uint64_t offs[] = { 0, c->page + 4, c->size - 4 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		for (j = 0; j < ARRAY_SIZE(cases); j++) {
			set_word(c, offs[i], cases[j][0]);
			/* An infinite wait: only EAGAIN keeps this from hanging. */
			ASSERT_EQ(-EAGAIN, shmring_wait(c->fd, offs[i],
							cases[j][1], 0, -1));
			ASSERT_EQ(-EAGAIN, shmring_wait(c->fd, offs[i],
							cases[j][1],
							SHMRING_WAIT_ABSTIME,
							-1));
			/* The kernel sees the stored value itself. */
			ASSERT_EQ(-ETIMEDOUT, shmring_wait(c->fd, offs[i],
							   cases[j][0], 0, 0));
		}
		set_word(c, offs[i], 0);
	}
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(shmring_wait, wake_without_waiters)
{
	struct ctx *c = &self->c;
	const uint64_t offs[] = { 0, 4, c->page, c->size - 4 };
	const uint32_t counts[] = { 0, 1, 2, INT_MAX, UINT32_MAX };
	unsigned int i, j;

	/* Braces: an ASSERT is more than one statement. */
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		for (j = 0; j < ARRAY_SIZE(counts); j++) {
			ASSERT_EQ(0, shmring_wake(c->fd, offs[i], counts[j]));
		}
	}
}

TEST_F(shmring_wait, woken_returns_zero)
{
	struct ctx *c = &self->c;
	uint64_t off = 3 * c->page + 40;
	struct waiter w;
	int nr_done = 0;

	ASSERT_EQ(0, start_waiters(&w, 1, c->fd, off, 0, 0, -1, &nr_done));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
	check_returned(_metadata, c, &nr_done, 1, 0);
	ASSERT_EQ(1, join_waiters(&w, 1, 0));
	/* Nothing is left queued for a second WAKE. */
	ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
}

TEST_F(shmring_wait, wake_count_zero_wakes_none)
{
	struct ctx *c = &self->c;
	uint64_t off = 5 * c->page + 4;
	struct waiter w[3];
	int nr_done = 0;

	ASSERT_EQ(0, start_waiters(w, 3, c->fd, off, 0, 0, -1, &nr_done));
	ASSERT_EQ(3, await_nr_waiters(c->fd, 3));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	check_returned(_metadata, c, &nr_done, 0, 3);

	ASSERT_EQ(3, shmring_wake(c->fd, off, UINT32_MAX));
	check_returned(_metadata, c, &nr_done, 3, 0);
	ASSERT_EQ(3, join_waiters(w, 3, 0));
}

/*
 * UINT32_MAX, and counts a signed or narrower type would get wrong, with
 * more waiters than a waker is likely to handle in one batch.
 */
TEST_F_TIMEOUT(shmring_wait, wake_all, 60)
{
	enum { N = 40 };
	const uint32_t counts[] = {
		UINT32_MAX, 0x80000000U, 0x10000U | 1, N + 1, N,
	};
	struct ctx *c = &self->c;
	uint64_t off = 2 * c->page;
	struct waiter w[N];
	unsigned int i;
	int nr_done;

	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		nr_done = 0;
		ASSERT_EQ(0, start_waiters(w, N, c->fd, off, 0, 0, -1,
					   &nr_done));
		ASSERT_EQ(N, await_nr_waiters(c->fd, N));
		ASSERT_EQ(N, shmring_wake(c->fd, off, counts[i]))
			TH_LOG("count %#x", counts[i]);
		check_returned(_metadata, c, &nr_done, N, 0);
		ASSERT_EQ(N, join_waiters(w, N, 0));
	}
}

TEST_F_TIMEOUT(shmring_wait, wake_exact_counts, 60)
{
	enum { N = 40 };
	/* { count, woken }: then more than are left, then none left. */
	static const int steps[][2] = {
		{ 3, 3 }, { 0, 0 }, { 1, 1 }, { 17, 17 }, { 16, 16 },
		{ 5, 3 }, { 1, 0 },
	};
	struct ctx *c = &self->c;
	uint64_t off = 4 * c->page + 12;
	struct waiter w[N];
	int nr_done = 0, woken = 0;
	unsigned int i;

	ASSERT_EQ(0, start_waiters(w, N, c->fd, off, 0, 0, -1, &nr_done));
	ASSERT_EQ(N, await_nr_waiters(c->fd, N));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		ASSERT_EQ(steps[i][1], shmring_wake(c->fd, off, steps[i][0]))
			TH_LOG("step %u: WAKE(count=%d)", i, steps[i][0]);
		woken += steps[i][1];
		check_returned(_metadata, c, &nr_done, woken, N - woken);
	}
	ASSERT_EQ(N, join_waiters(w, N, 0));
}

/* Wake order: priority first, FIFO within one priority */

struct ranked {
	pthread_t tid;
	int fd;
	uint64_t off;
	int policy;		/* SCHED_FIFO or SCHED_OTHER */
	int prio;		/* its SCHED_FIFO priority, or its nice value */
	int *rank;		/* counts returns, shared */
	int ret;
	int order;		/* 1 for the first to return, and so on */
};

static void *ranked_fn(void *arg)
{
	struct ranked *r = arg;
	struct sched_param sp = {
		.sched_priority = r->policy == SCHED_FIFO ? r->prio : 0,
	};
	int err;

	err = pthread_setschedparam(pthread_self(), r->policy, &sp);
	if (!err && r->policy != SCHED_FIFO &&
	    setpriority(PRIO_PROCESS, gettid(), r->prio))
		err = errno;
	if (err) {
		r->ret = -err;
		r->order = -1;
		return NULL;
	}
	r->ret = shmring_wait(r->fd, r->off, 0, 0, -1);
	__atomic_store_n(&r->order, __atomic_add_fetch(r->rank, 1,
							__ATOMIC_SEQ_CST),
			 __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * As futex: real-time waiters by priority, and every other task at one
 * priority below them, whatever its nice value; FIFO within a priority.
 * The waiters queue one at a time, in an order that FIFO would get wrong.
 */
TEST_F(shmring_wait, wake_order_priority)
{
	static const struct {
		int policy, prio;
		int woken;	/* the WAKE(1) that must wake it */
	} spec[] = {
		{ SCHED_OTHER, 19, 4 },
		{ SCHED_FIFO, 10, 2 },
		{ SCHED_OTHER, -20, 5 },
		{ SCHED_FIFO, 50, 1 },
		{ SCHED_FIFO, 10, 3 },
	};
	struct ctx *c = &self->c;
	uint64_t off = 8 * c->page + 32;
	struct ranked r[ARRAY_SIZE(spec)];
	unsigned int i, j;
	int rank = 0;

	for (i = 0; i < ARRAY_SIZE(spec); i++) {
		r[i] = (struct ranked){
			.fd = c->fd, .off = off, .policy = spec[i].policy,
			.prio = spec[i].prio, .rank = &rank,
		};
		ASSERT_EQ(0, start_thread(&r[i].tid, ranked_fn, &r[i]));
		/* Queued before the next one starts, or failed to set up. */
		while (nr_waiters(c->fd) != (int)i + 1 &&
		       !__atomic_load_n(&r[i].order, __ATOMIC_SEQ_CST))
			usleep(POLL_STEP_US);
		if (r[i].order < 0) {
			pthread_join(r[i].tid, NULL);
			ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
			for (j = 0; j < i; j++)
				pthread_join(r[j].tid, NULL);
			SKIP(return, "waiter %u: policy %d priority %d: %s", i,
			     spec[i].policy, spec[i].prio, strerror(-r[i].ret));
		}
	}
	ASSERT_EQ((int)ARRAY_SIZE(spec), nr_waiters(c->fd));

	for (j = 1; j <= ARRAY_SIZE(spec); j++) {
		ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
		ASSERT_EQ((int)j, await_int(&rank, j));
		for (i = 0; i < ARRAY_SIZE(spec); i++) {
			if (spec[i].woken != (int)j)
				continue;
			ASSERT_EQ((int)j, __atomic_load_n(&r[i].order,
							  __ATOMIC_SEQ_CST))
				TH_LOG("WAKE %u woke another waiter than %u (policy %d, priority %d)",
				       j, i, spec[i].policy, spec[i].prio);
		}
	}
	for (i = 0; i < ARRAY_SIZE(spec); i++) {
		pthread_join(r[i].tid, NULL);
		ASSERT_EQ(0, r[i].ret);
	}
}

/* Per-offset separation */

/*
 * Two waiters on @a and one on @b: WAKE(b) wakes only b's, and a's stay
 * asleep until WAKE(a).
 */
static void check_separated(struct __test_metadata *_metadata, struct ctx *c,
			    uint64_t a, uint64_t b)
{
	struct waiter wa[2], wb;
	int done_a = 0, done_b = 0;

	ASSERT_EQ(0, start_waiters(wa, 2, c->fd, a, 0, 0, -1, &done_a));
	ASSERT_EQ(0, start_waiters(&wb, 1, c->fd, b, 0, 0, -1, &done_b));
	ASSERT_EQ(3, await_nr_waiters(c->fd, 3));

	ASSERT_EQ(1, shmring_wake(c->fd, b, UINT32_MAX))
		TH_LOG("WAKE(%#llx) with waiters on %#llx",
		       (unsigned long long)b, (unsigned long long)a);
	check_returned(_metadata, c, &done_b, 1, 2);
	ASSERT_EQ(0, shmring_wake(c->fd, b, UINT32_MAX));
	ASSERT_EQ(0, __atomic_load_n(&done_a, __ATOMIC_SEQ_CST));

	ASSERT_EQ(2, shmring_wake(c->fd, a, UINT32_MAX));
	check_returned(_metadata, c, &done_a, 2, 0);
	ASSERT_EQ(2, join_waiters(wa, 2, 0));
	ASSERT_EQ(1, join_waiters(&wb, 1, 0));
}

TEST_F_TIMEOUT(shmring_wait, separate_offsets, 120)
{
	struct ctx *c = &self->c;
	uint64_t pairs[64][2] = {
		{ 0, 4 },			/* adjacent */
		{ 4, 0 },
		{ 8, c->page - 8 },		/* same page */
		{ c->page - 4, c->page },	/* across a page boundary */
		{ 0, c->size - 4 },		/* first and last */
		{ c->size - 8, c->size - 4 },
	};
	unsigned int n = 6, i;
	uint64_t d;

	/* Equal low bits: what a hash on the offset might confuse. */
	for (d = c->page; d < c->size && n + 2 <= ARRAY_SIZE(pairs); d <<= 1) {
		pairs[n][0] = 0;
		pairs[n++][1] = d;
		if (d + 12 < c->size) {
			pairs[n][0] = d + 12;
			pairs[n++][1] = 12;
		}
	}
	if (4096ULL * 1024 < c->size) {
		pairs[n][0] = 0;
		pairs[n++][1] = 4096ULL * 1024;
	}
	for (i = 0; i < n; i++)
		check_separated(_metadata, c, pairs[i][0], pairs[i][1]);
}

/*
 * Waiters on one word; WAKE every other word of its page and the next, the
 * same in-page offset in every page, and power-of-two distances. None of
 * them may wake anyone, even the ones sharing its hash bucket.
 */
TEST_F_TIMEOUT(shmring_wait, wake_elsewhere_wakes_none, 120)
{
	enum { N = 3 };
	struct ctx *c = &self->c;
	uint64_t a = c->page + 8, off, d;
	uint64_t pages = c->size / c->page;
	struct waiter w[N];
	int nr_done = 0, ret;

	if (pages > 4096)
		pages = 4096;
	ASSERT_EQ(0, start_waiters(w, N, c->fd, a, 0, 0, -1, &nr_done));
	ASSERT_EQ(N, await_nr_waiters(c->fd, N));

	for (off = 0; off < 2 * c->page; off += 4) {
		if (off == a)
			continue;
		ret = shmring_wake(c->fd, off, UINT32_MAX);
		ASSERT_EQ(0, ret) TH_LOG("WAKE(%#llx)", (unsigned long long)off);
	}
	for (off = a % c->page; off < pages * c->page; off += c->page) {
		if (off == a)
			continue;
		ret = shmring_wake(c->fd, off, UINT32_MAX);
		ASSERT_EQ(0, ret) TH_LOG("WAKE(%#llx)", (unsigned long long)off);
	}
	for (d = 4; d < c->size; d <<= 1) {
		if (a + d < c->size) {
			ASSERT_EQ(0, shmring_wake(c->fd, a + d, UINT32_MAX));
		}
		if (d <= a) {
			ASSERT_EQ(0, shmring_wake(c->fd, a - d, UINT32_MAX));
		}
	}

	usleep(SETTLE_US);
	ASSERT_EQ(0, __atomic_load_n(&nr_done, __ATOMIC_SEQ_CST));
	ASSERT_EQ(N, nr_waiters(c->fd));
	ASSERT_EQ(N, shmring_wake(c->fd, a, UINT32_MAX));
	check_returned(_metadata, c, &nr_done, N, 0);
	ASSERT_EQ(N, join_waiters(w, N, 0));
}

/* Timeouts */

/* One WAIT; returns its result and how long it took. */
static int timed_wait(struct ctx *c, uint64_t off, uint32_t val,
		      uint32_t flags, int64_t timeout_ns, int64_t *elapsed)
{
	int64_t t0 = now_ns();
	int ret = shmring_wait(c->fd, off, val, flags, timeout_ns);

	*elapsed = now_ns() - t0;
	return ret;
}

TEST_F(shmring_wait, timeout_relative)
{
	/* Above a second too, in case only tv_nsec made it through. */
	const int64_t tos[] = { 1, 1000, NSEC_PER_MSEC, 250 * NSEC_PER_MSEC,
				1100 * NSEC_PER_MSEC };
	struct ctx *c = &self->c;
	int64_t el;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tos); i++) {
		ASSERT_EQ(-ETIMEDOUT, timed_wait(c, 8, 0, 0, tos[i], &el));
		ASSERT_GE(el, tos[i]);
		ASSERT_LT(el, tos[i] + LATE_NS);
		ASSERT_EQ(0, nr_waiters(c->fd));
	}
}

TEST_F(shmring_wait, timeout_abstime_future)
{
	const int64_t ins[] = { NSEC_PER_MSEC, 300 * NSEC_PER_MSEC,
				1100 * NSEC_PER_MSEC };
	struct ctx *c = &self->c;
	int64_t deadline, after;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ins); i++) {
		deadline = now_ns() + ins[i];
		ASSERT_EQ(-ETIMEDOUT, shmring_wait(c->fd, 8, 0,
						   SHMRING_WAIT_ABSTIME,
						   deadline));
		after = now_ns();
		ASSERT_GE(after, deadline);
		ASSERT_LT(after, deadline + LATE_NS);
		ASSERT_EQ(0, nr_waiters(c->fd));
	}
}

TEST_F(shmring_wait, timeout_abstime_past)
{
	struct ctx *c = &self->c;
	int64_t now = now_ns();
	const int64_t deadlines[] = {
		1, now / 2, now - NSEC_PER_MSEC, now,
	};
	int64_t el;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(deadlines); i++) {
		ASSERT_EQ(-ETIMEDOUT, timed_wait(c, 8, 0,
						 SHMRING_WAIT_ABSTIME,
						 deadlines[i], &el));
		ASSERT_LT(el, AT_ONCE_NS);
	}
}

/* timeout 0 never sleeps: ETIMEDOUT if the value matches, else EAGAIN. */
TEST_F(shmring_wait, timeout_zero)
{
	const uint32_t flags[] = { 0, SHMRING_WAIT_ABSTIME };
	struct ctx *c = &self->c;
	uint64_t off = 6 * c->page + 16;
	unsigned int i;
	int64_t el;

	set_word(c, off, 7);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		ASSERT_EQ(-ETIMEDOUT, timed_wait(c, off, 7, flags[i], 0, &el));
		ASSERT_LT(el, AT_ONCE_NS);
		ASSERT_EQ(-EAGAIN, timed_wait(c, off, 0, flags[i], 0, &el));
		ASSERT_LT(el, AT_ONCE_NS);
	}
	ASSERT_EQ(0, nr_waiters(c->fd));
}

/*
 * Negative waits forever, with or without ABSTIME, and so in practice does
 * the largest positive one (no overflow into the past).
 */
TEST_F(shmring_wait, no_timeout_waits_until_woken)
{
	static const struct {
		uint32_t flags;
		int64_t timeout_ns;
	} cases[] = {
		{ 0, -1 }, { 0, INT64_MIN }, { 0, INT64_MAX },
		{ SHMRING_WAIT_ABSTIME, -1 }, { SHMRING_WAIT_ABSTIME, INT64_MIN },
		{ SHMRING_WAIT_ABSTIME, INT64_MAX },
	};
	struct ctx *c = &self->c;
	uint64_t off = 7 * c->page;
	struct waiter w;
	unsigned int i;
	int nr_done;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		nr_done = 0;
		ASSERT_EQ(0, start_waiters(&w, 1, c->fd, off, 0,
					   cases[i].flags, cases[i].timeout_ns,
					   &nr_done));
		ASSERT_EQ(1, await_nr_waiters(c->fd, 1))
			TH_LOG("case %u: ret %d", i, w.ret);
		usleep(SETTLE_US);
		ASSERT_EQ(0, count_done(&w, 1)) TH_LOG("case %u", i);
		ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
		check_returned(_metadata, c, &nr_done, 1, 0);
		ASSERT_EQ(1, join_waiters(&w, 1, 0));
	}
}

/*
 * An ABSTIME deadline is on the caller's CLOCK_MONOTONIC, which a time
 * namespace offsets from the host's. A child makes a namespace whose clock
 * is @offset_s seconds off; its child, the first task inside, waits until
 * its own now + 100 ms, and reports through the shared page.
 */
static int timens_abstime_wait(struct ctx *c, uint64_t off, int64_t offset_s)
{
	pid_t pid, inner;
	int fd, status;

	pid = spawn();
	if (pid)
		return pid < 0 ? -errno : reap(pid);
	if (unshare(CLONE_NEWTIME))
		_exit(errno == EINVAL || errno == EPERM ? 200 : 201);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "monotonic %lld 0\n", (long long)offset_s) < 0 ||
	    close(fd))
		_exit(202);
	inner = fork();
	if (inner == 0) {
		int64_t t0 = now_ns();

		c->sh->tn_now = t0;
		c->sh->tn_ret = shmring_wait(c->fd, off, 0, SHMRING_WAIT_ABSTIME,
					     t0 + 100 * NSEC_PER_MSEC);
		c->sh->tn_elapsed = now_ns() - t0;
		_exit(0);
	}
	if (inner < 0 || waitpid(inner, &status, 0) != inner ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		_exit(203);
	_exit(0);
}

TEST_F(shmring_wait, abstime_in_time_namespace)
{
	struct ctx *c = &self->c;
	uint64_t off = 6 * c->page + 20;
	int64_t offsets[2], host;
	unsigned int i;
	int ret;

	/* Ahead of the host's clock, and behind it (never below zero). */
	offsets[0] = 20;
	offsets[1] = -(now_ns() / NSEC_PER_SEC / 2);
	ASSERT_GT(0, offsets[1]) TH_LOG("booted less than 2 s ago");

	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		c->sh->tn_ret = 1;
		host = now_ns();
		ret = timens_abstime_wait(c, off, offsets[i]);
		if (ret == -200)
			SKIP(return, "no time namespaces");
		ASSERT_EQ(0, ret) TH_LOG("offset %lld s", (long long)offsets[i]);
		/* The namespace really moved the clock. */
		ASSERT_LT(llabs(c->sh->tn_now - host - offsets[i] * NSEC_PER_SEC),
			  AT_ONCE_NS) TH_LOG("offset %lld s: clock %lld, host %lld",
					     (long long)offsets[i],
					     (long long)c->sh->tn_now,
					     (long long)host);
		/* Each offset judged on its own: EXPECT, not ASSERT. */
		EXPECT_EQ(-ETIMEDOUT, c->sh->tn_ret)
			TH_LOG("offset %lld s", (long long)offsets[i]);
		EXPECT_GE(c->sh->tn_elapsed, 100 * NSEC_PER_MSEC)
			TH_LOG("offset %lld s: timed out after %lld ns",
			       (long long)offsets[i], (long long)c->sh->tn_elapsed);
		EXPECT_LT(c->sh->tn_elapsed, 100 * NSEC_PER_MSEC + LATE_NS)
			TH_LOG("offset %lld s: timed out after %lld ns",
			       (long long)offsets[i], (long long)c->sh->tn_elapsed);
		TH_LOG("offset %lld s: timed out after %lld ms",
		       (long long)offsets[i],
		       (long long)(c->sh->tn_elapsed / NSEC_PER_MSEC));
	}
	ASSERT_EQ(0, nr_waiters(c->fd));
}

/* Bad input */

TEST_F(shmring_wait, bad_offset_einval)
{
	struct ctx *c = &self->c;
	const uint64_t offs[] = {
		1, 2, 3, 5, 6, 7, c->page + 1, c->page - 2,
		c->size - 3, c->size - 2, c->size - 1, c->size, c->size + 4,
		c->size + c->page, 2 * c->size,
		1ULL << 32, (1ULL << 32) + 4,	/* 0 and 4 if cut to 32 bits */
		1ULL << 62, 1ULL << 63, INT64_MAX - 3,
		UINT64_MAX - 3,			/* offset + 4 wraps to 0 */
		UINT64_MAX,
	};
	const uint32_t vals[] = { 0, OTHER_VALUE };
	const uint32_t flags[] = { 0, SHMRING_WAIT_ABSTIME };
	unsigned int i, j, k;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		/* Matching or not, the offset is refused before any read. */
		for (j = 0; j < ARRAY_SIZE(vals); j++) {
			for (k = 0; k < ARRAY_SIZE(flags); k++) {
				ASSERT_EQ(-EINVAL,
					  shmring_wait(c->fd, offs[i], vals[j],
						       flags[k], 0))
					TH_LOG("WAIT(%#llx, %#x, %#x)",
					       (unsigned long long)offs[i],
					       vals[j], flags[k]);
			}
		}
		ASSERT_EQ(-EINVAL, shmring_wake(c->fd, offs[i], 1))
			TH_LOG("WAKE(%#llx)", (unsigned long long)offs[i]);
		ASSERT_EQ(-EINVAL, shmring_wake(c->fd, offs[i], UINT32_MAX));
		ASSERT_EQ(-EINVAL, shmring_wake(c->fd, offs[i], 0));
	}
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(shmring_wait, bad_wait_flags_einval)
{
	const uint32_t flags[] = {
		1U << 1, 1U << 2, 1U << 31, (1U << 1) | SHMRING_WAIT_ABSTIME,
		~SHMRING_WAIT_FLAGS, UINT32_MAX,
	};
	const uint32_t vals[] = { 0, OTHER_VALUE };
	struct ctx *c = &self->c;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		for (j = 0; j < ARRAY_SIZE(vals); j++) {
			ASSERT_EQ(-EINVAL, shmring_wait(c->fd, 16, vals[j],
							flags[i], 0))
				TH_LOG("flags %#x value %#x", flags[i], vals[j]);
			ASSERT_EQ(-EINVAL, shmring_wait(c->fd, 16, vals[j],
							flags[i],
							NSEC_PER_MSEC));
		}
	}
	ASSERT_EQ(0, nr_waiters(c->fd));
}

/* Refused WAKEs must not wake the waiter that is there. */
TEST_F(shmring_wait, bad_wake_flags_einval)
{
	const uint32_t flags[] = { 1, 2, 1U << 31, UINT32_MAX };
	const uint32_t counts[] = { 0, 1, UINT32_MAX };
	struct ctx *c = &self->c;
	uint64_t off = 20;
	unsigned int i, j;
	struct waiter w;
	int nr_done = 0;

	ASSERT_EQ(0, start_waiters(&w, 1, c->fd, off, 0, 0, -1, &nr_done));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		for (j = 0; j < ARRAY_SIZE(counts); j++) {
			ASSERT_EQ(-EINVAL, wake_flags(c->fd, off, counts[j],
						      flags[i]))
				TH_LOG("flags %#x count %#x", flags[i],
				       counts[j]);
		}
	}
	check_returned(_metadata, c, &nr_done, 0, 1);
	ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
	check_returned(_metadata, c, &nr_done, 1, 0);
	ASSERT_EQ(1, join_waiters(&w, 1, 0));
}

/* Each ioctl with @arg must fail with EFAULT. */
static void check_efault(struct __test_metadata *_metadata, struct ctx *c,
			 void *arg)
{
	ASSERT_EQ(-EFAULT, ioctl(c->fd, SHMRING_IOC_WAIT, arg) ? -errno : 0);
	ASSERT_EQ(-EFAULT, ioctl(c->fd, SHMRING_IOC_WAKE, arg) ? -errno : 0);
	ASSERT_EQ(-EFAULT, ioctl(c->fd, SHMRING_IOC_INFO, arg) ? -errno : 0);
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(shmring_wait, bad_pointer_efault)
{
	struct shmring_wait wt = { .offset = 0, .timeout_ns = 0 };
	struct ctx *c = &self->c;
	uint8_t *p, *ro, *none, *edge;

	check_efault(_metadata, c, NULL);

	p = mmap(NULL, c->page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, c->page));
	check_efault(_metadata, c, p);		/* unmapped */

	none = mmap(NULL, c->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	check_efault(_metadata, c, none);

	/* The argument's tail in an unmapped page. */
	p = mmap(NULL, 2 * c->page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + c->page, c->page));
	edge = p + c->page - 8;
	memset(edge, 0, 8);
	check_efault(_metadata, c, edge);

	/* Read-only memory is a fine WAIT/WAKE argument, not INFO's. */
	ro = mmap(NULL, c->page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memcpy(ro, &wt, sizeof(wt));
	ASSERT_EQ(0, mprotect(ro, c->page, PROT_READ));
	ASSERT_EQ(-ETIMEDOUT, wait_raw(c->fd, ro));
	ASSERT_EQ(-EFAULT, ioctl(c->fd, SHMRING_IOC_INFO, ro) ? -errno : 0);

	/* A misaligned but valid argument is fine. */
	memcpy(p + 1, &wt, sizeof(wt));
	ASSERT_EQ(-ETIMEDOUT, wait_raw(c->fd, p + 1));

	munmap(p, c->page);
	munmap(ro, c->page);
	munmap(none, c->page);
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(shmring_wait, unknown_ioctl_enotty)
{
	const unsigned long cmds[] = {
		0,
		_IO(SHMRING_IOC_MAGIC, 3),
		_IO(SHMRING_IOC_MAGIC, 0xff),
		/* Known numbers with a wrong size or direction. */
		_IOR(SHMRING_IOC_MAGIC, 0, __u32),
		_IOW(SHMRING_IOC_MAGIC, 0, struct shmring_info),
		_IOWR(SHMRING_IOC_MAGIC, 1, struct shmring_wait),
		_IOW(SHMRING_IOC_MAGIC, 1, struct shmring_wake),
		_IOW(SHMRING_IOC_MAGIC, 2, struct shmring_wait),
		_IO(SHMRING_IOC_MAGIC, 2),
		/* Someone else's magic. */
		_IOR('T', 0x13, int),
	};
	struct ctx *c = &self->c;
	uint8_t arg[256] = { 0 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ASSERT_EQ(-ENOTTY, ioctl(c->fd, cmds[i], arg) ? -errno : 0)
			TH_LOG("cmd %#lx", cmds[i]);
	}
	ASSERT_EQ(0, isatty(c->fd));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(shmring_wait, last_word)
{
	struct ctx *c = &self->c;
	uint64_t off = c->size - 4;
	struct waiter w;
	int nr_done = 0;

	set_word(c, off, 1);
	ASSERT_EQ(-EAGAIN, shmring_wait(c->fd, off, 0, 0, -1));
	ASSERT_EQ(-ETIMEDOUT, shmring_wait(c->fd, off, 1, 0, 0));
	ASSERT_EQ(-ETIMEDOUT, shmring_wait(c->fd, off, 1, 0, NSEC_PER_MSEC));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));

	ASSERT_EQ(0, start_waiters(&w, 1, c->fd, off, 1, 0, -1, &nr_done));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	ASSERT_EQ(1, shmring_wake(c->fd, off, UINT32_MAX));
	check_returned(_metadata, c, &nr_done, 1, 0);
	ASSERT_EQ(1, join_waiters(&w, 1, 0));
}

/*
 * WAIT needs read access and WAKE write access, as read() and write() do:
 * otherwise a write-only opener could use WAIT with timeout 0 to test any
 * word for a value, and a read-only one could wake anyone. EBADF comes
 * before any look at the argument. INFO needs neither.
 */
TEST_F(shmring_wait, access_mode_ebadf)
{
	struct ctx *c = &self->c;
	uint64_t off = 8 * c->page + 4;
	struct shmring_info info;
	int ro, wo, nr_done = 0;
	struct waiter w;

	ro = shmring_open(O_RDONLY);
	ASSERT_LE(0, ro);
	wo = shmring_open(O_WRONLY);
	ASSERT_LE(0, wo);
	set_word(c, off, 5);

	ASSERT_EQ(-EBADF, shmring_wait(wo, off, 5, 0, 0));
	ASSERT_EQ(-EBADF, shmring_wait(wo, off, 4, 0, 0));
	ASSERT_EQ(-EBADF, shmring_wait(wo, off, 5, 0, NSEC_PER_MSEC));
	ASSERT_EQ(-EBADF, shmring_wait(wo, off, 5, SHMRING_WAIT_ABSTIME, -1));
	ASSERT_EQ(-EBADF, shmring_wait(wo, 1, 5, 0, 0));
	ASSERT_EQ(-EBADF, shmring_wait(wo, off, 5, 1U << 31, 0));
	ASSERT_EQ(-EBADF, wait_raw(wo, NULL));
	ASSERT_EQ(-ETIMEDOUT, shmring_wait(ro, off, 5, 0, 0));
	ASSERT_EQ(-EAGAIN, shmring_wait(ro, off, 4, 0, 0));

	/* A read-only opener sleeps; its own WAKE is refused and wakes nobody. */
	ASSERT_EQ(0, start_waiters(&w, 1, ro, off, 5, 0, -1, &nr_done));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	ASSERT_EQ(-EBADF, shmring_wake(ro, off, UINT32_MAX));
	ASSERT_EQ(-EBADF, shmring_wake(ro, off, 1));
	ASSERT_EQ(-EBADF, shmring_wake(ro, 1, 1));
	ASSERT_EQ(-EBADF, wake_flags(ro, off, 1, 1));
	ASSERT_EQ(-EBADF, ioctl(ro, SHMRING_IOC_WAKE, NULL) ? -errno : 0);
	check_returned(_metadata, c, &nr_done, 0, 1);
	/* The write-only one wakes it. */
	ASSERT_EQ(1, shmring_wake(wo, off, 1));
	check_returned(_metadata, c, &nr_done, 1, 0);
	ASSERT_EQ(1, join_waiters(&w, 1, 0));

	ASSERT_EQ(0, shmring_get_info(ro, &info));
	ASSERT_EQ(c->size, info.size);
	ASSERT_EQ(0, shmring_get_info(wo, &info));
	ASSERT_EQ(c->size, info.size);
	close(ro);
	close(wo);
}

/* Signals */

enum wait_mode { WAIT_RELATIVE, WAIT_FOREVER, WAIT_ABSTIME };

/* WAIT flags and timeout for @mode, long enough not to end by itself. */
static void mode_args(enum wait_mode mode, uint32_t *flags, int64_t *to)
{
	*flags = mode == WAIT_ABSTIME ? SHMRING_WAIT_ABSTIME : 0;
	switch (mode) {
	case WAIT_RELATIVE:
		*to = LONG_NS;
		break;
	case WAIT_FOREVER:
		*to = -1;
		break;
	case WAIT_ABSTIME:
	default:
		*to = now_ns() + 3 * LONG_NS;
		break;
	}
}

/* A child that WAITs on @off (value 0) and exits with the result. */
static pid_t spawn_waiter(struct ctx *c, uint64_t off, enum wait_mode mode,
			  int handled_sig, bool restart)
{
	uint32_t flags;
	int64_t to;
	pid_t pid;

	pid = spawn();
	if (pid)
		return pid;
	if (handled_sig && set_handler(handled_sig, restart))
		_exit(120);
	mode_args(mode, &flags, &to);
	_exit(-shmring_wait(c->fd, off, 0, flags, to));
}

FIXTURE(shmring_sig) {
	struct ctx c;
};

FIXTURE_VARIANT(shmring_sig) {
	enum wait_mode mode;
	bool sa_restart;
	bool restarts;		/* the WAIT resumes instead of EINTR */
};

FIXTURE_VARIANT_ADD(shmring_sig, relative_sa_restart) {
	.mode = WAIT_RELATIVE, .sa_restart = true, .restarts = false,
};

FIXTURE_VARIANT_ADD(shmring_sig, relative) {
	.mode = WAIT_RELATIVE, .sa_restart = false, .restarts = false,
};

FIXTURE_VARIANT_ADD(shmring_sig, forever_sa_restart) {
	.mode = WAIT_FOREVER, .sa_restart = true, .restarts = true,
};

FIXTURE_VARIANT_ADD(shmring_sig, forever) {
	.mode = WAIT_FOREVER, .sa_restart = false, .restarts = false,
};

FIXTURE_VARIANT_ADD(shmring_sig, abstime_sa_restart) {
	.mode = WAIT_ABSTIME, .sa_restart = true, .restarts = true,
};

FIXTURE_VARIANT_ADD(shmring_sig, abstime) {
	.mode = WAIT_ABSTIME, .sa_restart = false, .restarts = false,
};

FIXTURE_SETUP(shmring_sig)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(shmring_sig)
{
	ctx_teardown(_metadata, &self->c);
}

/*
 * A handled signal: relative waits return EINTR; infinite and ABSTIME ones
 * restart under SA_RESTART (the handler runs, the WAIT queues again and a
 * later WAKE ends it with 0) and return EINTR without it.
 */
TEST_F_TIMEOUT(shmring_sig, handler, 90)
{
	struct ctx *c = &self->c;
	uint64_t off = 9 * c->page + 28;
	pid_t pid;

	pid = spawn_waiter(c, off, variant->mode, SIGUSR1,
			   variant->sa_restart);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(1, await_int(&c->sh->handled, 1));

	if (variant->restarts) {
		/* The handler ran after the dequeue: this is the restart. */
		ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
		usleep(SETTLE_US);
		ASSERT_TRUE(alive(pid));
		ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
		ASSERT_EQ(0, reap(pid));
	} else {
		ASSERT_EQ(-EINTR, reap(pid));
		ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
	}
	ASSERT_EQ(1, __atomic_load_n(&c->sh->handled, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
}

/*
 * Waiters that die in WAIT leave nothing behind: waiter threads in a child,
 * plus its main thread when it is killed rather than exiting by itself.
 */
static void check_dying_waiters(struct __test_metadata *_metadata,
				struct ctx *c, bool killed)
{
	enum { THREADS = 3 };
	uint64_t off = 10 * c->page + 4;
	int pipefd[2], status, i, expect = THREADS + killed;
	struct waiter w[THREADS];
	char byte = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < THREADS; i++) {
			w[i] = (struct waiter){ .fd = c->fd, .off = off,
						.timeout_ns = -1 };
			if (start_thread(&w[i].tid, waiter_fn, &w[i]))
				_exit(121);
		}
		if (killed)
			_exit(-shmring_wait(c->fd, off, 0, 0, -1));
		/* Exit with waiters inside, once the parent saw them. */
		if (read(pipefd[0], &byte, 1) != 1)
			_exit(122);
		_exit(0);
	}

	ASSERT_EQ(expect, await_nr_waiters(c->fd, expect));
	if (killed) {
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(SIGKILL, WTERMSIG(status));
	} else {
		ASSERT_EQ(1, write(pipefd[1], &byte, 1));
		ASSERT_EQ(0, reap(pid));
	}
	/* The final teardown of a dead task may lag a little. */
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
	ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(shmring_wait, sigkill_leaves_nothing)
{
	check_dying_waiters(_metadata, &self->c, true);
}

TEST_F(shmring_wait, exit_leaves_nothing)
{
	check_dying_waiters(_metadata, &self->c, false);
}

/*
 * SIGSTOP and SIGCONT, with no handler, must not end an infinite or
 * ABSTIME wait. (A relative one may return EINTR: restarting it would
 * move its deadline.)
 */
TEST_F(shmring_wait, stop_and_continue)
{
	const enum wait_mode modes[] = { WAIT_FOREVER, WAIT_ABSTIME };
	struct ctx *c = &self->c;
	uint64_t off = 11 * c->page + 8;
	unsigned int i;
	int status;
	pid_t pid;

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		pid = spawn_waiter(c, off, modes[i], 0, false);
		ASSERT_LT(0, pid);
		ASSERT_EQ(1, await_nr_waiters(c->fd, 1));

		ASSERT_EQ(0, kill(pid, SIGSTOP));
		ASSERT_EQ(pid, waitpid(pid, &status, WUNTRACED));
		ASSERT_TRUE(WIFSTOPPED(status));
		ASSERT_EQ(0, kill(pid, SIGCONT));
		ASSERT_EQ(pid, waitpid(pid, &status, WCONTINUED));
		ASSERT_TRUE(WIFCONTINUED(status));

		ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
		usleep(SETTLE_US);
		ASSERT_TRUE(alive(pid));
		ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
		ASSERT_EQ(0, reap(pid));
	}
}

/*
 * The freezer (suspend, hibernation, the cgroup v1 freezer: all through
 * freeze_task()) must freeze a waiter where it sleeps, as it does a futex
 * waiter, not interrupt it: a relative wait would return EINTR with no
 * signal, and any wait would leave the queue while frozen. The cgroup v1
 * freezer is mounted for the test; the guest has no systemd.
 */
FIXTURE(shmring_freeze) {
	struct ctx c;
	char root[64];		/* where the freezer hierarchy is mounted */
	char cg[112];		/* the cgroup the waiter is moved into */
	bool frozen;
	pid_t pid;
};

FIXTURE_VARIANT(shmring_freeze) {
	enum wait_mode mode;
	bool wake_while_frozen;
};

FIXTURE_VARIANT_ADD(shmring_freeze, relative) {
	.mode = WAIT_RELATIVE,
};

FIXTURE_VARIANT_ADD(shmring_freeze, forever) {
	.mode = WAIT_FOREVER,
};

FIXTURE_VARIANT_ADD(shmring_freeze, abstime) {
	.mode = WAIT_ABSTIME,
};

FIXTURE_VARIANT_ADD(shmring_freeze, relative_woken_while_frozen) {
	.mode = WAIT_RELATIVE, .wake_while_frozen = true,
};

static int write_str(const char *dir, const char *file, const char *s)
{
	char path[160];
	ssize_t len = strlen(s);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* The freezer.state of @cg is @want, within POLL_NS. */
static bool await_state(const char *cg, const char *want)
{
	int64_t start = now_ns();
	char path[160], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/freezer.state", cg);
	do {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, want, strlen(want)) &&
			    buf[strlen(want)] == '\n')
				return true;
		}
	} while (poll_again(start));
	return false;
}

FIXTURE_SETUP(shmring_freeze)
{
	int err = 0;

	ctx_setup(_metadata, &self->c);
	if (_metadata->exit_code)
		return;
	/* Undone here on failure: teardown runs only after a whole setup. */
	strcpy(self->root, "/tmp/shmring-freezer-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	if (mount("freezer", self->root, "cgroup", 0, "freezer")) {
		err = errno;
		rmdir(self->root);
		SKIP(return, "no cgroup v1 freezer: %s", strerror(err));
	}
	/* Named after us: a leftover of an earlier run must not be in the way. */
	snprintf(self->cg, sizeof(self->cg), "%s/shmring-%d", self->root, getpid());
	if (mkdir(self->cg, 0755)) {
		err = errno;
		umount(self->root);
		rmdir(self->root);
	}
	ASSERT_EQ(0, err) TH_LOG("mkdir %s: %s", self->cg, strerror(err));
}

FIXTURE_TEARDOWN(shmring_freeze)
{
	int64_t start = now_ns();

	if (self->frozen)
		write_str(self->cg, "freezer.state", "THAWED");
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	/* A killed task may take a moment to leave its cgroup. */
	while (rmdir(self->cg) && errno == EBUSY && poll_again(start))
		;
	EXPECT_EQ(0, access(self->cg, F_OK) ? 0 : -1) TH_LOG("%s is left", self->cg);
	EXPECT_EQ(0, umount(self->root)) TH_LOG("umount %s: %s", self->root, strerror(errno));
	EXPECT_EQ(0, rmdir(self->root));
	ctx_teardown(_metadata, &self->c);
}

/*
 * Everything seen while frozen is checked after the thaw: a frozen task
 * cannot even be killed, and nothing may stay frozen when a check fails.
 */
TEST_F_TIMEOUT(shmring_freeze, waiter_stays_asleep, 120)
{
	struct ctx *c = &self->c;
	uint64_t off = 9 * c->page + 60;
	int queued, queued_after = 0, woke = 0, thawed;
	bool reached, alive_frozen, alive_woken = true;
	char pid[16];

	self->pid = spawn_waiter(c, off, variant->mode, 0, false);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	snprintf(pid, sizeof(pid), "%d\n", self->pid);
	ASSERT_EQ(0, write_str(self->cg, "cgroup.procs", pid));

	ASSERT_EQ(0, write_str(self->cg, "freezer.state", "FROZEN"));
	self->frozen = true;
	reached = await_state(self->cg, "FROZEN");
	/* Frozen where it sleeps: still queued, still in WAIT. */
	usleep(SETTLE_US);
	queued = nr_waiters(c->fd);
	alive_frozen = alive(self->pid);
	if (variant->wake_while_frozen) {
		/* Dequeued now; it returns 0 once it runs again. */
		woke = shmring_wake(c->fd, off, 1);
		queued_after = nr_waiters(c->fd);
		usleep(SETTLE_US);
		alive_woken = alive(self->pid);
	}
	thawed = write_str(self->cg, "freezer.state", "THAWED");
	if (!thawed && await_state(self->cg, "THAWED"))
		self->frozen = false;

	ASSERT_FALSE(self->frozen) TH_LOG("cannot thaw: %s", strerror(-thawed));
	ASSERT_TRUE(reached) TH_LOG("the waiter was never frozen");
	ASSERT_EQ(1, queued) TH_LOG("frozen waiter left the queue");
	ASSERT_TRUE(alive_frozen) TH_LOG("frozen waiter returned");
	if (variant->wake_while_frozen) {
		ASSERT_EQ(1, woke);
		ASSERT_EQ(0, queued_after);
		ASSERT_TRUE(alive_woken) TH_LOG("returned while frozen");
	} else {
		usleep(SETTLE_US);
		ASSERT_TRUE(alive(self->pid)) TH_LOG("returned after the thaw");
		ASSERT_EQ(1, nr_waiters(c->fd));
		ASSERT_EQ(1, shmring_wake(c->fd, off, 1));
	}
	ASSERT_EQ(0, reap(self->pid));
	self->pid = 0;
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
}

/* Ping-pong: no lost wake-up */

/* One side of a ping-pong on a word: shmring, or a futex if fd < 0. */
struct pp_side {
	uint32_t *word;
	int fd;
	uint64_t off;
	unsigned long rounds;
	int ret;
};

static int pp_wait(const struct pp_side *s, uint32_t val)
{
	if (s->fd >= 0)
		return shmring_wait(s->fd, s->off, val, 0, -1);
	return syscall(SYS_futex, s->word, FUTEX_WAIT, val, NULL, NULL, 0) ?
	       -errno : 0;
}

static int pp_wake(const struct pp_side *s)
{
	long ret;

	if (s->fd >= 0)
		return shmring_wake(s->fd, s->off, 1);
	ret = syscall(SYS_futex, s->word, FUTEX_WAKE, 1, NULL, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

/* Blocks until the word is @want. A 0 from WAIT proves nothing: re-check. */
static int pp_await(const struct pp_side *s, uint32_t want)
{
	uint32_t v;
	int ret;

	while ((v = __atomic_load_n(s->word, __ATOMIC_SEQ_CST)) != want) {
		if (v != want - 1)
			return -EPROTO;		/* nobody else writes it */
		ret = pp_wait(s, v);
		if (ret && ret != -EAGAIN)
			return ret;
	}
	return 0;
}

/*
 * The word counts turns: side @first (0 or 1) waits for 2i + first, then
 * writes 2i + first + 1 and wakes the other side. The pinger also waits for
 * the last reply, so it times whole round trips.
 */
static int pp_play(const struct pp_side *s, uint32_t first)
{
	unsigned long i;
	uint32_t turn;
	int ret;

	for (i = 0; i < s->rounds; i++) {
		turn = 2 * i + first;
		ret = pp_await(s, turn);
		if (ret)
			return ret;
		__atomic_store_n(s->word, turn + 1, __ATOMIC_SEQ_CST);
		ret = pp_wake(s);
		if (ret < 0)
			return ret;
	}
	return first ? 0 : pp_await(s, 2 * s->rounds);
}

/* The ponger maps the word's page through its own open of the device. */
static int pp_own_mapping(struct pp_side *s, uint64_t page)
{
	uint8_t *p;

	if (s->fd < 0)
		return 0;	/* the futex: the inherited MAP_SHARED memfd */
	s->fd = shmring_open(O_RDWR);
	if (s->fd < 0)
		return -errno;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
		 s->off - s->off % page);
	if (p == MAP_FAILED)
		return -errno;
	s->word = (uint32_t *)(p + s->off % page);
	return 0;
}

/* Ping-pong against a forked ponger; returns ns per round trip. */
static int64_t pp_procs(struct __test_metadata *_metadata, struct pp_side *s,
			uint64_t page)
{
	int pipefd[2], ret;
	int64_t t0, el;
	char byte = 0;
	pid_t pid;

	*s->word = 0;
	ASSERT_EQ(0, pipe(pipefd));
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct pp_side me = *s;

		ret = pp_own_mapping(&me, page);
		if (write(pipefd[1], &byte, 1) != 1)
			_exit(123);
		_exit(ret ? -ret : -pp_play(&me, 1));
	}
	/* Time the round trips, not the child's start-up. */
	ASSERT_EQ(1, read(pipefd[0], &byte, 1));
	t0 = now_ns();
	ASSERT_EQ(0, pp_play(s, 0));
	el = now_ns() - t0;
	ASSERT_EQ(0, reap(pid));
	ASSERT_EQ(2 * s->rounds, *s->word);
	close(pipefd[0]);
	close(pipefd[1]);
	return el / (int64_t)s->rounds;
}

static unsigned long pp_rounds(void)
{
	/* The word holds 2 * rounds. */
	return env_ulong("SHMRING_PINGPONG", 100000, INT32_MAX);
}

/*
 * Two processes, each with its own open and mapping, then the same over a
 * shared futex on a memfd for scale. Timings are printed, never judged.
 * The futex only gives the scale, which a fifth of the rounds measures as
 * well; shmring keeps every round.
 */
TEST_F_TIMEOUT(shmring_wait, pingpong_processes, 300)
{
	struct ctx *c = &self->c;
	uint64_t off = 12 * c->page + 64;
	struct pp_side s = { .word = word(c, off), .fd = c->fd, .off = off,
			     .rounds = pp_rounds() };
	struct pp_side f = { .fd = -1,
			     .rounds = s.rounds > 5 ? s.rounds / 5 : 1 };
	int64_t shm_ns, fut_ns;
	int mfd;

	shm_ns = pp_procs(_metadata, &s, c->page);

	mfd = memfd_create("shmring-pingpong", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, c->page));
	f.word = mmap(NULL, c->page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, f.word);
	fut_ns = pp_procs(_metadata, &f, c->page);

	ksft_print_msg("pingpong: shmring %lld ns/rt, futex %lld ns/rt, ratio %.2f\n",
		       (long long)shm_ns, (long long)fut_ns,
		       fut_ns ? (double)shm_ns / fut_ns : 0.0);
	fflush(stdout);
	munmap(f.word, c->page);
	close(mfd);
}

static void *pp_thread(void *arg)
{
	struct pp_side *s = arg;

	s->ret = pp_play(s, 1);
	return NULL;
}

/* The same between two threads, each with its own open of the device. */
TEST_F_TIMEOUT(shmring_wait, pingpong_threads, 300)
{
	struct ctx *c = &self->c;
	uint64_t off = 13 * c->page - 4;
	struct pp_side a = { .word = word(c, off), .fd = c->fd, .off = off,
			     .rounds = pp_rounds() };
	struct pp_side b = a;
	int64_t t0, el;
	pthread_t tid;

	ASSERT_EQ(0, pp_own_mapping(&b, c->page));
	ASSERT_EQ(0, start_thread(&tid, pp_thread, &b));
	t0 = now_ns();
	ASSERT_EQ(0, pp_play(&a, 0));
	el = now_ns() - t0;
	ASSERT_EQ(0, pthread_join(tid, NULL));
	ASSERT_EQ(0, b.ret);
	ASSERT_EQ(2 * a.rounds, *a.word);

	ksft_print_msg("pingpong threads: shmring %lld ns/rt\n",
		       (long long)(el / (int64_t)a.rounds));
	fflush(stdout);
	munmap((uint8_t *)b.word - off % c->page, c->page);
	close(b.fd);
}

/* Many waiters */

/*
 * @n distinct words at pseudo-random offsets. Unlike a regular stride,
 * which a multiplicative hash spreads evenly, some of them share a bucket
 * whatever the table size, so a WAKE must skip the others' waiters.
 */
static void random_words(uint64_t *offs, int n, uint64_t size)
{
	uint32_t seed = 0x5eed;
	int i, j;

	for (i = 0; i < n; i++) {
		do {
			offs[i] = xorshift(&seed) % (size / 4) * 4;
			for (j = 0; j < i && offs[j] != offs[i]; j++)
				;
		} while (j < i);
	}
}

TEST_F_TIMEOUT(shmring_wait, thousand_waiters_hundred_words, 180)
{
	enum { WORDS = 100, PER_WORD = 10, N = WORDS * PER_WORD };
	struct ctx *c = &self->c;
	int done[WORDS] = { 0 }, i, err;
	uint64_t offs[WORDS];
	struct waiter *w;

	random_words(offs, WORDS, c->size);
	w = calloc(N, sizeof(*w));
	ASSERT_NE(NULL, w);
	for (i = 0; i < N; i++) {
		err = start_waiters(&w[i], 1, c->fd, offs[i % WORDS], 0, 0, -1,
				    &done[i % WORDS]);
		ASSERT_EQ(0, err) TH_LOG("thread %d: %s", i, strerror(err));
	}
	ASSERT_EQ(N, await_nr_waiters(c->fd, N));

	for (i = 0; i < WORDS; i++) {
		ASSERT_EQ(PER_WORD, shmring_wake(c->fd, offs[i], UINT32_MAX))
			TH_LOG("word %d at %#llx", i,
			       (unsigned long long)offs[i]);
		if (i == WORDS / 2 - 1) {
			ASSERT_EQ(N / 2, await_nr_waiters(c->fd, N / 2));
		}
	}
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
	ASSERT_EQ(N, join_waiters(w, N, 0));
	for (i = 0; i < WORDS; i++) {
		ASSERT_EQ(PER_WORD, done[i]);
	}
	free(w);
}

/* Races */

/*
 * A waiter and a waker meet at a barrier each round. The waker acts a
 * delay after it sees the waiter queued; the delay adapts towards the
 * point where either side wins half the time, so many rounds land right
 * at the edge.
 */
struct duel {
	struct ctx *c;
	uint64_t off;
	int64_t timeout_ns;
	unsigned long rounds;
	pthread_barrier_t start, end;
	int ret;
	int returned;
};

static void *duel_waiter(void *arg)
{
	struct duel *d = arg;
	unsigned long i;

	for (i = 0; i < d->rounds; i++) {
		pthread_barrier_wait(&d->start);
		/* The word stays 0: EAGAIN is never a right answer. */
		d->ret = shmring_wait(d->c->fd, d->off, 0, 0, d->timeout_ns);
		__atomic_store_n(&d->returned, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&d->end);
	}
	return NULL;
}

/*
 * Starts a round and spins until the waiter is queued (or already gone):
 * a slow guest may take longer than the timeout just to run the waiter, so
 * timing from the barrier would mostly race the queueing instead.
 */
static void duel_start(struct duel *d)
{
	__atomic_store_n(&d->returned, 0, __ATOMIC_SEQ_CST);
	pthread_barrier_wait(&d->start);
	while (nr_waiters(d->c->fd) != 1 &&
	       !__atomic_load_n(&d->returned, __ATOMIC_SEQ_CST))
		;
}

static unsigned long stress_rounds(void)
{
	return env_ulong("SHMRING_STRESS", 2000, ULONG_MAX);
}

static int64_t adapt(int64_t delay, bool waker_won, uint32_t *seed,
		     int64_t step, int64_t lo, int64_t hi)
{
	delay += waker_won ? step : -step;
	delay += (int64_t)(xorshift(seed) % 5) * step / 2 - step;
	return delay < lo ? lo : delay > hi ? hi : delay;
}

/*
 * WAKE against a 1 ms timeout: a WAKE that returned 1 dequeued the waiter,
 * which must then return 0 even if its timer fired too; a WAKE that
 * returned 0 found nobody, so the waiter timed out.
 */
TEST_F_TIMEOUT(shmring_wait, race_wake_vs_timeout, 180)
{
	struct ctx *c = &self->c;
	struct duel d = { .c = c, .off = 14 * c->page + 4,
			  .timeout_ns = NSEC_PER_MSEC,
			  .rounds = stress_rounds() };
	unsigned long i, wins = 0;
	int64_t delay = NSEC_PER_MSEC;
	uint32_t seed = 1;
	pthread_t tid;
	int woke;

	ASSERT_EQ(0, pthread_barrier_init(&d.start, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&d.end, NULL, 2));
	ASSERT_EQ(0, start_thread(&tid, duel_waiter, &d));
	for (i = 0; i < d.rounds; i++) {
		duel_start(&d);
		spin_ns(delay);
		woke = shmring_wake(c->fd, d.off, 1);
		pthread_barrier_wait(&d.end);

		ASSERT_EQ(woke ? 0 : -ETIMEDOUT, d.ret)
			TH_LOG("round %lu: WAKE returned %d after %lld ns",
			       i, woke, (long long)delay);
		wins += woke;
		delay = adapt(delay, woke, &seed, 20000, 0,
			      20 * NSEC_PER_MSEC);
	}
	ASSERT_EQ(0, pthread_join(tid, NULL));
	pthread_barrier_destroy(&d.start);
	pthread_barrier_destroy(&d.end);
	TH_LOG("%lu rounds: %lu woken, %lu timed out, delay %lld ns",
	       d.rounds, wins, d.rounds - wins, (long long)delay);
}

/*
 * WAKE against a signal (handler without SA_RESTART, infinite wait): a
 * WAKE that returned 1 means 0 from the waiter even if the signal came at
 * once; a WAKE that found nobody means the signal dequeued it: EINTR.
 * Negative delays wake first and signal after.
 */
TEST_F_TIMEOUT(shmring_wait, race_wake_vs_signal, 180)
{
	struct ctx *c = &self->c;
	struct duel d = { .c = c, .off = 15 * c->page + 4, .timeout_ns = -1,
			  .rounds = stress_rounds() };
	unsigned long i, wins = 0;
	int64_t delay = 0;
	uint32_t seed = 7;
	pthread_t tid;
	int woke;

	ASSERT_EQ(0, set_handler(SIGUSR2, false));
	ASSERT_EQ(0, pthread_barrier_init(&d.start, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&d.end, NULL, 2));
	ASSERT_EQ(0, start_thread(&tid, duel_waiter, &d));
	for (i = 0; i < d.rounds; i++) {
		/* A signal before the WAIT queues would be lost to the race. */
		duel_start(&d);
		ASSERT_EQ(0, __atomic_load_n(&d.returned, __ATOMIC_SEQ_CST))
			TH_LOG("round %lu: WAIT returned %d", i, d.ret);
		if (delay >= 0) {
			ASSERT_EQ(0, pthread_kill(tid, SIGUSR2));
			spin_ns(delay);
			woke = shmring_wake(c->fd, d.off, 1);
		} else {
			woke = shmring_wake(c->fd, d.off, 1);
			spin_ns(-delay);
			ASSERT_EQ(0, pthread_kill(tid, SIGUSR2));
		}
		pthread_barrier_wait(&d.end);
		/* No signal may spill into the next round. */
		ASSERT_EQ((int)i + 1, await_int(&c->sh->handled, i + 1));

		ASSERT_EQ(woke ? 0 : -EINTR, d.ret)
			TH_LOG("round %lu: WAKE returned %d, delay %lld ns",
			       i, woke, (long long)delay);
		wins += woke;
		delay = adapt(delay, woke, &seed, 5000, -100000,
			      10 * NSEC_PER_MSEC);
	}
	ASSERT_EQ(0, pthread_join(tid, NULL));
	pthread_barrier_destroy(&d.start);
	pthread_barrier_destroy(&d.end);
	TH_LOG("%lu rounds: %lu woken, %lu interrupted, delay %lld ns",
	       d.rounds, wins, d.rounds - wins, (long long)delay);
}

/*
 * WAIT and WAKE on random words while other threads open, mmap, write,
 * munmap (whole and partial) and close the device, and swap the fd some
 * of the waiters and wakers use. Nothing may crash or leak a waiter.
 */
#define RACE_WORDS	16

struct race {
	struct ctx *c;
	uint64_t offs[RACE_WORDS];
	int shared_fd;		/* replaced and closed under the users */
	int stop;
	unsigned long waits, wakes, maps;
	int bad;		/* first unexpected result, or 0 */
	int bad_op;
};

static void race_bad(struct race *r, int op, int ret)
{
	int zero = 0;

	if (__atomic_compare_exchange_n(&r->bad, &zero, ret,
					false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		r->bad_op = op;
}

static bool racing(struct race *r)
{
	return !__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST);
}

static int race_fd(struct race *r, uint32_t rnd)
{
	return rnd & 1 ? r->c->fd :
	       __atomic_load_n(&r->shared_fd, __ATOMIC_SEQ_CST);
}

static void *race_waiter(void *arg)
{
	struct race *r = arg;
	uint32_t seed = (uint32_t)(uintptr_t)&seed | 1, rnd, flags, v;
	uint64_t off;
	int64_t to;
	int ret;

	while (racing(r)) {
		rnd = xorshift(&seed);
		off = r->offs[rnd % RACE_WORDS];
		v = __atomic_load_n(word(r->c, off), __ATOMIC_SEQ_CST);
		to = NSEC_PER_MSEC + rnd % NSEC_PER_MSEC;
		flags = 0;
		if (rnd & 2) {
			flags = SHMRING_WAIT_ABSTIME;
			to += now_ns();
		}
		ret = shmring_wait(race_fd(r, rnd >> 8), off, v, flags, to);
		/* EBADF: the shared fd was closed under us. */
		if (ret && ret != -EAGAIN && ret != -ETIMEDOUT && ret != -EBADF)
			race_bad(r, 1, ret);
		__atomic_add_fetch(&r->waits, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *race_waker(void *arg)
{
	static const uint32_t counts[] = { 1, 2, UINT32_MAX };
	struct race *r = arg;
	uint32_t seed = (uint32_t)(uintptr_t)&seed | 1, rnd;
	uint64_t off;
	int ret;

	while (racing(r)) {
		rnd = xorshift(&seed);
		off = r->offs[rnd % RACE_WORDS];
		if (rnd & 0x100)
			__atomic_add_fetch(word(r->c, off), 1, __ATOMIC_SEQ_CST);
		ret = shmring_wake(race_fd(r, rnd >> 9), off,
				   counts[(rnd >> 12) % 3]);
		if (ret < 0 && ret != -EBADF)
			race_bad(r, 2, ret);
		__atomic_add_fetch(&r->wakes, 1, __ATOMIC_RELAXED);
		if (rnd & 0x10000)
			usleep(rnd % 200);
	}
	return NULL;
}

/* Maps a random window of pages and bumps the race words inside it. */
static void race_map_once(struct race *r, uint32_t rnd)
{
	struct ctx *c = r->c;
	uint64_t pages = c->size / c->page, n, first, off, len;
	uint8_t *p;
	int fd, old, i;

	fd = shmring_open(O_RDWR);
	if (fd < 0) {
		race_bad(r, 3, -errno);
		return;
	}
	n = 1 + rnd % 8;
	first = (rnd >> 3) % (pages - n + 1);
	len = n * c->page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 first * c->page);
	if (p == MAP_FAILED) {
		race_bad(r, 4, -errno);
		close(fd);
		return;
	}
	/* The mapping outlives its fd. */
	if (rnd & 0x100000) {
		close(fd);
		fd = -1;
	}
	for (i = 0; i < RACE_WORDS; i++) {
		off = r->offs[i];
		if (off >= first * c->page && off < first * c->page + len)
			__atomic_add_fetch((uint32_t *)(p + off - first * c->page),
					   1, __ATOMIC_SEQ_CST);
	}
	if (n > 1 && (rnd & 0x200000)) {
		munmap(p, c->page);
		munmap(p + c->page, len - c->page);
	} else {
		munmap(p, len);
	}
	if (fd < 0)
		return;
	if (rnd & 0x400000) {
		old = __atomic_exchange_n(&r->shared_fd, fd, __ATOMIC_SEQ_CST);
		close(old);
	} else {
		close(fd);
	}
}

static void *race_mapper(void *arg)
{
	struct race *r = arg;
	uint32_t seed = (uint32_t)(uintptr_t)&seed | 1;

	while (racing(r)) {
		race_map_once(r, xorshift(&seed));
		__atomic_add_fetch(&r->maps, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmring_wait, race_mmap_close_vs_wait_wake, 120)
{
	static void *(*const fns[])(void *) = {
		race_waiter, race_waiter, race_waiter, race_waker, race_waker,
		race_mapper, race_mapper,
	};
	struct ctx *c = &self->c;
	int64_t ms = env_ulong("SHMRING_RACE_MS", 3000, 600000);
	struct race r = { .c = c };
	pthread_t tids[ARRAY_SIZE(fns)];
	unsigned int i;
	int err;

	/* Pairs on both sides of page boundaries. */
	for (i = 0; i < RACE_WORDS; i++)
		r.offs[i] = (i / 2 + 1) * c->page - (i % 2 ? 4 : 0);
	r.shared_fd = shmring_open(O_RDWR);
	ASSERT_LE(0, r.shared_fd);

	for (i = 0; i < ARRAY_SIZE(fns); i++) {
		err = start_thread(&tids[i], fns[i], &r);
		ASSERT_EQ(0, err) TH_LOG("thread %u: %s", i, strerror(err));
	}
	usleep(ms * 1000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < ARRAY_SIZE(fns); i++)
		pthread_join(tids[i], NULL);
	close(r.shared_fd);

	TH_LOG("%lu waits, %lu wakes, %lu maps", r.waits, r.wakes, r.maps);
	ASSERT_EQ(0, r.bad) TH_LOG("op %d", r.bad_op);
	ASSERT_LT(0UL, r.waits);
	ASSERT_LT(0UL, r.maps);
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
	for (i = 0; i < RACE_WORDS; i++) {
		ASSERT_EQ(0, shmring_wake(c->fd, r.offs[i], UINT32_MAX));
	}
}

TEST_HARNESS_MAIN
