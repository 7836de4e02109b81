// SPDX-License-Identifier: GPL-2.0
/*
 * Wake latency against the number of waiters: one target thread (CPU B)
 * sleeps in WAIT on its own word while N - 1 other threads sleep on other
 * words, all among 1024 words one cache line apart. The waker (CPU A)
 * stores to the target's word and WAKEs it; the latency runs from just
 * before the WAKE to the target running again after its WAIT returned.
 *
 * Before every WAKE the waker sees all N waiters queued (INFO's
 * nr_waiters), so the target really sleeps and the others stay asleep;
 * the WAKE must report one task woken.
 *
 * Every repeat builds each population afresh, smallest first, so a drift
 * of the host over time does not fall on one N only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define NR_WORDS	1024
#define WORDS_OFF	0x20000UL
#define WORD_STRIDE	64UL
#define STACK_SIZE	(64UL << 10)
#define STOP		UINT32_MAX
#define SCALE_ALARM_S	300
/* The kernel's hash: hash_64(offset, SHMRING_HASH_BITS) in shmring_wait.c. */
#define HASH_BITS	10
#define GOLDEN_RATIO_64	0x61C8864680B583EBULL

static const unsigned int populations[] = { 1, 100, 4096 };
#define NR_POP	(sizeof(populations) / sizeof(populations[0]))

static struct shmring_map dev;

/* What the target hands back to the waker. */
static struct {
	_Atomic uint32_t ack;		/* last value seen */
	_Atomic int64_t t1;		/* when it ran again */
	_Atomic int blocked;		/* its WAIT returned 0 (was woken) */
	_Atomic int err;
} tgt;

static uint64_t word_off(unsigned int k)
{
	return WORDS_OFF + k * WORD_STRIDE;
}

static _Atomic uint32_t *word(unsigned int k)
{
	return (_Atomic uint32_t *)(dev.base + word_off(k));
}

static unsigned int bucket(uint64_t off)
{
	return (unsigned int)((off * GOLDEN_RATIO_64) >> (64 - HASH_BITS));
}

/* Background waiter: sleeps on word 1..1023 until it is set non-zero. */
static void *bg_main(void *arg)
{
	unsigned int k = (unsigned int)(uintptr_t)arg;
	int r;

	while (!atomic_load(word(k))) {
		r = dev_wait(dev.fd, word_off(k), 0, -1);
		if (r && r != -EAGAIN && r != -EINTR) {
			errorf("background WAIT: %s", strerror(-r));
			atomic_store(&tgt.err, 1);
			break;
		}
	}
	return NULL;
}

/* Target: word 0, alone on it. */
static void *target_main(void *arg)
{
	uint32_t seen = 0, v;
	int64_t t1;
	int r;

	(void)arg;
	for (;;) {
		r = dev_wait(dev.fd, word_off(0), seen, -1);
		t1 = now_ns();
		if (r && r != -EAGAIN && r != -EINTR) {
			errorf("target WAIT: %s", strerror(-r));
			atomic_store(&tgt.err, 1);
			return NULL;
		}
		v = atomic_load(word(0));
		if (v == seen)
			continue;
		atomic_store(&tgt.t1, t1);
		atomic_store(&tgt.blocked, r == 0);
		atomic_store(&tgt.ack, v);
		seen = v;
		if (v == STOP)
			return NULL;
	}
}

static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	cpu_set_t set;
	int err;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK_SIZE);
	CPU_ZERO(&set);
	CPU_SET(CPU_B, &set);
	pthread_attr_setaffinity_np(&a, sizeof(set), &set);
	err = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	if (err)
		errorf("pthread_create: %s", strerror(err));
	return err ? -1 : 0;
}

/* Polls INFO until exactly @n tasks are queued; fails after @secs. */
static int until_waiters(int n, int secs)
{
	int64_t end = now_ns() + secs * 1000000000LL;
	int w;

	while ((w = dev_nr_waiters(dev.fd)) != n) {
		if (w < 0 || atomic_load(&tgt.err) || now_ns() > end) {
			errorf("%d tasks waiting, expected %d", w, n);
			return -1;
		}
		sched_yield();
	}
	return 0;
}

/* Wakes and joins the background waiters, then clears their words. */
static int drop_background(pthread_t *bg, unsigned int nbg)
{
	unsigned int k, i;

	for (k = 1; k < NR_WORDS; k++) {
		atomic_store(word(k), 1);
		if (dev_wake(dev.fd, word_off(k), UINT32_MAX) < 0) {
			errorf("WAKE all: %m");
			return -1;
		}
	}
	for (i = 0; i < nbg; i++)
		pthread_join(bg[i], NULL);
	for (k = 1; k < NR_WORDS; k++)
		atomic_store(word(k), 0);
	return 0;
}

/*
 * One run with @n waiters in all: @warm + @iters wakes, the latencies of
 * the last @iters into @lat. @seq is the target word's running value.
 */
static int run_population(unsigned int n, pthread_t *bg, uint32_t *seq,
			  unsigned long warm, unsigned long iters,
			  uint64_t *lat, double *median)
{
	unsigned int i, nbg = n - 1, same = 0;
	unsigned long it;
	int64_t t0, start;
	int woken, ret = 0;

	start = now_ns();
	for (i = 0; i < nbg; i++) {
		unsigned int k = 1 + i % (NR_WORDS - 1);

		if (spawn(&bg[i], bg_main, (void *)(uintptr_t)k)) {
			nbg = i;
			ret = -1;
			goto out;
		}
		same += bucket(word_off(k)) == bucket(word_off(0));
	}
	if (until_waiters((int)n, 120)) {
		ret = -1;
		goto out;
	}
	if (nbg)
		diag("scale: %u waiters queued in %.1f s; %u of them share "
		     "the target's bucket", n, (now_ns() - start) / 1e9, same);

	for (it = 0; it < warm + iters; it++) {
		/* The target is back asleep and everyone else still is. */
		while (atomic_load(&tgt.ack) != *seq) {
			if (atomic_load(&tgt.err)) {
				ret = -1;
				goto out;
			}
			sched_yield();
		}
		if (until_waiters((int)n, 30)) {
			ret = -1;
			goto out;
		}
		/* Queued is not yet asleep: give it time to schedule out. */
		spin_ns(20000);
		if (dev_nr_waiters(dev.fd) != (int)n) {
			errorf("a waiter left its sleep");
			ret = -1;
			goto out;
		}
		atomic_store(word(0), ++*seq);
		t0 = now_ns();
		woken = dev_wake(dev.fd, word_off(0), 1);
		if (woken != 1) {
			errorf("WAKE of the target returned %d", woken);
			ret = -1;
			goto out;
		}
		while (atomic_load(&tgt.ack) != *seq) {
			if (atomic_load(&tgt.err)) {
				ret = -1;
				goto out;
			}
			sched_yield();
		}
		if (!atomic_load(&tgt.blocked)) {
			errorf("the target did not sleep");
			ret = -1;
			goto out;
		}
		if (it >= warm)
			lat[it - warm] = atomic_load(&tgt.t1) - t0;
	}
	/* The median: host hiccups under TCG would rule a mean. */
	*median = stats_median_u64(lat, iters);
out:
	if (drop_background(bg, nbg))
		ret = -1;
	return ret;
}

static int scale_child(void)
{
	unsigned int R = cfg.repeats, rep, p;
	unsigned long n = cfg.wake_iters;
	double reps[NR_POP][R];
	struct lat_buf lat[NR_POP];
	pthread_t target, *bg;
	uint32_t seq = 0;
	int ret = 0;

	alarm(SCALE_ALARM_S);
	if (pin_self(CPU_A) || shmring_map_open(&dev))
		return -1;
	if (dev.size < word_off(NR_WORDS)) {
		errorf("the buffer is too small for the scale test");
		return -1;
	}
	for (p = 0; p < NR_WORDS; p++)
		atomic_store(word(p), 0);
	bg = calloc(populations[NR_POP - 1], sizeof(*bg));
	ret = !bg;
	for (p = 0; p < NR_POP; p++)
		ret |= lat_init(&lat[p], R * n);
	if (ret) {
		errorf("out of memory");
		return -1;
	}
	if (spawn(&target, target_main, NULL))
		return -1;

	for (rep = 0; rep < R && !ret; rep++)
		for (p = 0; p < NR_POP && !ret; p++) {
			ret = run_population(populations[p], bg, &seq,
					     cfg.wake_warmup, n,
					     lat[p].v + lat[p].n, &reps[p][rep]);
			lat[p].n += n;
		}

	/* Stop the target; it may already be gone after an error. */
	atomic_store(word(0), STOP);
	dev_wake(dev.fd, word_off(0), 1);
	if (!atomic_load(&tgt.err))
		pthread_join(target, NULL);
	if (ret)
		return -1;

	for (p = 1; p < NR_POP; p++) {
		double ratio[R];
		struct summary s;

		for (rep = 0; rep < R; rep++)
			ratio[rep] = reps[p][rep] / reps[0][rep];
		stats_summary(ratio, (int)R, &s);
		diag("scale: %u / %u waiters per repeat: median %.3f, min %.3f, "
		     "max %.3f", populations[p], populations[0],
		     s.median, s.min, s.max);
	}
	for (p = 0; p < NR_POP; p++) {
		struct row r = {
			.group = "scale", .transport = "shmring",
			.msg_bytes = populations[p], .metric = "ns_per_wake",
			.unit = "ns",
		};

		csv_row(&r, reps[p], R, &lat[p]);
	}
	return 0;
}

/* In a child: thousands of threads, and a hang ends with the watchdog. */
int bench_scale(void)
{
	return run_in_child(scale_child, "scale test");
}
