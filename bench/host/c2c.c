// SPDX-License-Identifier: GPL-2.0
/*
 * What it costs to move a cache line between the two benchmark CPUs, probed
 * before every repeat. On a virtual machine the hypervisor moves vCPUs
 * between physical cores, which may share an L3 or not; every transport
 * moves its data from one CPU's cache to the other's, so all of them change
 * speed with it, and a shared-memory ring, which does nothing else, most of
 * all. The row this makes shows how much that happened during the run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define C2C_TRIPS	20000

struct c2c {
	_Alignas(128) _Atomic uint64_t ping;	/* written by the prober */
	_Alignas(128) _Atomic uint64_t pong;	/* written by the echo */
	int cpu_probe, cpu_echo;
	_Atomic int unpinned;	/* a side ran where it was not asked to */
	int64_t ns;
};

static void *echo(void *arg)
{
	struct c2c *c = arg;
	uint64_t i, v;

	if (pin_cpu(c->cpu_echo))
		atomic_store(&c->unpinned, 1);
	for (i = 1; i <= C2C_TRIPS; i++) {
		while ((v = atomic_load_explicit(&c->ping,
						 memory_order_acquire)) < i)
			;
		atomic_store_explicit(&c->pong, v, memory_order_release);
	}
	return NULL;
}

static void *prober(void *arg)
{
	struct c2c *c = arg;
	int64_t t0;
	uint64_t i;

	if (pin_cpu(c->cpu_probe))
		atomic_store(&c->unpinned, 1);
	t0 = now_ns();
	for (i = 1; i <= C2C_TRIPS; i++) {
		atomic_store_explicit(&c->ping, i, memory_order_release);
		while (atomic_load_explicit(&c->pong, memory_order_acquire) != i)
			;
	}
	c->ns = now_ns() - t0;
	return NULL;
}

double c2c_roundtrip_ns(int cpu_a, int cpu_b)
{
	struct c2c *c = aligned_alloc(128, sizeof(*c));
	pthread_t te, tp;
	double r = 0;

	if (!c)
		return 0;
	memset(c, 0, sizeof(*c));
	c->cpu_probe = cpu_a;
	c->cpu_echo = cpu_b;
	if (pthread_create(&te, NULL, echo, c))
		goto out;
	if (pthread_create(&tp, NULL, prober, c)) {
		/* let the echo finish */
		atomic_store(&c->ping, C2C_TRIPS);
		pthread_join(te, NULL);
		goto out;
	}
	pthread_join(tp, NULL);
	pthread_join(te, NULL);
	/* Unpinned, it measured two CPUs that nobody asked about. */
	if (!atomic_load(&c->unpinned))
		r = (double)c->ns / C2C_TRIPS;
out:
	free(c);
	return r;
}
