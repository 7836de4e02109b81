// SPDX-License-Identifier: GPL-2.0
/* Message passing over a pipe or a socket pair: see fdio.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "payload.h"

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1: a message, 0: end-of-file before it, -1: error (errno set). */
static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n) {
			errno = EPIPE;
			return got ? -1 : 0;
		}
		got += (size_t)n;
	}
	return 1;
}

static int fd_setup(struct worker *w)
{
	w->priv = aligned_alloc(64, w->job->c->msg);
	if (!w->priv)
		return worker_fail(w, "out of memory");
	memset(w->priv, 0, w->job->c->msg);
	return 0;
}

static int fd_prod(struct worker *w)
{
	struct fd_ctx *x = w->job->ctx;
	const struct cell *c = w->job->c;
	uint64_t seq;

	for (seq = 0; seq < w->n; seq++) {
		msg_fill(w->priv, c->msg, msg_id(w->idx, seq), 0);
		msg_set_stamp(w->priv, c, seq);
		if (write_full(x->wfd, w->priv, c->msg))
			return worker_fail(w, "write: %s", strerror(errno));
		producer_sent(w, NULL);
		if (job_aborted(w->job))
			break;
	}
	return 0;
}

static int fd_cons(struct worker *w)
{
	struct fd_ctx *x = w->job->ctx;
	const struct cell *c = w->job->c;
	int ret;

	for (;;) {
		ret = read_full(x->rfd, w->priv, c->msg);
		if (!ret)
			break;
		if (ret < 0)
			return worker_fail(w, "read: %s", strerror(errno));
		if (msg_take(w, w->priv, c->msg))
			return -1;
		consumer_took(w, NULL);
	}
	consumer_done(w);
	return 0;
}

static void fd_teardown(struct worker *w)
{
	struct fd_ctx *x = w->job->ctx;

	/* The writer's close is the reader's end-of-file; the reader's close
	 * fails the writer with EPIPE (SIGPIPE is ignored).
	 */
	if (w->role == 0)
		close(x->wfd);
	else
		close(x->rfd);
	free(w->priv);
	w->priv = NULL;
}

const struct tp_ops fd_ops = { fd_setup, fd_prod, fd_cons, fd_teardown };
