// SPDX-License-Identifier: GPL-2.0
/*
 * One repeat of one cell: threads pinned to their CPUs, a start line, the
 * measured window on the consumer side, and the checks once all is done.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct thread_arg {
	struct worker *w;
	const struct tp_ops *ops;
};

int worker_fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->err) {
		va_start(ap, fmt);
		vsnprintf(w->why, sizeof(w->why), fmt, ap);
		va_end(ap);
		w->err = 1;
	}
	atomic_store(&w->job->abort, 1);
	return -1;
}

/* The window in this worker's own count: [start, end). */
static void local_window(struct worker *w)
{
	const struct cell *c = w->job->c;
	uint64_t k = w->role == 0 ? (uint64_t)c->nprod :
		     (uint64_t)(c->ncons ? c->ncons : 1);

	w->win_start = c->warm / k;
	w->win_end = (c->warm + c->meas) / k;
}

static void syscall_edges(struct worker *w, syscalls_fn sc)
{
	if (!sc)
		return;
	if (w->done == w->win_start) {
		w->sc_at_start = sc(w);
		w->cpu_at_start = thread_cpu_ns();
		w->sc_started = true;
	} else if (w->done == w->win_end) {
		w->sc_at_end = sc(w);
		w->cpu_at_end = thread_cpu_ns();
		w->sc_ended = true;
	}
}

void producer_sent(struct worker *w, syscalls_fn sc)
{
	w->done++;
	busy_ns(w->job->c->prod_delay_ns);
	syscall_edges(w, sc);
}

static void flush_count(struct worker *w)
{
	struct job *j = w->job;
	uint64_t old, now, warm = j->c->warm, end = warm + j->c->meas;

	if (!w->pending)
		return;
	old = atomic_fetch_add(&j->consumed, w->pending);
	now = old + w->pending;
	w->pending = 0;
	if (old < warm && now >= warm) {
		j->t0 = now_ns();
		j->c0 = now;
	}
	if (old < end && now >= end) {
		j->t1 = now_ns();
		j->c1 = now;
	}
}

void consumer_took(struct worker *w, syscalls_fn sc)
{
	struct job *j = w->job;
	const struct cell *c = j->c;

	w->done++;
	busy_ns(c->cons_delay_ns);
	if (c->ncons <= 1) {
		if (w->done == c->warm) {
			j->t0 = now_ns();
			j->c0 = w->done;
		} else if (w->done == c->warm + c->meas) {
			j->t1 = now_ns();
			j->c1 = w->done;
		}
	} else if (++w->pending >= j->flush_every) {
		flush_count(w);
	}
	syscall_edges(w, sc);
}

void consumer_done(struct worker *w)
{
	if (w->job->c->ncons > 1)
		flush_count(w);
}

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;
	struct worker *w = a->w;
	const struct tp_ops *ops = a->ops;
	struct job *j = w->job;
	int ret;

	ret = pin_cpu(w->cpu);
	if (ret)
		worker_fail(w, "sched_setaffinity(cpu %d): %s", w->cpu,
			    strerror(-ret));
	if (!w->err && ops->setup)
		ops->setup(w);
	pthread_barrier_wait(&j->start);
	if (!w->err && !job_aborted(j))
		(w->role == 0 ? ops->prod : ops->cons)(w);
	if (ops->teardown)
		ops->teardown(w);
	return NULL;
}

/* Everything sent was received once, in order per producer. */
static int check_totals(struct job *j, char *why, size_t whylen)
{
	uint64_t got = 0, sum = 0, want = 0;
	int i;

	for (i = 0; i < j->nw; i++) {
		struct worker *w = &j->w[i];

		if (w->role == 0 && j->c->ncons)
			want += w->n * (w->n - 1) / 2;
		if (w->role == 1 || !j->c->ncons) {
			got += w->got;
			sum += w->seq_sum;
		}
	}
	if (!j->c->ncons)
		want = j->total * (j->total - 1) / 2;
	if (got != j->total || sum != want) {
		snprintf(why, whylen,
			 "received %llu of %llu messages (sequence sum %llu, "
			 "want %llu)", (unsigned long long)got,
			 (unsigned long long)j->total, (unsigned long long)sum,
			 (unsigned long long)want);
		return -1;
	}
	if (!j->t0 || !j->t1 || j->t1 <= j->t0 || j->c1 <= j->c0) {
		snprintf(why, whylen, "no measured window");
		return -1;
	}
	return 0;
}

static struct job *job_new(const struct cell *c, void *ctx)
{
	struct job *j = aligned_alloc(128, sizeof(*j));
	int nc = c->ncons ? c->ncons : 0, i, k = 0;
	size_t latcap;

	if (!j)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->c = c;
	j->ctx = ctx;
	j->total = c->warm + c->meas + c->tail;
	j->total += (c->nprod - j->total % c->nprod) % c->nprod;
	j->flush_every = c->meas / 64 ? c->meas / 64 : 1;
	if (j->flush_every > 64)
		j->flush_every = 64;
	latcap = c->meas / c->stride + 64;
	for (i = 0; i < c->nprod + nc; i++) {
		struct worker *w = &j->w[k++];

		w->job = j;
		w->role = i < c->nprod ? 0 : 1;
		w->idx = w->role ? i - c->nprod : i;
		w->cpu = w->role ? cfg.cpu_cons : cfg.cpu_prod;
		w->n = w->role ? 0 : j->total / c->nprod;
		local_window(w);
		if ((w->role || !nc) && lat_init(&w->lat, latcap)) {
			while (k--)
				lat_free(&j->w[k].lat);
			free(j);
			return NULL;
		}
	}
	j->nw = k;
	return j;
}

int harness_run(const struct cell *c, void *ctx, const struct tp_ops *ops,
		struct rep *out, char *why, size_t whylen)
{
	struct thread_arg args[MAX_WORKERS];
	struct job *j;
	int i, ret = 0, started = 0;

	memset(out, 0, sizeof(*out));
	if (c->nprod < 1 || c->nprod > MAX_SIDE || c->ncons < 0 ||
	    c->ncons > MAX_SIDE || c->msg < 16 || c->msg % 8) {
		snprintf(why, whylen, "bad cell");
		return -1;
	}
	j = job_new(c, ctx);
	if (!j) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pthread_barrier_init(&j->start, NULL, (unsigned int)j->nw);
	for (i = 0; i < j->nw; i++) {
		args[i].w = &j->w[i];
		args[i].ops = ops;
		if (pthread_create(&j->w[i].tid, NULL, thread_main, &args[i]))
			break;
		started++;
	}
	if (started < j->nw) {
		/* Cannot happen short of ENOMEM; the barrier would hang. */
		fprintf(stderr, "pthread_create failed\n");
		exit(2);
	}
	for (i = 0; i < j->nw; i++)
		pthread_join(j->w[i].tid, NULL);
	pthread_barrier_destroy(&j->start);

	for (i = 0; i < j->nw && !ret; i++) {
		if (j->w[i].err) {
			snprintf(why, whylen, "%s %d: %s",
				 j->w[i].role ? "consumer" : "producer",
				 j->w[i].idx, j->w[i].why);
			ret = -1;
		}
	}
	if (!ret)
		ret = check_totals(j, why, whylen);
	if (!ret) {
		out->secs = (double)(j->t1 - j->t0) / 1e9;
		out->msgs = j->c1 - j->c0;
		for (i = 0; i < j->nw; i++) {
			struct worker *w = &j->w[i];

			if (w->sc_started && w->sc_ended) {
				out->has_syscalls = true;
				out->syscalls += w->sc_at_end - w->sc_at_start;
				*(w->role ? &out->cpu_cons_ns : &out->cpu_prod_ns) +=
					w->cpu_at_end - w->cpu_at_start;
			}
		}
		lat_init(&out->lat, 0);
		for (i = 0; i < j->nw; i++)
			if (lat_append(&out->lat, &j->w[i].lat))
				ret = -1;
	}
	for (i = 0; i < j->nw; i++)
		lat_free(&j->w[i].lat);
	free(j);
	return ret;
}
