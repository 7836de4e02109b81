// SPDX-License-Identifier: GPL-2.0
/*
 * Blocking wake round trip between two processes pinned to different CPUs:
 * A posts i and sleeps until B posts i back; B sleeps until i comes, then
 * posts it back. Neither side spins: every await goes straight into a
 * sleeping system call.
 *
 * A round trip counts only if both sides really slept in it: each side
 * reads its voluntary context switches once per round trip, outside A's
 * timed window, and a round trip in which either count did not move (the
 * answer came before the sleep began) is left out of the statistics. Under
 * TCG that happens to a few in a hundred, and to most of them while the
 * host keeps taking a vCPU away between a side's post and its await: with
 * a busy loop competing for the host's two cores, shmring and the futex
 * alike fell to 11-49% in single runs. So a run where fewer than half of
 * the round trips blocked runs again, at most RT_REDO times, and only a
 * transport that still blocks in almost none of them (it does not sleep at
 * all) fails. The fraction is printed; for the word transports, so is the
 * share of WAKEs that found the peer asleep.
 *
 * Each repeat forks a fresh pair per transport, warms up, then times n
 * round trips; it stands for the median of them, since under TCG a host
 * thread losing its core adds millisecond outliers that would rule a mean.
 * The transports take turns within each repeat, so drift in the host
 * spreads over all of them.
 *
 * instance against shmring is the instances' target: the same WAIT/WAKE on
 * an instance's node, whose files find their buffer through the cdev
 * rather than the miscdevice, and whose words hash into its own buckets.
 *
 * watch_epoll against eventfd_epoll is the watch fd's target: each side
 * sleeps in epoll_wait(2), on a watch fd of its word that the peer's WAKE
 * bumps, or on an eventfd that the peer writes; both read the count back,
 * so a hand-off costs three system calls either way (transport.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "transport.h"

static const struct transport *const transports[] = {
	&tp_shmring, &tp_futex, &tp_eventfd, &tp_pipe, &tp_socketpair,
	&tp_watch_epoll, &tp_eventfd_epoll, &tp_instance,
};

#define NR_TP	(sizeof(transports) / sizeof(transports[0]))
#define SHMRING	0	/* /dev/shmring, in transports[] */
#define FUTEX	1	/* the floor */
#define WATCH	5	/* the watch fd in epoll... */
#define EVENTFD_EPOLL 6	/* ...and its bound, an eventfd in epoll */
#define INSTANCE 7	/* WAIT/WAKE on an instance, held to /dev/shmring */

/* A run with fewer blocking round trips than this runs again... */
#define MIN_BLOCKED	0.5
#define RT_REDO		2
/* ...and fewer than this over all repeats fails the transport. */
#define MIN_BLOCKED_FAIL 0.05

/* What the two sides report, in memory shared with the parent. */
struct rt_shared {
	long woke[2];		/* posts that woke a sleeping peer */
	int64_t *lat;		/* A: per round trip, ns */
	unsigned char *slept[2];/* per round trip and side: it slept */
};

/* Watchdog per pair: far above any honest run, even under TCG. */
#define RT_ALARM_S	300

static int side(const struct transport *tp, struct link *l,
		struct rt_shared *sh, int me, unsigned long warm,
		unsigned long n)
{
	unsigned long i, k, total = warm + n;
	long nv, nv_prev, woke = 0;
	int64_t t0 = 0;
	int r;

	if (pin_self(me ? CPU_B : CPU_A))
		return -1;
	alarm(RT_ALARM_S);
	nv_prev = nvcsw_self();
	for (i = 1; i <= total; i++) {
		if (me) {
			if (tp->await(l, DIR_AB, (uint32_t)i))
				return -1;
			r = tp->post(l, DIR_BA, (uint32_t)i);
		} else {
			t0 = now_ns();
			r = tp->post(l, DIR_AB, (uint32_t)i);
			if (r >= 0 && tp->await(l, DIR_BA, (uint32_t)i))
				return -1;
		}
		if (r < 0)
			return -1;
		if (i <= warm) {
			if (i == warm)
				nv_prev = nvcsw_self();
			continue;
		}
		k = i - warm - 1;
		if (!me)
			sh->lat[k] = now_ns() - t0;
		/* Off A's clock: A is timed from its post to B's answer. */
		nv = nvcsw_self();
		sh->slept[me][k] = nv != nv_prev;
		nv_prev = nv;
		woke += r;
	}
	sh->woke[me] = woke;
	return 0;
}

/* What one run of a transport yields. */
struct rt_run {
	double median;		/* ns per blocking round trip */
	size_t nlat;		/* blocking round trips, appended at lat */
	double blocked;		/* their share of all */
	double woke[2];		/* WAKEs that found the peer asleep */
};

/* One timed run of @tp; the blocking round trips' times go to @lat. */
static int run_pair(const struct transport *tp, unsigned long warm,
		    unsigned long n, uint64_t *lat, struct rt_run *run)
{
	size_t shsize = sizeof(struct rt_shared) + n * sizeof(int64_t) + 2 * n;
	struct link l;
	struct rt_shared *sh;
	char what[2][64];
	int pid[2], me, ret;
	unsigned long i;

	memset(&l, 0, sizeof(l));
	memset(l.fd, -1, sizeof(l.fd));
	l.devfd = -1;
	sh = shared_alloc(shsize);
	if (!sh)
		return -1;
	sh->lat = (int64_t *)(sh + 1);
	sh->slept[0] = (unsigned char *)(sh->lat + n);
	sh->slept[1] = sh->slept[0] + n;
	if (tp->open(&l)) {
		shared_free(sh, shsize);
		return -1;
	}
	fflush(NULL);
	for (me = 0; me < 2; me++) {
		pid[me] = fork();
		if (pid[me] < 0) {
			errorf("fork: %m");
			if (me)
				kill(pid[0], SIGKILL);
			break;
		}
		if (!pid[me])
			_exit(side(tp, &l, sh, me, warm, n) ? 1 : 0);
	}
	tp->close(&l);
	snprintf(what[0], sizeof(what[0]), "%s side A", tp->name);
	snprintf(what[1], sizeof(what[1]), "%s side B", tp->name);
	if (me < 2) {
		if (me)
			wait_child(pid[0], what[0]);
		ret = -1;
	} else {
		ret = wait_pair(pid, (const char *const[]){ what[0], what[1] });
	}
	if (!ret) {
		run->nlat = 0;
		for (i = 0; i < n; i++) {
			if (!sh->slept[0][i] || !sh->slept[1][i])
				continue;
			lat[run->nlat++] = sh->lat[i];
		}
		run->blocked = (double)run->nlat / (double)n;
		run->median = stats_median_u64(lat, run->nlat);
		for (me = 0; me < 2; me++)
			run->woke[me] = (double)sh->woke[me] / (double)n;
	}
	shared_free(sh, shsize);
	return ret;
}

/* The ratio of transport @t's repeats @rt to transport @d's @rd, pairwise. */
static void ratio_diag(const double *rt, const double *rd, unsigned int R,
		       unsigned int t, unsigned int d)
{
	double ratio[R];
	struct summary s;
	unsigned int rep;

	for (rep = 0; rep < R; rep++)
		ratio[rep] = rt[rep] / rd[rep];
	stats_summary(ratio, (int)R, &s);
	diag("roundtrip %-10s / %s per repeat: median %.3f, min %.3f, "
	     "max %.3f", transports[t]->name, transports[d]->name, s.median,
	     s.min, s.max);
}

static int rt_rounds(void);

/* The round trips, with the instance tp_instance needs around them. */
int bench_roundtrip(void)
{
	int ctl, ret;

	ctl = open(SHMRING_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		errorf("open %s: %s", SHMRING_CONTROL_PATH, strerror(errno));
		return -1;
	}
	ret = inst_create(ctl, RT_INSTANCE, RT_INSTANCE_BYTES);
	if (ret) {
		errorf("create %s: %s", RT_INSTANCE, strerror(-ret));
		close(ctl);
		return -1;
	}
	ret = rt_rounds();
	if (inst_destroy(ctl, RT_INSTANCE)) {
		errorf("destroy %s: %m", RT_INSTANCE);
		ret = -1;
	}
	close(ctl);
	return ret;
}

static int rt_rounds(void)
{
	unsigned int R = cfg.repeats, rep, k, t, redo, redone = 0;
	unsigned long n = cfg.rt_iters;
	double reps[NR_TP][R], blocked[NR_TP], woke[NR_TP][2];
	struct lat_buf lat[NR_TP];
	struct rt_run run;
	int ret = 0;

	memset(blocked, 0, sizeof(blocked));
	memset(woke, 0, sizeof(woke));
	memset(lat, 0, sizeof(lat));
	for (t = 0; t < NR_TP && !ret; t++) {
		if (lat_init(&lat[t], R * n)) {
			errorf("out of memory for samples");
			ret = -1;
		}
	}
	for (rep = 0; rep < R && !ret; rep++) {
		/* Rotate the order so no transport always runs first. */
		for (k = 0; k < NR_TP && !ret; k++) {
			t = (k + rep) % NR_TP;
			for (redo = 0;; redo++) {
				ret = run_pair(transports[t], cfg.rt_warmup, n,
					       lat[t].v + lat[t].n, &run);
				if (ret || run.blocked >= MIN_BLOCKED ||
				    redo == RT_REDO)
					break;
				diag("roundtrip %s: both sides slept in only "
				     "%.1f%% of the round trips of repeat %u: "
				     "run again", transports[t]->name,
				     run.blocked * 100, rep + 1);
				redone++;
			}
			if (ret)
				break;
			reps[t][rep] = run.median;
			lat[t].n += run.nlat;
			blocked[t] += run.blocked / R;
			woke[t][0] += run.woke[0] / R;
			woke[t][1] += run.woke[1] / R;
		}
	}
	for (t = 0; t < NR_TP && !ret; t++) {
		const struct transport *tp = transports[t];
		struct row r = {
			.group = "roundtrip", .transport = tp->name,
			.msg_bytes = 4, .metric = "ns_per_roundtrip",
			.unit = "ns",
		};

		if (tp->knows_wakes)
			diag("roundtrip %-10s both sides slept in %.1f%% of "
			     "round trips; WAKEs finding the peer asleep: "
			     "A->B %.1f%% B->A %.1f%%", tp->name,
			     blocked[t] * 100, woke[t][0] * 100,
			     woke[t][1] * 100);
		else
			diag("roundtrip %-10s both sides slept in %.1f%% of "
			     "round trips", tp->name, blocked[t] * 100);
		csv_row(&r, reps[t], R, &lat[t]);
	}
	/* Paired within each repeat, the ratios drift less than the times. */
	for (t = 0; t < NR_TP && !ret; t++)
		if (t != FUTEX)
			ratio_diag(reps[t], reps[FUTEX], R, t, FUTEX);
	if (!ret)
		ratio_diag(reps[WATCH], reps[EVENTFD_EPOLL], R, WATCH,
			   EVENTFD_EPOLL);
	if (!ret)
		ratio_diag(reps[INSTANCE], reps[SHMRING], R, INSTANCE, SHMRING);
	if (!ret)
		redone_row("roundtrip_redone", redone, MIN_BLOCKED * 100, "%",
			   RT_REDO);
	for (t = 0; t < NR_TP && !ret; t++) {
		if (blocked[t] < MIN_BLOCKED_FAIL) {
			errorf("roundtrip %s: only %.1f%% of round trips "
			       "blocked on both sides", transports[t]->name,
			       blocked[t] * 100);
			ret = -1;
		}
	}
	for (t = 0; t < NR_TP; t++)
		lat_free(&lat[t]);
	return ret;
}
