/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The message every transport carries, and the fair-work rule: the producer
 * writes every byte of every message, and the consumer reads every byte and
 * verifies a checksum. Never skip either to make a number.
 *
 * A message is len/8 64-bit words (len a multiple of 8, at least 16):
 *   w[0]      id: producer index << 56 | sequence number of that producer
 *   w[1]      send time (CLOCK_MONOTONIC ns) on sampled messages, else 0
 *   w[2..]    seed(id) + i * K
 * The consumer sums w[2..] and compares with the closed form of that sum,
 * and checks w[0] against the sequence it expects: a torn, stale, lost,
 * duplicated or reordered message fails one or the other.
 *
 * Latency: the producer stamps w[1] on every stride-th message of its own
 * sequence just before handing it to the transport; the consumer takes the
 * difference as soon as the transport hands the message over. Only one
 * message in stride pays for the two clock reads (vDSO, ~20-30 ns), with
 * stride chosen so that they cost well under 1% (see main.c). The latency is
 * one-way under saturation, queueing included.
 */
#ifndef BENCH_PAYLOAD_H
#define BENCH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bench.h"

#define PAYLOAD_K	0x9e3779b97f4a7c15ULL
#define ID_SHIFT	56
#define ID_SEQ_MASK	((1ULL << ID_SHIFT) - 1)

static inline uint64_t msg_id(int producer, uint64_t seq)
{
	return (uint64_t)producer << ID_SHIFT | seq;
}

static inline uint64_t msg_seed(uint64_t id)
{
	return (id ^ 0x5bd1e9955bd1e995ULL) * 0xff51afd7ed558ccdULL;
}

/*
 * Four words at a time in two GCC/Clang vectors of two (SSE2 on x86-64,
 * whatever the optimisation flags), so that the fair work runs near the
 * speed of the caches and the transports, not these loops, set the pace.
 */
typedef uint64_t u64x2 __attribute__((vector_size(16)));

/* Producer: writes the whole message. */
static inline void msg_fill(void *buf, size_t len, uint64_t id, uint64_t ts)
{
	unsigned char *p = buf;
	uint64_t *w = buf, s = msg_seed(id);
	size_t i, n = len / 8;
	u64x2 a = { s + 4 * PAYLOAD_K, s + 5 * PAYLOAD_K };
	u64x2 b = { s + 6 * PAYLOAD_K, s + 7 * PAYLOAD_K };
	u64x2 step = { 4 * PAYLOAD_K, 4 * PAYLOAD_K };

	w[0] = id;
	w[1] = ts;
	for (i = 2; i < n && i < 4; i++)
		w[i] = s + i * PAYLOAD_K;
	for (; i + 4 <= n; i += 4) {
		memcpy(p + i * 8, &a, sizeof(a));
		memcpy(p + i * 8 + 16, &b, sizeof(b));
		a += step;
		b += step;
	}
	for (; i < n; i++)
		w[i] = s + i * PAYLOAD_K;
}

/* Consumer: reads the whole message; returns 0 if the checksum holds. */
static inline int msg_check(const void *buf, size_t len, uint64_t *id,
			    uint64_t *ts)
{
	const unsigned char *p = buf;
	const uint64_t *w = buf;
	uint64_t sum = 0, n = len / 8, want;
	u64x2 a = { 0, 0 }, b = { 0, 0 }, x, y;
	size_t i;

	for (i = 2; i < n && i < 4; i++)
		sum += w[i];
	for (; i + 4 <= n; i += 4) {
		memcpy(&x, p + i * 8, sizeof(x));
		memcpy(&y, p + i * 8 + 16, sizeof(y));
		a += x;
		b += y;
	}
	for (; i < n; i++)
		sum += w[i];
	a += b;
	sum += a[0] + a[1];
	*id = w[0];
	*ts = w[1];
	/* sum over i = 2..n-1 of seed + i*K */
	want = (n - 2) * msg_seed(*id) + ((n - 1) * n / 2 - 1) * PAYLOAD_K;
	return sum == want ? 0 : -1;
}

/* Producer: the latency stamp for its message @seq. */
static inline uint64_t msg_stamp(const struct cell *c, uint64_t seq)
{
	return seq % c->stride ? 0 : (uint64_t)now_ns();
}

/* Producer: stamps a filled message right before handing it over. */
static inline void msg_set_stamp(void *buf, const struct cell *c,
				 uint64_t seq)
{
	((uint64_t *)buf)[1] = msg_stamp(c, seq);
}

/*
 * Consumer: verifies a message it was handed (@len bytes at @buf), against
 * what @w expects next from that producer, and samples its latency.
 * Returns 0, or -1 after worker_fail().
 */
int msg_take(struct worker *w, const void *buf, size_t len);

#endif /* BENCH_PAYLOAD_H */
