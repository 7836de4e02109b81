// SPDX-License-Identifier: GPL-2.0
/*
 * shmring-bench-guest [--quick] [--repeats N] [--only part,...]
 *
 * Runs the guest parts of `make bench` and prints one CSV row per
 * measurement between @@shmring-bench-begin and @@shmring-bench-end on
 * stdout; diagnostics go to stderr. Parts: roundtrip, callcost (what
 * one non-sleeping call costs: diagnostics only), scale, syscalls, epipe
 * (SIGKILL of a peer to the survivor's EPIPE), instance (create, map and
 * destroy an instance against a memfd), mapping (which reloads the
 * module, so it runs last). Exits non-zero if
 * any part failed its checks; the rows of the others are still printed.
 *
 * --quick is the smoke run of `make check`: every part, every check, few
 * iterations, two repeats, three kills per repeat for the epipe test and a
 * 16 MiB buffer for the mapping and instance tests.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct bench_cfg cfg = {
	.repeats = 5,
	.rt_iters = 10000, .rt_warmup = 1000,
	.wake_iters = 3000, .wake_warmup = 200,
	.map_bytes = 512UL << 20,
	.inst_bytes = 64UL << 20,
	.msgs = 20000, .msgs_warmup = 2000,
	.slow_work_ns = 100000, .keepup_work_ns = 2000,
	.kills = 20,
};

static const struct bench_cfg quick = {
	.quick = true,
	.repeats = 2,
	.rt_iters = 300, .rt_warmup = 50,
	.wake_iters = 50, .wake_warmup = 10,
	.map_bytes = 16UL << 20,
	.inst_bytes = 16UL << 20,
	.msgs = 1000, .msgs_warmup = 1000,
	.slow_work_ns = 100000, .keepup_work_ns = 2000,
	.kills = 3,
};

static const struct {
	const char *name;
	int (*run)(void);
} parts[] = {
	{ "roundtrip", bench_roundtrip },
	{ "callcost", bench_callcost },
	{ "scale", bench_scale },
	{ "syscalls", bench_syscalls },
	{ "epipe", bench_epipe },
	{ "instance", bench_instance },
	{ "mapping", bench_mapping },
};

#define NR_PARTS	(sizeof(parts) / sizeof(parts[0]))

static void usage(void)
{
	fprintf(stderr, "usage: shmring-bench-guest [--quick] [--repeats N] "
		"[--only roundtrip,callcost,scale,syscalls,epipe,instance,"
		"mapping]\n");
	exit(2);
}

static bool wanted(const char *only, const char *name)
{
	size_t len = strlen(name);
	const char *p = only;

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') &&
		    (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

/* Where, CPU model and kernel of every row; the rows themselves are
 * printed, not kept: what a crashed guest printed before still counts.
 */
static struct results res;

/* guest/bench.sh cuts the CSV out of the console log at these markers. */
static void csv_begin(void)
{
	results_init(&res, "guest");
	printf("@@shmring-bench-begin\n");
	results_csv_header(stdout);
	fflush(stdout);
}

static void csv_end(void)
{
	printf("@@shmring-bench-end\n");
	fflush(stdout);
}

void csv_row(const struct row *r, const double *reps, unsigned int nreps,
	     struct lat_buf *lat)
{
	double v[nreps ? nreps : 1];
	struct row w = *r;

	if (!nreps)
		return;
	/* A copy: the callers pair the repeats up afterwards. */
	memcpy(v, reps, nreps * sizeof(*v));
	row_summarize(&w, v, (int)nreps, lat);
	results_csv_row(stdout, &res, &w);
	fflush(stdout);
}

static void value_row(const char *group, const char *transport,
		      const char *metric, const char *unit, double v)
{
	struct row r = row_of_value(group, transport, metric, unit, v);

	results_csv_row(stdout, &res, &r);
	fflush(stdout);
}

/*
 * For the report: how many runs the host's hiccups cost a part, and the
 * rule that ran them again, so that the report states it from here.
 */
void redone_row(const char *what, unsigned int n, double limit,
		const char *unit, unsigned int redo_max)
{
	value_row("machine", what, "runs", "runs", n);
	value_row("rule", what, "limit", unit, limit);
	value_row("rule", what, "redo_max", "runs", redo_max);
}

/* What the numbers rest on: the clock and what one read of it costs. */
static void describe_clock(void)
{
	char cs[64] = "?";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/"
			"current_clocksource", "r");
	int64_t t0, t1;
	int i;

	if (f) {
		if (fgets(cs, sizeof(cs), f))
			cs[strcspn(cs, "\n")] = '\0';
		fclose(f);
	}
	t0 = now_ns();
	for (i = 0; i < 1000; i++)
		now_ns();
	t1 = now_ns();
	diag("clocksource %s, %.0f ns per clock read", cs, (t1 - t0) / 1000.0);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	unsigned int repeats = 0, i;
	int failed = 0, a;
	int64_t t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick"))
			cfg = quick;
		else if (!strcmp(argv[a], "--repeats") && a + 1 < argc)
			repeats = (unsigned int)atoi(argv[++a]);
		else if (!strcmp(argv[a], "--only") && a + 1 < argc)
			only = argv[++a];
		else
			usage();
	}
	if (repeats)
		cfg.repeats = repeats;
	if (!cfg.repeats)
		usage();

	describe_clock();
	csv_begin();
	for (i = 0; i < NR_PARTS; i++) {
		if (!wanted(only, parts[i].name))
			continue;
		t0 = now_ns();
		if (parts[i].run()) {
			errorf("part %s failed", parts[i].name);
			failed = 1;
		}
		diag("part %s took %.1f s", parts[i].name,
		     (now_ns() - t0) / 1e9);
	}
	csv_end();
	return failed;
}
