/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The clock and CPU pinning, shared by the host half (bench/host) and the
 * guest half (bench/guest) of `make bench`.
 */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H

#include <stdint.h>
#include <time.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Pins the calling thread to @cpu (< 0: leaves it be); 0 or -errno. */
int pin_cpu(int cpu);

#endif /* BENCH_CPU_H */
