/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transports over a pair of file descriptors (pipe, socketpair): one
 * write() per message from a private buffer the producer fills, one read()
 * per message into a private buffer the consumer checks, as a program that
 * passes messages would do (no coalescing of several messages per call).
 * A short write or read is continued.
 */
#ifndef BENCH_FDIO_H
#define BENCH_FDIO_H

#include "bench.h"

struct fd_ctx {
	int wfd, rfd;		/* the producer writes wfd, the consumer reads rfd */
};

/* The tp_ops for a struct fd_ctx; each side closes its own end at the end. */
extern const struct tp_ops fd_ops;

#endif /* BENCH_FDIO_H */
