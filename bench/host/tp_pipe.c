// SPDX-License-Identifier: GPL-2.0
/*
 * A pipe, its buffer set to the ring's capacity (F_SETPIPE_SZ), so that it
 * buffers as much as the shmring ring it is compared with; where that is
 * over /proc/sys/fs/pipe-max-size (1 MiB by default) and we may not exceed
 * it (CAP_SYS_RESOURCE), to pipe-max-size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

int tp_pipe(const struct cell *c, struct rep *out, char *why, size_t n)
{
	struct fd_ctx x;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(why, n, "pipe: %s", strerror(errno));
		return -1;
	}
	if (fcntl(fds[1], F_SETPIPE_SZ, (int)c->cap) < 0) {
		FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
		int max = 0;

		if (f) {
			if (fscanf(f, "%d", &max) != 1)
				max = 0;
			fclose(f);
		}
		/* Best effort: the default (64 KiB) otherwise. */
		if (max > 0 && (size_t)max < c->cap)
			fcntl(fds[1], F_SETPIPE_SZ, max);
	}
	x.rfd = fds[0];
	x.wfd = fds[1];
	return harness_run(c, &x, &fd_ops, out, why, n);
}
