/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmring-bench-host: the pieces shared by the driver (main.c), the thread
 * harness (harness.c), the message format (payload.h) and the transports
 * (tp_*.c).
 *
 * One "cell" is one transport at one message size. A cell runs a few
 * repeats; each repeat is independent (new buffer or descriptors, new
 * threads): the producers send warm + meas + tail messages, the consumers
 * take them all and check every one, and the throughput is measured on the
 * consumer side over the meas messages in the middle (steady state, no
 * start-up or close in the window).
 */
#ifndef BENCH_HOST_H
#define BENCH_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cpu.h"
#include "stats.h"

#define MAX_SIDE	2	/* producers or consumers per repeat */
#define MAX_WORKERS	(2 * MAX_SIDE)

struct cell {
	const char *transport;	/* row name, e.g. "pipe", "shmring_zc:slow_5us" */
	size_t msg;		/* bytes per message, a multiple of 8, >= 16 */
	size_t cap;		/* ring / pipe / socket buffer bytes */
	unsigned int batch;	/* zero-copy: messages per publish/release */
	uint64_t warm, meas, tail;	/* messages, all producers together */
	uint32_t stride;	/* a latency sample every stride-th message */
	int64_t prod_delay_ns;	/* busy pause after each message sent */
	int64_t cons_delay_ns;	/* busy pause after each message taken */
	int nprod, ncons;	/* ncons 0: one thread does it all (memcpy) */
};

/* What one repeat measured. */
struct rep {
	double secs;		/* the measured window */
	uint64_t msgs;		/* messages in the window */
	uint64_t syscalls;	/* shmring WAIT + WAKE calls in the window */
	bool has_syscalls;
	/* CPU time of the producers and of the consumers in the window, ns
	 * (shmring only, like syscalls)
	 */
	int64_t cpu_prod_ns, cpu_cons_ns;
	struct lat_buf lat;	/* latency samples of the window */
};

struct job;

struct worker {
	_Alignas(128) struct job *job;	/* own lines: no false sharing */
	int role;		/* 0 producer, 1 consumer */
	int idx;		/* within the role */
	int cpu;
	pthread_t tid;
	uint64_t n;		/* producer: messages to send */
	uint64_t done;		/* messages handled so far */
	uint64_t win_start, win_end;	/* the window in this worker's count */
	uint64_t pending;	/* consumer: not yet added to job->consumed */
	/* consumer checks: next seq expected per producer, seq sums */
	uint64_t next_seq[MAX_SIDE];
	uint64_t seq_sum;
	uint64_t got;
	/* shmring WAIT+WAKE counts at the window edges (local counts) */
	uint64_t sc_at_start, sc_at_end;
	int64_t cpu_at_start, cpu_at_end;	/* thread CPU time, ns */
	bool sc_started, sc_ended;
	struct lat_buf lat;
	void *priv;		/* the transport's per-thread state */
	int err;		/* 0, or nonzero after a failure */
	char why[160];
};

typedef int (*work_fn)(struct worker *w);

struct job {
	const struct cell *c;
	void *ctx;		/* the transport's shared state */
	uint64_t total;		/* warm + meas + tail */
	uint64_t flush_every;	/* consumer count flushes (more than one) */
	pthread_barrier_t start;
	int64_t t0, t1;		/* window edges, CLOCK_MONOTONIC ns */
	uint64_t c0, c1;	/* message counts at those edges */
	int nw;
	/* read on every message: a line of its own, rarely written */
	_Alignas(128) atomic_int abort;	/* a worker failed: the others stop */
	/* written by the consumers of an MPMC run */
	_Alignas(128) _Atomic uint64_t consumed;
	struct worker w[MAX_WORKERS];
};

/* ---- run-wide settings (main.c) ---- */
struct config {
	bool quick;
	int cpu_prod, cpu_cons;	/* -1: not pinned */
	int verbose;
};
extern struct config cfg;

/* ---- clock ---- */
static inline int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Busy pause: a slow side keeps its CPU, as real work would. */
static inline void busy_ns(int64_t ns)
{
	int64_t end;

	if (ns <= 0)
		return;
	end = now_ns() + ns;
	while (now_ns() < end)
		;
}

/* ---- harness.c ---- */
/*
 * Runs one repeat: starts c->nprod producers running @prod on cfg.cpu_prod
 * and c->ncons consumers running @cons on cfg.cpu_cons (with ncons == 0,
 * one worker runs @prod on cfg.cpu_prod and counts as the consumer too).
 * @setup, if given, runs in each thread before the start line (open the
 * channel there); @teardown after. Returns 0 and fills @out, or -1 with
 * the reason in @why.
 */
struct tp_ops {
	work_fn setup;		/* per thread, may be NULL */
	work_fn prod;
	work_fn cons;
	void (*teardown)(struct worker *w);	/* per thread, may be NULL */
};
int harness_run(const struct cell *c, void *ctx, const struct tp_ops *ops,
		struct rep *out, char *why, size_t whylen);

/* A worker's failure: records it, tells the others to stop, returns -1. */
int worker_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline bool job_aborted(const struct job *j)
{
	return atomic_load_explicit(&j->abort, memory_order_relaxed);
}

/* Producer side: the message just sent was number w->done of this
 * producer; call after sending it. Handles the pause and the edges of the
 * window for the syscall counter (@sc, may be NULL: read only at the edges).
 */
typedef uint64_t (*syscalls_fn)(struct worker *w);
void producer_sent(struct worker *w, syscalls_fn sc);

/* Consumer side, after a message has been checked: counts it towards the
 * window; handles the pause and the syscall counter edges.
 */
void consumer_took(struct worker *w, syscalls_fn sc);
/* Consumer side, at end-of-file: flushes the count. */
void consumer_done(struct worker *w);

/* ---- the transports; each returns 0, 1 (skipped: @why says why) or -1 ---- */
int tp_shmring_copy(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_shmring_zc(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_shmring_mpmc(const struct cell *c, struct rep *out, char *why,
		    size_t n);
int tp_pipe(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_unix_stream(const struct cell *c, struct rep *out, char *why,
		   size_t n);
int tp_unix_seqpacket(const struct cell *c, struct rep *out, char *why,
		      size_t n);
int tp_posix_mq(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_memcpy(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_memcpy_raw(const struct cell *c, struct rep *out, char *why, size_t n);
int tp_bare_ring(const struct cell *c, struct rep *out, char *why, size_t n);

/*
 * sysload.c: CPU time others took during the run, printed at the end, and
 * the share of the CPUs the hypervisor took (steal) since sysload_start().
 */
struct sysload {
	bool ok;
	long ncpu;
	double busy, steal, own, wall;	/* seconds */
};
/*
 * Over this share of the CPUs taken by others (other processes, or the
 * hypervisor as steal time), a run measured them as much as itself.
 */
#define SYSLOAD_MAX	0.05
void sysload_start(struct sysload *s);
void sysload_report(const struct sysload *s);
double sysload_steal(const struct sysload *s);

/* c2c.c: ns per cache-line round trip between two CPUs (0: failed). */
double c2c_roundtrip_ns(int cpu_a, int cpu_b);

/* tp_mq.c: puts back the mqueue limit it raised (signal-safe). */
void tp_mq_restore(void);

#endif /* BENCH_HOST_H */
