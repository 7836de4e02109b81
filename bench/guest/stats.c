// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics and the CSV rows of the shared format:
 *   where,cpu,kernel,group,transport,msg_bytes,metric,unit,
 *   median,p50,p99,p999,min,max,spread_pct,repeats
 * median, min and max are over repeats (a latency repeat stands for the
 * median of its operations); p50/p99/p999 are nearest-rank percentiles of
 * all per-operation samples in ns (empty without samples);
 * spread_pct = (max - min) / median * 100.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench.h"

static char cpu_model[128] = "unknown";
static char kernel[128] = "unknown";

static void read_cpu_model(void)
{
	char line[256], *p;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10))
			continue;
		p = strchr(line, ':');
		if (!p)
			break;
		p += strspn(p + 1, " \t") + 1;
		p[strcspn(p, "\n")] = '\0';
		/* A CSV field: no commas or quotes, rather than quoting. */
		for (char *q = p; *q; q++)
			if (*q == ',' || *q == '"')
				*q = ' ';
		snprintf(cpu_model, sizeof(cpu_model), "%s", p);
		break;
	}
	fclose(f);
}

void csv_begin(void)
{
	struct utsname u;

	read_cpu_model();
	if (!uname(&u))
		snprintf(kernel, sizeof(kernel), "%s", u.release);
	printf("@@shmring-bench-begin\n");
	printf("where,cpu,kernel,group,transport,msg_bytes,metric,unit,"
	       "median,p50,p99,p999,min,max,spread_pct,repeats\n");
	fflush(stdout);
}

void csv_end(void)
{
	printf("@@shmring-bench-end\n");
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

double median_of(const double *v, unsigned int n)
{
	double *s, m;

	if (!n)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		return v[0];
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

double min_of(const double *v, unsigned int n)
{
	double m = n ? v[0] : 0;

	while (n--)
		m = v[n] < m ? v[n] : m;
	return m;
}

double max_of(const double *v, unsigned int n)
{
	double m = n ? v[0] : 0;

	while (n--)
		m = v[n] > m ? v[n] : m;
	return m;
}

/* The median of a run's samples, the value one repeat stands for. */
double median_i64(const int64_t *v, size_t n)
{
	int64_t *s;
	double m;

	if (!n)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		return (double)v[0];
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_i64);
	m = n % 2 ? (double)s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
	free(s);
	return m;
}

/* Nearest rank on sorted samples. */
static int64_t pct(const int64_t *s, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1];
}

/* Fewer digits for big units: ns need none, a syscall ratio needs four. */
static const char *fmt_of(const char *unit)
{
	if (!strcmp(unit, "ns"))
		return "%.1f";
	if (!strcmp(unit, "ms"))
		return "%.3f";
	return "%.4f";
}

static void put(const char *fmt, double v)
{
	putchar(',');
	printf(fmt, v);
}

void csv_row(const struct result *r)
{
	const char *fmt = fmt_of(r->unit);
	double med, lo, hi;

	if (!r->nreps)
		return;
	med = median_of(r->reps, r->nreps);
	lo = min_of(r->reps, r->nreps);
	hi = max_of(r->reps, r->nreps);
	printf("guest,%s,%s,%s,%s,%llu,%s,%s", cpu_model, kernel, r->group,
	       r->transport, r->msg_bytes, r->metric, r->unit);
	put(fmt, med);
	if (r->samples && r->nsamples) {
		qsort(r->samples, r->nsamples, sizeof(*r->samples), cmp_i64);
		printf(",%lld,%lld,%lld",
		       (long long)pct(r->samples, r->nsamples, 0.50),
		       (long long)pct(r->samples, r->nsamples, 0.99),
		       (long long)pct(r->samples, r->nsamples, 0.999));
	} else {
		printf(",,,");
	}
	put(fmt, lo);
	put(fmt, hi);
	put("%.1f", med > 0 ? (hi - lo) / med * 100 : 0);
	printf(",%u\n", r->nreps);
	fflush(stdout);
}
