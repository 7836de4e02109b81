// SPDX-License-Identifier: GPL-2.0
/*
 * AF_UNIX socket pairs: SOCK_STREAM (bytes, like a pipe) and SOCK_SEQPACKET
 * (one message per send, kept whole). The send buffer is asked for the
 * ring's capacity (SO_SNDBUF, capped by /proc/sys/net/core/wmem_max).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdio.h"

static int run(int type, const struct cell *c, struct rep *out, char *why,
	       size_t n)
{
	int sv[2], size = (int)c->cap, got = 0;
	socklen_t len = sizeof(got);
	struct fd_ctx x;

	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)) {
		snprintf(why, n, "socketpair: %s", strerror(errno));
		return -1;
	}
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len);
	/* A datagram must fit the send buffer whole (less some overhead). */
	if (type == SOCK_SEQPACKET && (size_t)got < c->msg + 64) {
		snprintf(why, n, "message over the socket send buffer (%d "
			 "bytes; see net.core.wmem_max)", got);
		close(sv[0]);
		close(sv[1]);
		return 1;
	}
	x.wfd = sv[0];
	x.rfd = sv[1];
	return harness_run(c, &x, &fd_ops, out, why, n);
}

int tp_unix_stream(const struct cell *c, struct rep *out, char *why, size_t n)
{
	return run(SOCK_STREAM, c, out, why, n);
}

int tp_unix_seqpacket(const struct cell *c, struct rep *out, char *why,
		      size_t n)
{
	return run(SOCK_SEQPACKET, c, out, why, n);
}
