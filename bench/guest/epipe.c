// SPDX-License-Identifier: GPL-2.0
/*
 * How soon a survivor learns of a dead peer: a producer (CPU A) attaches to
 * a libshmring message channel on /dev/shmring and pauses; the consumer
 * (CPU B) attaches and blocks in shmring_msg_recv() with no timeout on the
 * empty ring. Once INFO counts a task in WAIT and /proc says the consumer
 * sleeps, the bench process (CPU A) notes the time and SIGKILLs the
 * producer; the consumer notes when recv returned -EPIPE. The kernel's
 * release actions (module ABI 2, events.c of libshmring) should tell it in
 * the time of a wake-up, where the old library found out only after its
 * sleep of up to SHMRING_LIVENESS_NS ran out.
 *
 * Before it sleeps the consumer checks that the kernel tells of the
 * producer's end (shmring_channel_peers(): kernel), and afterwards counts
 * the liveness slices that ran out whole: an EPIPE that only a slice found
 * shows there.
 *
 * Each repeat kills cfg.kills producers, each pair forked afresh, and
 * stands for the median of them. The rows: epipe/shmring, the time from
 * kill(2) to recv's return, and epipe/liveness_slice, the constant
 * SHMRING_LIVENESS_NS once per repeat, so that the report divides the two
 * repeat by repeat as it does measured pairs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmring.h>

#include "bench.h"

#define EPIPE_NAME	"bench-epipe"
#define EPIPE_CAPACITY	4096U
#define EPIPE_ALARM_S	300
/* How long the bench process waits for a child to get ready or asleep. */
#define POLL_LIMIT_NS	(30LL * 1000000000LL)
#define POLL_US		100

/* What the children tell the bench process, in shared memory. */
struct kill_sync {
	_Atomic int ready[2];		/* producer, consumer attached */
	_Atomic int64_t t_kill;		/* just before kill(2) */
	int64_t t_epipe;		/* recv returned -EPIPE */
	uint64_t timeouts;		/* whole liveness slices the consumer slept */
};

static int open_channel(int role, struct shmring **sh,
			struct shmring_channel **ch)
{
	struct shmring_channel_attr attr = {
		.kind = SHMRING_MSG, .capacity = EPIPE_CAPACITY,
	};

	if (shmring_open(NULL, sh)) {
		errorf("shmring_open: %m");
		return -1;
	}
	if (shmring_channel_open(*sh, EPIPE_NAME, role, SHMRING_CREATE, &attr,
				 ch)) {
		errorf("shmring_channel_open(%s): %m", EPIPE_NAME);
		shmring_close(*sh);
		return -1;
	}
	return 0;
}

/* Attaches, says so, and waits for its SIGKILL. */
static int producer(struct kill_sync *sy)
{
	struct shmring_channel *ch;
	struct shmring *sh;

	if (pin_self(CPU_A) || open_channel(SHMRING_PRODUCER, &sh, &ch))
		return -1;
	atomic_store(&sy->ready[0], 1);
	for (;;)
		pause();
}

/* Whether the kernel tells of the producer's end; -1 on error. */
static int producer_told(struct shmring *sh)
{
	struct shmring_peerinfo p[2];
	int n, i;

	n = shmring_channel_peers(sh, EPIPE_NAME, p, 2);
	if (n < 0) {
		errorf("shmring_channel_peers: %m");
		return -1;
	}
	for (i = 0; i < n && i < 2; i++)
		if (p[i].role == SHMRING_PRODUCER)
			return p[i].kernel == 1;
	errorf("no producer on %s", EPIPE_NAME);
	return -1;
}

static int consumer(struct kill_sync *sy)
{
	struct shmring_channel *ch;
	struct shmring_stats st;
	struct shmring *sh;
	char buf[64];
	ssize_t n;
	int ret = 0;

	if (pin_self(CPU_B) || open_channel(SHMRING_CONSUMER, &sh, &ch))
		return -1;
	switch (producer_told(sh)) {
	case 1:
		break;
	case 0:
		errorf("the kernel does not tell of the producer's end: "
		       "a module without release actions?");
		/* fall through */
	default:
		ret = -1;
		goto out;
	}
	atomic_store(&sy->ready[1], 1);
	n = shmring_msg_recv(ch, buf, sizeof(buf), -1);
	sy->t_epipe = now_ns();
	if (n != -EPIPE) {
		errorf("recv after the producer's SIGKILL returned %zd%s%s",
		       n, n < 0 ? ": " : "", n < 0 ? strerror((int)-n) : "");
		ret = -1;
	}
	if (!shmring_channel_stats(ch, &st))
		sy->timeouts = st.timeouts;
out:
	/* The last survivor: this resets the channel for the next pair. */
	if (shmring_channel_close(ch)) {
		errorf("shmring_channel_close: %m");
		ret = -1;
	}
	shmring_close(sh);
	return ret;
}

static int fork_side(int (*fn)(struct kill_sync *), struct kill_sync *sy)
{
	int pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		errorf("fork: %m");
		return -1;
	}
	if (!pid) {
		alarm(EPIPE_ALARM_S);
		_exit(fn(sy) ? 1 : 0);
	}
	return pid;
}

/* The state letter of /proc/<pid>/stat ('S': asleep), or 0. */
static char proc_state(int pid)
{
	char path[32], buf[512], *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

enum cond { PRODUCER_READY, CONSUMER_READY, CONSUMER_ASLEEP };

static const char *const cond_name[] = {
	"attached", "attached", "asleep in WAIT",
};

static bool reached(struct kill_sync *sy, enum cond c, int devfd, int pid)
{
	switch (c) {
	case PRODUCER_READY:
		return atomic_load(&sy->ready[0]);
	case CONSUMER_READY:
		return atomic_load(&sy->ready[1]);
	case CONSUMER_ASLEEP:
		return dev_nr_waiters(devfd) >= 1 && proc_state(pid) == 'S';
	}
	return false;
}

/*
 * Polls until @c holds for the child *@pid (@who). -1 if the child ended
 * first (then reaped: *@pid = -1) or after POLL_LIMIT_NS.
 */
static int poll_until(struct kill_sync *sy, enum cond c, int devfd, int *pid,
		      const char *who)
{
	int64_t end = now_ns() + POLL_LIMIT_NS;
	int status;

	while (!reached(sy, c, devfd, *pid)) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			errorf("the %s ended (status 0x%x) before it was %s",
			       who, (unsigned int)status, cond_name[c]);
			*pid = -1;
			return -1;
		}
		if (now_ns() > end) {
			errorf("the %s was not %s after %lld s", who,
			       cond_name[c], POLL_LIMIT_NS / 1000000000LL);
			return -1;
		}
		usleep(POLL_US);
	}
	return 0;
}

static void finish(int pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* The producer must have died of our SIGKILL and nothing else. */
static int reap_killed(int pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			errorf("waitpid(producer): %m");
			return -1;
		}
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 0;
	errorf("the producer ended with status 0x%x, not by SIGKILL",
	       (unsigned int)status);
	return -1;
}

/* One pair: the time from kill(2) to EPIPE into *@ns. */
static int run_kill(int devfd, struct kill_sync *sy, uint64_t *ns,
		    uint64_t *timeouts)
{
	int prod, cons = -1, ret = -1;

	memset(sy, 0, sizeof(*sy));
	prod = fork_side(producer, sy);
	if (prod < 0 ||
	    poll_until(sy, PRODUCER_READY, devfd, &prod, "producer"))
		goto out;
	cons = fork_side(consumer, sy);
	if (cons < 0 ||
	    poll_until(sy, CONSUMER_READY, devfd, &cons, "consumer") ||
	    poll_until(sy, CONSUMER_ASLEEP, devfd, &cons, "consumer"))
		goto out;
	atomic_store(&sy->t_kill, now_ns());
	if (kill(prod, SIGKILL)) {
		errorf("kill(producer): %m");
		goto out;
	}
	ret = reap_killed(prod);
	prod = -1;
	if (wait_child(cons, "epipe consumer"))
		ret = -1;
	cons = -1;
	if (!ret) {
		*ns = (uint64_t)(sy->t_epipe - atomic_load(&sy->t_kill));
		*timeouts += sy->timeouts;
	}
out:
	finish(cons);
	finish(prod);
	return ret;
}

static int epipe_child(void)
{
	unsigned int R = cfg.repeats, rep;
	unsigned long K = cfg.kills, k;
	double reps[R], slice[R];
	uint64_t one[K ? K : 1], timeouts = 0;
	struct kill_sync *sy;
	struct lat_buf lat;
	int devfd, ret = 0;

	if (!K)
		return 0;
	/* The killer shares CPU A with the producer, which sleeps. */
	if (pin_self(CPU_A))
		return -1;
	if (reformat_device())
		return -1;
	/* For INFO's nr_waiters only. */
	devfd = open(SHMRING_DEVICE, O_RDONLY | O_CLOEXEC);
	if (devfd < 0) {
		errorf("open %s: %m", SHMRING_DEVICE);
		return -1;
	}
	sy = shared_alloc(sizeof(*sy));
	if (!sy || lat_init(&lat, R * K)) {
		errorf("out of memory");
		close(devfd);
		shared_free(sy, sizeof(*sy));
		return -1;
	}
	for (rep = 0; rep < R && !ret; rep++) {
		for (k = 0; k < K && !ret; k++) {
			ret = run_kill(devfd, sy, &one[k], &timeouts);
			if (!ret)
				lat_add(&lat, one[k]);
		}
		if (ret)
			break;
		reps[rep] = stats_median_u64(one, K);
		slice[rep] = (double)SHMRING_LIVENESS_NS;
		diag("epipe repeat %u: SIGKILL to EPIPE median %.0f ns over "
		     "%lu kills, %.5f of the %lld ms liveness slice", rep + 1,
		     reps[rep], K, reps[rep] / (double)SHMRING_LIVENESS_NS,
		     SHMRING_LIVENESS_NS / 1000000LL);
	}
	close(devfd);
	shared_free(sy, sizeof(*sy));
	if (!ret) {
		struct row r = {
			.group = "epipe", .transport = "shmring",
			.msg_bytes = 0, .metric = "ns_kill_to_epipe",
			.unit = "ns",
		};

		if (timeouts)
			diag("epipe: the consumers slept %llu whole liveness "
			     "slices: those EPIPEs came from the slice, not "
			     "from the kernel", (unsigned long long)timeouts);
		csv_row(&r, reps, R, &lat);
		r.transport = "liveness_slice";
		csv_row(&r, slice, R, NULL);
	}
	lat_free(&lat);
	return ret;
}

/* In a child: pinned to CPU A, with a watchdog on every pair. */
int bench_epipe(void)
{
	return run_in_child(epipe_child, "epipe test");
}
