// SPDX-License-Identifier: GPL-2.0
/*
 * shmring-bench-host: one-way throughput of libshmring against a pipe, unix
 * sockets, a POSIX message queue and memcpy, at 64 B, 4 KiB, 64 KiB and
 * 1 MiB messages, and the WAIT/WAKE calls shmring makes per message.
 *
 *   shmring-bench-host [--quick] [--csv FILE] [--json FILE] [--repeats N]
 *                      [--secs S] [--only T,T..] [--sizes N,N..]
 *                      [--cpus P,C] [--no-scenarios]
 *
 * Producers run on CPU P (default: the first CPU we may use), consumers on
 * CPU C (the second). Every cell is run once to warm up and calibrate (its
 * rate gives the message count for a window of about --secs seconds), then
 * --repeats times (default 7); the rows carry the median, min, max and
 * spread over the repeats, and latency percentiles over all of them.
 * --quick is the smoke run: small fixed counts, 2 repeats, a few seconds.
 * Every message is checked either way; any mismatch or error makes the exit
 * status 1 (2 for bad usage, 3 for the watchdog).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct config cfg = { .cpu_prod = -1, .cpu_cons = -1 };

typedef int (*run_fn)(const struct cell *c, struct rep *out, char *why,
		      size_t n);

struct tp {
	const char *name;
	run_fn run;
	int nprod, ncons;
	bool shmring;		/* has WAIT/WAKE counts */
};

static const struct tp tps[] = {
	{ "shmring_copy", tp_shmring_copy, 1, 1, true },
	{ "shmring_zc", tp_shmring_zc, 1, 1, true },
	{ "bare_ring", tp_bare_ring, 1, 1, false },
	{ "shmring_mpmc", tp_shmring_mpmc, 2, 2, true },
	{ "pipe", tp_pipe, 1, 1, false },
	{ "unix_stream", tp_unix_stream, 1, 1, false },
	{ "unix_seqpacket", tp_unix_seqpacket, 1, 1, false },
	{ "posix_mq", tp_posix_mq, 1, 1, false },
	{ "memcpy", tp_memcpy, 1, 0, false },
	{ "memcpy_raw", tp_memcpy_raw, 1, 0, false },
};
#define NTPS (sizeof(tps) / sizeof(tps[0]))

static const size_t default_sizes[] = { 64, 4096, 65536, 1048576 };

/* Syscall scenarios, at 64 B, for both SPSC APIs. */
struct scenario {
	const char *suffix;
	int64_t prod_delay_ns, cons_delay_ns;
	uint64_t meas;		/* full run; quick takes a tenth */
};

static const struct scenario scenarios[] = {
	/* The producer paces itself at 200 ns a message: the consumer keeps
	 * up, and with zero-copy batches of 64 the ring is never idle longer
	 * than the library spins (30 us) before a WAIT.
	 */
	{ "keepup", 200, 0, 50000 },
	/* the consumer is slower, within the library's spin before WAIT */
	{ "slow_5us", 0, 5000, 20000 },
	/* the consumer is much slower: the producer sleeps on a full ring */
	{ "slow_100us", 0, 100000, 2000 },
	/* the producer is slower than the spin: the consumer sleeps between
	 * messages (or batches), as an idle consumer should
	 */
	{ "paced_50us", 50000, 0, 2000 },
};

static struct {
	int repeats;
	double secs;
	const char *csv, *json;
	char only[512];
	size_t sizes[16];
	int nsizes;
	bool scenarios;
} opt = { .repeats = 7, .secs = 0.2, .scenarios = true };

static struct results res;
static int failures;

/* ---- watchdog: a repeat that hangs ends the run ---- */

static char current[96];

static void on_fatal(int sig)
{
	static const char msg[] = "shmring-bench-host: watchdog or signal "
				  "during ";

	tp_mq_restore();
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		sig = SIGALRM;
	_exit(sig == SIGALRM ? 3 : 128 + sig);
}

/* ---- cells ---- */

/*
 * Rings of 4 MiB, over the L2 of most x86 cores (512 KiB to 2 MiB): lines
 * the producer wrote then mostly reach the consumer from the shared L3,
 * instead of through a snoop of the producer's L2 for each line (4 KiB
 * zero-copy on an EPYC with 512 KiB of L2, medians of six interleaved
 * pairs: 13.5 GB/s through 256 KiB, 19 GB/s through 4 MiB). The pipe,
 * socket and memcpy get the same size.
 */
static size_t ring_cap(size_t msg)
{
	size_t cap = 4 << 20;

	while (cap < 4 * msg)
		cap *= 2;
	return cap;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Warm-up covers the ring a few times (pages faulted, caches warm). */
static void set_counts(struct cell *c, uint64_t meas)
{
	uint64_t ring_msgs = c->cap / (c->msg + 8) + 1;

	c->meas = meas;
	c->warm = clamp_u64(meas / 10, 2 * ring_msgs, UINT64_MAX);
	if (c->warm < 16)
		c->warm = 16;
	c->tail = clamp_u64(meas / 50, 16, UINT64_MAX);
}

static void cell_init(struct cell *c, const struct tp *tp, size_t msg)
{
	memset(c, 0, sizeof(*c));
	c->transport = tp->name;
	c->msg = msg;
	c->cap = ring_cap(msg);
	/* zero-copy batches of about 16 KiB, at most 64 messages */
	c->batch = (unsigned int)clamp_u64(16384 / msg, 1, 64);
	/* one latency sample per 64 KiB moved: the two clock reads cost
	 * well under 1% of the message time
	 */
	c->stride = (uint32_t)clamp_u64(65536 / msg, 1, 1 << 20);
	c->nprod = tp->nprod;
	c->ncons = tp->ncons;
	if (cfg.quick)
		set_counts(c, clamp_u64((4 << 20) / msg, 64, 20000));
	else
		set_counts(c, clamp_u64((64 << 20) / msg, 1000, 200000));
}

static int run_once(const struct tp *tp, const struct cell *c,
		    struct rep *r, char *why, size_t n)
{
	int ret;

	snprintf(current, sizeof(current), "%s at %zu bytes", c->transport,
		 c->msg);
	alarm(cfg.quick ? 30 : 300);
	ret = tp->run(c, r, why, n);
	alarm(0);
	return ret;
}

static void add_row(const struct row *row)
{
	if (results_add(&res, row)) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
}

static void emit(const char *group, const struct cell *c, const char *metric,
		 const char *unit, double *v, int n, struct lat_buf *lat)
{
	struct row row = {
		.group = group, .transport = c->transport,
		.msg_bytes = c->msg, .metric = metric, .unit = unit,
	};

	row_summarize(&row, v, n, lat);
	add_row(&row);
}

/* One cell through the run: its calibration, its repeats, its rows. */
struct cell_run {
	const struct tp *tp;
	struct cell c;
	char name[48];
	const char *group;	/* throughput rows; NULL: syscall rows only */
	bool calibrate;
	int state;		/* 0 running, 1 skipped, -1 failed */
	char why[256];
	int n, nsc;
	double mbs[64], mps[64], scs[64], cpu[64];
	double probe[64];	/* cache-line round trip before each repeat */
	struct lat_buf lat;
};

static struct cell_run *cells;
static size_t ncells, capcells;

/* A cache-line round trip between the CPUs before each repeat (c2c.c). */
static double *c2c;
static int nc2c;

static struct cell_run *cell_add(const struct tp *tp, size_t msg,
				 const char *group, bool calibrate)
{
	struct cell_run *cr;

	if (ncells == capcells) {
		capcells = capcells ? 2 * capcells : 64;
		cells = realloc(cells, capcells * sizeof(*cells));
		if (!cells) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	cr = &cells[ncells++];
	memset(cr, 0, sizeof(*cr));
	cr->tp = tp;
	cell_init(&cr->c, tp, msg);
	cr->group = group;
	cr->calibrate = calibrate;
	lat_init(&cr->lat, 0);
	return cr;
}

static void cell_failed(struct cell_run *cr, int ret)
{
	cr->state = ret;
	if (ret < 0) {
		fprintf(stderr, "FAIL %s at %zu bytes: %s\n", cr->c.transport,
			cr->c.msg, cr->why);
		failures++;
	} else {
		printf("%-26s %8zu B SKIPPED: %s\n", cr->c.transport,
		       cr->c.msg, cr->why);
		fflush(stdout);
	}
}

/* Full run: one run whose rate sets the message count of the repeats. */
static void cell_calibrate(struct cell_run *cr)
{
	struct rep r;
	int ret;

	if (!cr->calibrate || cfg.quick)
		return;
	ret = run_once(cr->tp, &cr->c, &r, cr->why, sizeof(cr->why));
	if (ret) {
		cell_failed(cr, ret);
		return;
	}
	lat_free(&r.lat);
	set_counts(&cr->c, clamp_u64((uint64_t)((double)r.msgs / r.secs *
						opt.secs), 1000, 100000000));
}

/*
 * A repeat during which the hypervisor took over SYSLOAD_MAX of the CPUs
 * (steal time) measured the hypervisor, not the transport: it is run again,
 * at most STEAL_RETRIES times, and the report says how many were.
 */
#define STEAL_RETRIES	2
static int redone;

static void cell_repeat(struct cell_run *cr)
{
	const struct cell *c = &cr->c;
	struct sysload load;
	double probe = 0;
	struct rep r;
	int ret, tries = 0;

	if (cr->state)
		return;
	for (;;) {
		if (cfg.cpu_prod != cfg.cpu_cons)
			probe = c2c_roundtrip_ns(cfg.cpu_prod, cfg.cpu_cons);
		sysload_start(&load);
		ret = run_once(cr->tp, c, &r, cr->why, sizeof(cr->why));
		if (ret) {
			cell_failed(cr, ret);
			return;
		}
		if (tries++ == STEAL_RETRIES ||
		    sysload_steal(&load) <= SYSLOAD_MAX)
			break;
		lat_free(&r.lat);
		redone++;
	}
	/* 0 is a probe that failed: unknown, and out of the median. */
	cr->probe[cr->n] = probe;
	if (probe > 0)
		c2c[nc2c++] = probe;
	cr->mbs[cr->n] = (double)r.msgs * (double)c->msg / r.secs / 1e6;
	cr->mps[cr->n] = (double)r.msgs / r.secs;
	cr->n++;
	if (r.has_syscalls) {
		/* the side that waits: the producer when the consumer is
		 * slowed down, else the consumer
		 */
		cr->cpu[cr->nsc] = (double)(c->cons_delay_ns ? r.cpu_prod_ns :
					    r.cpu_cons_ns) / (double)r.msgs;
		cr->scs[cr->nsc++] = (double)r.syscalls / (double)r.msgs;
	}
	lat_append(&cr->lat, &r.lat);
	lat_free(&r.lat);
}

/* The rows of a cell (throughput, and syscalls for shmring), and its line. */
static void cell_emit(struct cell_run *cr)
{
	const struct cell *c = &cr->c;
	struct summary s1, s2;

	if (cr->state == 1)
		results_skip(&res, cr->group ? cr->group : "syscalls",
			     c->transport, c->msg, cr->why);
	if (cr->state)
		return;
	if (cr->group) {
		emit(cr->group, c, "MB_per_s", "MB/s", cr->mbs, cr->n,
		     &cr->lat);
		emit(cr->group, c, "msgs_per_s", "msg/s", cr->mps, cr->n,
		     &cr->lat);
		/* where the two CPUs were for each repeat, in round order */
		if (cfg.cpu_prod != cfg.cpu_cons)
			emit("probe", c, "c2c_ns_before", "ns", cr->probe,
			     cr->n, NULL);
	}
	if (cr->nsc)
		emit("syscalls", c, "syscalls_per_msg", "syscalls", cr->scs,
		     cr->nsc, cr->group ? NULL : &cr->lat);
	/* What waiting costs in CPU: spinning instead of sleeping shows. */
	if (cr->nsc && !cr->group)
		emit("syscalls", c, "waiter_cpu_ns_per_msg", "ns", cr->cpu,
		     cr->nsc, NULL);
	stats_summary(cr->mbs, cr->n, &s1);
	stats_summary(cr->mps, cr->n, &s2);
	printf("%-26s %8zu B %10.1f MB/s %12.0f msg/s  spread %5.1f%%",
	       c->transport, c->msg, s1.median, s2.median, s1.spread_pct);
	if (cr->lat.n)
		printf("  p50 %llu p99 %llu p99.9 %llu ns",
		       (unsigned long long)lat_quantile(&cr->lat, .5),
		       (unsigned long long)lat_quantile(&cr->lat, .99),
		       (unsigned long long)lat_quantile(&cr->lat, .999));
	if (cr->nsc) {
		stats_summary(cr->scs, cr->nsc, &s1);
		printf("  syscalls/msg %.4f", s1.median);
		if (!cr->group) {
			stats_summary(cr->cpu, cr->nsc, &s1);
			printf("  waiter CPU %.0f ns/msg", s1.median);
		}
	}
	printf("\n");
	fflush(stdout);
}

/* The probes as one row, and their range on stdout. */
static void c2c_emit(void)
{
	struct row row = {
		.group = "machine", .transport = "cacheline", .msg_bytes = 64,
		.metric = "ns_per_roundtrip", .unit = "ns",
	};

	if (nc2c) {
		row_summarize(&row, c2c, nc2c, NULL);
		add_row(&row);
		printf("# cache-line round trip CPU %d <-> %d before each "
		       "repeat: median %.0f ns, %.0f to %.0f ns\n",
		       cfg.cpu_prod, cfg.cpu_cons, row.s.median, row.s.min,
		       row.s.max);
	}
	free(c2c);
}

static void value_row(const char *group, const char *transport,
		      const char *metric, const char *unit, double v)
{
	struct row row = row_of_value(group, transport, metric, unit, v);

	add_row(&row);
}

/*
 * The repeats run again for steal, as a row for the report and a line; and
 * the rule that ran them again, so that the report states it from here.
 */
static void redone_emit(void)
{
	value_row("machine", "steal_redone", "repeats", "repeats", redone);
	value_row("rule", "steal_redone", "limit", "%", SYSLOAD_MAX * 100);
	value_row("rule", "steal_redone", "redo_max", "runs", STEAL_RETRIES);
	if (redone)
		printf("# %d repeat(s) run again: the hypervisor took over "
		       "%.0f%% of the CPUs during them\n", redone,
		       SYSLOAD_MAX * 100);
}

/*
 * Every cell is calibrated, then the repeats go round all the cells in
 * turn: a drift of the machine during the run (other load, the hypervisor
 * moving the vCPUs) spreads over every transport alike instead of skewing
 * the ratios between them.
 */
static void run_cells(void)
{
	int reps = cfg.quick ? 2 : opt.repeats, i;
	size_t k;

	c2c = calloc(ncells * (size_t)reps + 1, sizeof(*c2c));
	if (!c2c) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (k = 0; k < ncells; k++)
		cell_calibrate(&cells[k]);
	for (i = 0; i < reps; i++) {
		for (k = 0; k < ncells; k++)
			cell_repeat(&cells[k]);
		if (!cfg.quick) {
			printf("# round %d of %d done\n", i + 1, reps);
			fflush(stdout);
		}
	}
	for (k = 0; k < ncells; k++) {
		cell_emit(&cells[k]);
		lat_free(&cells[k].lat);
	}
	free(cells);
	c2c_emit();
	redone_emit();
}

static bool selected(const char *name)
{
	char buf[sizeof(opt.only)], *tok, *save = NULL;

	if (!opt.only[0])
		return true;
	snprintf(buf, sizeof(buf), "%s", opt.only);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, name))
			return true;
	return false;
}

#define SLOW_RING	(64 << 10)

static void add_scenarios(void)
{
	size_t s, t;

	for (t = 0; t < 2; t++) {
		const struct tp *tp = &tps[t];	/* shmring_copy, shmring_zc */

		if (!selected(tp->name))
			continue;
		for (s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]);
		     s++) {
			const struct scenario *sc = &scenarios[s];
			struct cell_run *cr = cell_add(tp, 64, NULL, false);
			struct cell *c = &cr->c;

			snprintf(cr->name, sizeof(cr->name), "%s:%s",
				 tp->name, sc->suffix);
			c->transport = cr->name;
			c->prod_delay_ns = sc->prod_delay_ns;
			c->cons_delay_ns = sc->cons_delay_ns;
			c->stride = 16;
			set_counts(c, cfg.quick ? sc->meas / 10 : sc->meas);
			/* A slow consumer needs a full ring before the window;
			 * paced runs never fill it. What is measured there is
			 * the waiting, so its ring is small enough to fill in
			 * a tenth of a second (4 MiB took 6 s at 100 us).
			 */
			c->warm = c->meas / 10 + 16;
			if (sc->cons_delay_ns) {
				c->cap = SLOW_RING;
				c->warm += c->cap / (c->msg + 8);
			}
		}
	}
}

/* The first two CPUs we may run on. */
static void pick_cpus(void)
{
	cpu_set_t set;
	int i, n = 0, cpus[2] = { -1, -1 };

	if (cfg.cpu_prod >= 0)
		return;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	cfg.cpu_prod = cpus[0];
	cfg.cpu_cons = n > 1 ? cpus[1] : cpus[0];
	if (n < 2)
		fprintf(stderr, "warning: one CPU only: both sides share "
			"CPU %d\n", cpus[0]);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shmring-bench-host [--quick] [--csv FILE] "
		"[--json FILE] [--repeats N]\n"
		"        [--secs S] [--only T,T..] [--sizes N,N..] "
		"[--cpus P,C] [--no-scenarios]\n"
		"transports:");
	for (size_t i = 0; i < NTPS; i++)
		fprintf(f, " %s", tps[i].name);
	fprintf(f, "\n");
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "csv", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "repeats", required_argument, NULL, 'r' },
		{ "secs", required_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'o' },
		{ "sizes", required_argument, NULL, 'z' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "no-scenarios", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end, *tok, *save = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'q':
			cfg.quick = true;
			break;
		case 'c':
			opt.csv = optarg;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'r':
			opt.repeats = atoi(optarg);
			if (opt.repeats < 1 || opt.repeats > 64)
				goto bad;
			break;
		case 's':
			opt.secs = strtod(optarg, &end);
			if (*end || opt.secs <= 0)
				goto bad;
			break;
		case 'o':
			snprintf(opt.only, sizeof(opt.only), "%s", optarg);
			break;
		case 'z':
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				unsigned long v = strtoul(tok, &end, 0);

				if (*end || v < 16 || v % 8 || v > (1UL << 24) ||
				    opt.nsizes == 16)
					goto bad;
				opt.sizes[opt.nsizes++] = v;
			}
			break;
		case 'p':
			if (sscanf(optarg, "%d,%d", &cfg.cpu_prod,
				   &cfg.cpu_cons) != 2 || cfg.cpu_prod < 0 ||
			    cfg.cpu_cons < 0)
				goto bad;
			break;
		case 'S':
			opt.scenarios = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind == argc)
		return;
bad:
	usage(stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_fatal };
	struct sysload load;
	size_t s, t;
	int ret;

	parse(argc, argv);
	if (!opt.nsizes) {
		memcpy(opt.sizes, default_sizes, sizeof(default_sizes));
		opt.nsizes = sizeof(default_sizes) / sizeof(default_sizes[0]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pick_cpus();
	results_init(&res, "host");
	printf("# host: %s, kernel %s; producer CPU %d, consumer CPU %d; %s\n",
	       res.cpu, res.kernel, cfg.cpu_prod, cfg.cpu_cons,
	       cfg.quick ? "quick" : "full");
	fflush(stdout);
	sysload_start(&load);

	for (s = 0; s < (size_t)opt.nsizes; s++)
		for (t = 0; t < NTPS; t++)
			if (selected(tps[t].name))
				cell_add(&tps[t], opt.sizes[s], "throughput",
					 true);
	if (opt.scenarios)
		add_scenarios();
	run_cells();
	sysload_report(&load);

	ret = results_write(&res, opt.csv, opt.json);
	if (ret) {
		fprintf(stderr, "writing results: %s\n", strerror(-ret));
		failures++;
	}
	results_free(&res);
	if (failures)
		fprintf(stderr, "%d cell(s) failed\n", failures);
	return failures ? 1 : 0;
}
