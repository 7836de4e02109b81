// SPDX-License-Identifier: GPL-2.0
/*
 * How much CPU time other processes (and the hypervisor: steal) took while
 * the benchmark ran: a busy machine spreads the numbers, and the run should
 * say so. From /proc/stat (all CPUs) less our own getrusage().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static int read_stat(double *busy, double *steal)
{
	unsigned long long v[10] = { 0 };
	double hz = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9]);
	fclose(f);
	if (n < 8)
		return -1;
	/* user nice system irq softirq; guest time is inside user already */
	*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
	*steal = (double)v[7] / hz;
	return 0;
}

static double own_secs(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

void sysload_start(struct sysload *s)
{
	s->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->ok = s->ncpu >= 1 && !read_stat(&s->busy, &s->steal);
	s->own = own_secs();
	s->wall = (double)now_ns() / 1e9;
}

/*
 * Since sysload_start(): CPU seconds busy and stolen, and the CPU seconds
 * there were (wall time times CPUs). -1 when /proc/stat cannot tell.
 */
static int since(const struct sysload *s, double *busy, double *steal,
		 double *cpu_secs)
{
	if (!s->ok || read_stat(busy, steal))
		return -1;
	*busy -= s->busy;
	*steal -= s->steal;
	*cpu_secs = ((double)now_ns() / 1e9 - s->wall) * (double)s->ncpu;
	return *cpu_secs > 0 ? 0 : -1;
}

double sysload_steal(const struct sysload *s)
{
	double busy, steal, cpu_secs;

	return since(s, &busy, &steal, &cpu_secs) ? 0 : steal / cpu_secs;
}

void sysload_report(const struct sysload *s)
{
	double busy, steal, cpu_secs, others;

	if (since(s, &busy, &steal, &cpu_secs))
		return;
	others = busy - (own_secs() - s->own);
	if (others < 0)
		others = 0;
	printf("# load: other processes used %.1f%% and the hypervisor (steal) "
	       "%.1f%% of the %ld CPUs during the run%s\n",
	       others / cpu_secs * 100, steal / cpu_secs * 100, s->ncpu,
	       others / cpu_secs > SYSLOAD_MAX ||
	       steal / cpu_secs > SYSLOAD_MAX ?
	       ": the numbers may be disturbed" : "");
}
