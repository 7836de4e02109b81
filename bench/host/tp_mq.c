// SPDX-License-Identifier: GPL-2.0
/*
 * A POSIX message queue: one mq_send() and one mq_receive() per message,
 * queue depth /proc/sys/fs/mqueue/msg_max (the system's limit, 10 by
 * default), a zero-length message as end-of-file.
 *
 * Messages larger than /proc/sys/fs/mqueue/msgsize_max (8 KiB by default):
 * as root the limit is raised for the run and put back right after (also
 * on a fatal signal, see tp_mq_restore()); otherwise the size is skipped.
 * RLIMIT_MSGQUEUE is raised to what the queue needs if it can be (up to
 * the hard limit without CAP_SYS_RESOURCE); otherwise the queue is made
 * shallower, and the size is skipped if not even one message fits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "payload.h"

#define MSGSIZE_MAX	"/proc/sys/fs/mqueue/msgsize_max"
#define MSG_MAX		"/proc/sys/fs/mqueue/msg_max"

/* The value to put back into MSGSIZE_MAX, "" when nothing is raised. */
static char saved[32];

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = -1;
	size_t len = strlen(s);

	if (fd >= 0) {
		ret = write(fd, s, len) == (ssize_t)len ? 0 : -1;
		close(fd);
	}
	return ret;
}

/* Async-signal-safe: open, write, close. */
void tp_mq_restore(void)
{
	if (saved[0]) {
		write_str(MSGSIZE_MAX, saved);
		saved[0] = 0;
	}
}

/* Make room for @msg-byte messages; 0, or 1 (skip) with the reason. */
static int raise_msgsize(size_t msg, char *why, size_t n)
{
	long cur = read_long(MSGSIZE_MAX);
	char val[32];

	if (cur < 0) {
		snprintf(why, n, "no %s", MSGSIZE_MAX);
		return 1;
	}
	if ((size_t)cur >= msg)
		return 0;
	if (geteuid()) {
		snprintf(why, n, "msgsize_max %ld < %zu and not root", cur, msg);
		return 1;
	}
	snprintf(saved, sizeof(saved), "%ld\n", cur);
	snprintf(val, sizeof(val), "%zu\n", msg);
	if (write_str(MSGSIZE_MAX, val)) {
		saved[0] = 0;
		snprintf(why, n, "msgsize_max %ld < %zu and cannot raise it: %s",
			 cur, msg, strerror(errno));
		return 1;
	}
	return 0;
}

/* What the kernel charges to RLIMIT_MSGQUEUE for a queue: the payload and
 * some bookkeeping per message (rounded up here).
 */
static rlim_t mq_bytes(long depth, size_t msg)
{
	return (rlim_t)depth * (msg + 128) + 4096;
}

/*
 * RLIMIT_MSGQUEUE for a queue of *@depth messages of @msg bytes: the soft
 * limit is raised up to the hard one (raising that needs CAP_SYS_RESOURCE);
 * if the queue still does not fit, *@depth shrinks. 1 (skip) if not even one
 * message fits.
 */
static int fit_rlimit(long *depth, size_t msg, char *why, size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MSGQUEUE, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= mq_bytes(*depth, msg))
		return 0;
	rl.rlim_cur = mq_bytes(*depth, msg);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur) {
		rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_MSGQUEUE, &rl)) {
			/* No CAP_SYS_RESOURCE: what the hard limit allows. */
			getrlimit(RLIMIT_MSGQUEUE, &rl);
			rl.rlim_cur = rl.rlim_max;
			while (*depth > 0 && mq_bytes(*depth, msg) > rl.rlim_max)
				(*depth)--;
		}
	}
	if (*depth < 1) {
		snprintf(why, n, "one message over RLIMIT_MSGQUEUE (hard "
			 "limit %llu bytes; raising it needs CAP_SYS_RESOURCE)",
			 (unsigned long long)rl.rlim_max);
		return 1;
	}
	if (setrlimit(RLIMIT_MSGQUEUE, &rl)) {
		snprintf(why, n, "setrlimit(RLIMIT_MSGQUEUE): %s",
			 strerror(errno));
		return 1;
	}
	return 0;
}

static int mq_setup(struct worker *w)
{
	w->priv = aligned_alloc(64, w->job->c->msg);
	if (!w->priv)
		return worker_fail(w, "out of memory");
	memset(w->priv, 0, w->job->c->msg);
	return 0;
}

static void mq_teardown(struct worker *w)
{
	free(w->priv);
	w->priv = NULL;
}

static int mq_prod(struct worker *w)
{
	mqd_t q = *(mqd_t *)w->job->ctx;
	const struct cell *c = w->job->c;
	uint64_t seq;
	int ret = 0;

	for (seq = 0; seq < w->n; seq++) {
		msg_fill(w->priv, c->msg, msg_id(w->idx, seq), 0);
		msg_set_stamp(w->priv, c, seq);
		if (mq_send(q, w->priv, c->msg, 0)) {
			ret = worker_fail(w, "mq_send: %s", strerror(errno));
			break;
		}
		producer_sent(w, NULL);
		if (job_aborted(w->job))
			break;
	}
	/* End-of-file; a consumer that failed drains until it. */
	if (mq_send(q, w->priv, 0, 0))
		ret = worker_fail(w, "mq_send: %s", strerror(errno));
	return ret;
}

static int mq_cons(struct worker *w)
{
	mqd_t q = *(mqd_t *)w->job->ctx;
	const struct cell *c = w->job->c;
	bool failed = false;
	ssize_t n;

	for (;;) {
		n = mq_receive(q, w->priv, c->msg, NULL);
		if (!n)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return worker_fail(w, "mq_receive: %s", strerror(errno));
		/* After a failure keep draining so the producer ends. */
		if (failed)
			continue;
		if (msg_take(w, w->priv, (size_t)n)) {
			failed = true;
			continue;
		}
		consumer_took(w, NULL);
	}
	consumer_done(w);
	return failed ? -1 : 0;
}

int tp_posix_mq(const struct cell *c, struct rep *out, char *why, size_t n)
{
	static const struct tp_ops ops = {
		mq_setup, mq_prod, mq_cons, mq_teardown,
	};
	long depth = read_long(MSG_MAX);
	struct mq_attr attr = { 0 };
	char name[64];
	mqd_t q;
	int ret;

	if (depth < 1)
		depth = 10;
	ret = raise_msgsize(c->msg, why, n);
	if (!ret)
		ret = fit_rlimit(&depth, c->msg, why, n);
	if (ret) {
		tp_mq_restore();
		return ret;
	}
	attr.mq_maxmsg = depth;
	attr.mq_msgsize = (long)c->msg;
	snprintf(name, sizeof(name), "/shmring-bench.%d", (int)getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
	if (q == (mqd_t)-1) {
		snprintf(why, n, "mq_open(depth %ld, %zu bytes): %s", depth,
			 c->msg, strerror(errno));
		tp_mq_restore();
		return errno == EINVAL || errno == EMFILE ? 1 : -1;
	}
	mq_unlink(name);
	ret = harness_run(c, &q, &ops, out, why, n);
	mq_close(q);
	tp_mq_restore();
	return ret;
}
