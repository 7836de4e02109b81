// SPDX-License-Identifier: GPL-2.0
/*
 * System calls per message of libshmring over /dev/shmring in steady state:
 * (WAIT, WAKE and membarrier calls of both sides) / messages, from
 * shmring_channel_stats(), producer on CPU A, consumer on CPU B. The window
 * is the consumer's: it takes its counters after msgs_warmup messages and
 * again msgs later, and raises a flag each time, on which the producer
 * takes its own at its next message. So both count over the same stretch
 * of time, whatever the ring holds; then the producer closes and the
 * consumer reads to end-of-file.
 *
 *   keepup  the consumer is faster: the producer does keepup_work_ns of
 *           work per message, the consumer none, so the consumer drains
 *           the ring and waits for each message.
 *   slow    the consumer does slow_work_ns per message (longer than the
 *           library's spin before sleeping), the producer none, so the
 *           ring stays full and the producer waits for room.
 *
 * Every message carries its sequence number, checked by the consumer.
 *
 * A producer that stalls for longer than the consumer's longest spin (the
 * host took its vCPU away: TCG) makes the consumer sleep, as it should, for
 * a WAIT and a WAKE that say nothing of the ring. As the host half does for
 * steal time, a keep-up repeat with more than one such stall per
 * STALL_MSGS messages runs again, at most REDO_MAX times, and the report
 * says how many did.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shmring.h>

#include "bench.h"
#include "internal.h"	/* SR_SPIN_MAX_NS */

/*
 * keepup: half the default 4 MiB device, one channel for both sizes: a
 * millisecond of messages at 4 KiB, so that the consumer's vCPU can be
 * descheduled that long (TCG, the host) without the producer sleeping for
 * room. slow: small, so that the producer fills it soon and waits.
 */
#define KEEPUP_CAPACITY	(2U << 20)
#define SLOW_CAPACITY	(64U << 10)
#define CAPACITY(mode)	((mode) == KEEPUP ? KEEPUP_CAPACITY : SLOW_CAPACITY)
#define TIMEOUT_NS	(30LL * 1000000000LL)
#define SYS_ALARM_S	300
#define STALL_MSGS	4000
#define REDO_MAX	2

static const unsigned int sizes[] = { 64, 4096 };
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

enum mode { KEEPUP, SLOW, NR_MODES };
static const char *const mode_name[] = { "shmring-keepup", "shmring-slow" };

struct side_result {
	struct shmring_stats before, after;
};


/* In memory shared by the parent and both sides. */
struct sync {
	_Atomic int phase;		/* 1: window open, 2: closed */
	struct side_result res[2];	/* producer, consumer */
	unsigned long gaps;		/* producer stalls over SR_SPIN_MAX_NS */
};

static uint64_t syscalls(const struct side_result *s)
{
	return (s->after.waits - s->before.waits) +
	       (s->after.wakes - s->before.wakes) +
	       (s->after.barriers - s->before.barriers);
}

static int open_channel(const char *name, enum mode mode, int role,
			struct shmring **sh, struct shmring_channel **ch)
{
	struct shmring_channel_attr attr = {
		.kind = SHMRING_MSG, .capacity = CAPACITY(mode),
	};

	if (shmring_open(NULL, sh)) {
		errorf("shmring_open: %m");
		return -1;
	}
	if (shmring_channel_open(*sh, name, role, SHMRING_CREATE, &attr, ch)) {
		errorf("shmring_channel_open(%s): %m", name);
		shmring_close(*sh);
		return -1;
	}
	return 0;
}

static int producer(const char *name, enum mode mode, size_t len,
		    struct sync *sy)
{
	struct side_result *res = &sy->res[0];
	struct shmring_channel *ch;
	struct shmring *sh;
	unsigned char *buf;
	int phase = 0, ret = 0;
	int64_t t, prev = 0;
	uint64_t seq;

	if (pin_self(CPU_A) ||
	    open_channel(name, mode, SHMRING_PRODUCER, &sh, &ch))
		return -1;
	buf = malloc(len);
	if (!buf)
		return -1;
	memset(buf, 0xa5, len);
	for (seq = 0; phase < 2 && !ret; seq++) {
		if (atomic_load(&sy->phase) != phase) {
			phase++;
			shmring_channel_stats(ch, phase == 1 ? &res->before :
					      &res->after);
			if (phase == 2)
				break;
		}
		/*
		 * A stall longer than the consumer's spin (an interrupt, the
		 * host) makes it sleep: count them, to tell those apart.
		 */
		t = now_ns();
		if (mode == KEEPUP && phase == 1 && prev &&
		    t - prev > SR_SPIN_MAX_NS)
			sy->gaps++;
		prev = t;
		memcpy(buf, &seq, sizeof(seq));
		if (shmring_msg_send(ch, buf, len, TIMEOUT_NS) != (ssize_t)len) {
			errorf("shmring_msg_send #%llu: %m",
			       (unsigned long long)seq);
			ret = -1;
		}
		if (mode == KEEPUP)
			spin_ns(cfg.keepup_work_ns);
	}
	if (shmring_channel_close(ch))
		ret = -1;
	shmring_close(sh);
	free(buf);
	return ret;
}

static int consumer(const char *name, enum mode mode, struct sync *sy,
		    size_t len)
{
	unsigned long end = cfg.msgs_warmup + cfg.msgs;
	struct side_result *res = &sy->res[1];
	struct shmring_channel *ch;
	struct shmring *sh;
	unsigned char *buf;
	uint64_t i, seq = 0;
	ssize_t n;
	int ret = 0;

	if (pin_self(CPU_B) ||
	    open_channel(name, mode, SHMRING_CONSUMER, &sh, &ch))
		return -1;
	buf = malloc(CAPACITY(mode));
	if (!buf)
		return -1;
	for (i = 0; !ret; i++) {
		if (i == cfg.msgs_warmup || i == end) {
			shmring_channel_stats(ch, i == end ? &res->after :
					      &res->before);
			atomic_store(&sy->phase, i == end ? 2 : 1);
		}
		n = shmring_msg_recv(ch, buf, CAPACITY(mode), TIMEOUT_NS);
		if (!n && i >= end)
			break;		/* end-of-file after the window */
		if (n > 0)
			memcpy(&seq, buf, sizeof(seq));
		if (n != (ssize_t)len || seq != i) {
			errorf("message #%llu: %zd bytes, sequence %llu%s%m",
			       (unsigned long long)i, n,
			       (unsigned long long)seq, n < 0 ? ": " : "");
			ret = -1;
		}
		if (mode == SLOW)
			spin_ns(cfg.slow_work_ns);
	}
	if (shmring_channel_close(ch))
		ret = -1;
	shmring_close(sh);
	free(buf);
	return ret;
}

/* One run: syscalls per message into *@out, producer stalls *@stalls. */
static int run(enum mode mode, size_t len, double *out, double *timeouts,
	       unsigned long *stalls)
{
	struct sync *sy = shared_alloc(sizeof(*sy));
	struct side_result *res;
	char name[32];
	int pid[2], i, ret = 0;

	if (!sy)
		return -1;
	res = sy->res;
	if (mode == KEEPUP)
		snprintf(name, sizeof(name), "bench-keepup");
	else
		snprintf(name, sizeof(name), "bench-slow-%zu", len);
	fflush(NULL);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			errorf("fork: %m");
			if (i) {
				kill(pid[0], SIGKILL);
				wait_child(pid[0], "producer");
			}
			shared_free(sy, sizeof(*sy));
			return -1;
		}
		if (!pid[i]) {
			alarm(SYS_ALARM_S);
			if (i)
				_exit(consumer(name, mode, sy, len) ? 1 : 0);
			_exit(producer(name, mode, len, sy) ? 1 : 0);
		}
	}
	if (wait_pair(pid, (const char *const[]){ "producer", "consumer" }))
		ret = -1;
	*out = (double)(syscalls(&res[0]) + syscalls(&res[1])) /
	       (double)cfg.msgs;
	*timeouts = (double)(res[0].after.timeouts - res[0].before.timeouts +
			     res[1].after.timeouts - res[1].before.timeouts);
	diag("syscalls %-14s %4zu B: producer %llu WAIT %llu WAKE %llu "
	     "membarrier, consumer %llu WAIT %llu WAKE %llu membarrier over "
	     "%lu messages; %lu producer stalls > %d us (the longest spin)",
	     mode_name[mode], len,
	     (unsigned long long)(res[0].after.waits - res[0].before.waits),
	     (unsigned long long)(res[0].after.wakes - res[0].before.wakes),
	     (unsigned long long)(res[0].after.barriers -
				  res[0].before.barriers),
	     (unsigned long long)(res[1].after.waits - res[1].before.waits),
	     (unsigned long long)(res[1].after.wakes - res[1].before.wakes),
	     (unsigned long long)(res[1].after.barriers -
				  res[1].before.barriers),
	     cfg.msgs, sy->gaps, SR_SPIN_MAX_NS / 1000);
	*stalls = sy->gaps;
	shared_free(sy, sizeof(*sy));
	return ret;
}

int bench_syscalls(void)
{
	unsigned int R = cfg.repeats, rep, m, s, redo, redone = 0;
	double reps[NR_MODES][NR_SIZES][R], to;
	unsigned long stalls;
	int ret = 0;

	if (reformat_device())
		return -1;

	for (rep = 0; rep < R && !ret; rep++)
		for (m = 0; m < NR_MODES && !ret; m++)
			for (s = 0; s < NR_SIZES && !ret; s++) {
				for (redo = 0;; redo++) {
					ret = run(m, sizes[s], &reps[m][s][rep],
						  &to, &stalls);
					if (ret || m != KEEPUP ||
					    stalls <= cfg.msgs / STALL_MSGS ||
					    redo == REDO_MAX)
						break;
					diag("syscalls %s %u B: the producer "
					     "stalled %lu time%s in repeat %u: "
					     "run again", mode_name[m],
					     sizes[s], stalls,
					     stalls == 1 ? "" : "s", rep + 1);
					redone++;
				}
				if (!ret && to)
					diag("%.0f liveness timeouts", to);
			}
	if (ret)
		return -1;
	redone_row("keepup_redone", redone, STALL_MSGS, "msgs", REDO_MAX);
	for (m = 0; m < NR_MODES; m++)
		for (s = 0; s < NR_SIZES; s++) {
			struct row r = {
				.group = "syscalls", .transport = mode_name[m],
				.msg_bytes = sizes[s],
				.metric = "syscalls_per_msg",
				.unit = "syscalls",
			};

			csv_row(&r, reps[m][s], R, NULL);
		}
	return 0;
}
