/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Benchmark statistics and result files, shared by the host half
 * (bench/host) and the guest half (bench/guest) of `make bench`.
 *
 * Result format. Each half has one CSV file and one JSON file with the
 * same rows (the guest prints its CSV to the console; bench/report.py
 * writes its JSON). The CSV starts with exactly this header line (one line,
 * broken here to fit):
 *
 *   where,cpu,kernel,group,transport,msg_bytes,metric,unit,median,p50,
 *   p99,p999,min,max,spread_pct,repeats,values
 *
 * and has one row per measurement:
 *   where       host | guest
 *   cpu         the "model name" of /proc/cpuinfo (commas and quotes become
 *               spaces, so no CSV field is ever quoted)
 *   kernel      uname -r
 *   group       throughput | roundtrip | syscalls | scale | mapping |
 *               epipe (SIGKILL of a producer to its consumer's EPIPE) |
 *               icount (bench/icount/run.sh) | machine (what the machine
 *               did: cache-line probes, runs made again) | rule (for each
 *               machine row of runs made again, its "limit" and "redo_max")
 *   transport   e.g. shmring_copy, shmring_zc, bare_ring, shmring_mpmc, pipe,
 *               unix_stream, unix_seqpacket, posix_mq, memcpy, memcpy_raw;
 *               a variant of a run follows a colon (shmring_zc:slow_100us);
 *               group roundtrip: shmring, futex, eventfd, pipe, socketpair,
 *               watch_epoll, eventfd_epoll (each side sleeps in epoll_wait
 *               on a watch fd, on an eventfd); group epipe: shmring, and
 *               liveness_slice, SHMRING_LIVENESS_NS in every repeat (not a
 *               measurement: the old library's sleep between checks)
 *   msg_bytes   message size in bytes (group scale: number of waiters;
 *               group mapping: bytes mapped; group epipe: 0)
 *   metric      MB_per_s (10^6 payload bytes/s), msgs_per_s,
 *               ns_per_roundtrip, ns_per_wake, ms_map_touch,
 *               syscalls_per_msg, ns_kill_to_epipe; or "skipped" (see
 *               below)
 *   unit        the unit of median/min/max (MB/s, msg/s, ns, ms, syscalls)
 *   median, min, max   over the repeats
 *   p50, p99, p999     per-message latency percentiles in ns over the
 *               samples of all repeats; empty where not measured
 *   spread_pct  (max - min) / median * 100
 *   repeats     number of repeats the median is taken over
 *   values      the repeats in the order they ran, joined by ';'; the
 *               first 64 where there are more (the cacheline row, a probe
 *               before every repeat of every cell)
 *
 * A measurement that was not made gets one row with metric "skipped", the
 * reason in unit (no commas), the numeric fields empty and repeats 0.
 *
 * The JSON file is an array of objects with the same keys; empty fields are
 * null, numbers are numbers.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_MAX_REPEATS	64

#define STATS_CSV_HEADER "where,cpu,kernel,group,transport,msg_bytes," \
	"metric,unit,median,p50,p99,p999,min,max,spread_pct,repeats,values"

/* Per-message latency samples, in ns; a full buffer drops new samples. */
struct lat_buf {
	uint64_t *v;
	size_t n, cap;
	size_t dropped;
};

int lat_init(struct lat_buf *b, size_t cap);
void lat_free(struct lat_buf *b);
static inline void lat_add(struct lat_buf *b, uint64_t ns)
{
	if (b->n < b->cap)
		b->v[b->n++] = ns;
	else
		b->dropped++;
}
/* Appends @src to @dst, growing it. */
int lat_append(struct lat_buf *dst, const struct lat_buf *src);
/* Sorts the samples and returns the @q quantile (0..1), nearest rank. */
uint64_t lat_quantile(struct lat_buf *b, double q);
/* Sorts @n samples and returns their median (0 for none): what one run of
 * many timed operations stands for when outliers would rule a mean.
 */
double stats_median_u64(uint64_t *v, size_t n);

/* Median, min, max and spread of @n values (n >= 1); @v is sorted. */
struct summary {
	double median, min, max, spread_pct;
	int n;
};
void stats_summary(double *v, int n, struct summary *s);

struct row {
	const char *group;
	const char *transport;
	uint64_t msg_bytes;
	const char *metric;
	const char *unit;
	struct summary s;	/* s.n == 0: a "skipped" row */
	int has_lat;
	uint64_t p50, p99, p999;
	/* the repeats in the order they ran, so that a report can pair the
	 * repeats of two rows measured in the same round
	 */
	double values[STATS_MAX_REPEATS];
};

/* Fills @row->s from the @n repeats in @v (sorted in place), @row->values
 * from the first STATS_MAX_REPEATS of them, and the percentiles from @lat
 * (may be NULL or empty: none).
 */
void row_summarize(struct row *row, double *v, int n, struct lat_buf *lat);
/* A row of the one value @v, msg_bytes 0: what the machine did, a rule. */
struct row row_of_value(const char *group, const char *transport,
			const char *metric, const char *unit, double v);

struct results {
	char where[16];
	char cpu[128];
	char kernel[128];
	struct row *rows;	/* copies, strings owned */
	size_t n, cap;
};

/* Fills where, cpu model and kernel release. */
void results_init(struct results *r, const char *where);
int results_add(struct results *r, const struct row *row);
/* Adds a "skipped" row with @reason (commas are replaced). */
int results_skip(struct results *r, const char *group, const char *transport,
		 uint64_t msg_bytes, const char *reason);
/* The CSV header line and one row of @r's part, for a part that prints its
 * rows as it goes (the guest's come back over a serial console); the
 * strings of @w must be clean already (no commas or quotes).
 */
void results_csv_header(FILE *f);
void results_csv_row(FILE *f, const struct results *r, const struct row *w);
/* Writes the CSV and the JSON file (either path may be NULL). */
int results_write(const struct results *r, const char *csv_path,
		  const char *json_path);
void results_free(struct results *r);

#endif /* BENCH_STATS_H */
