// SPDX-License-Identifier: GPL-2.0
/* The consumer's check of every message: see payload.h. */
#define _GNU_SOURCE
#include "payload.h"

int msg_take(struct worker *w, const void *buf, size_t len)
{
	const struct cell *c = w->job->c;
	const uint64_t *words = buf;
	uint64_t id, ts, seq, start, end;
	int64_t t = 0;
	unsigned int p;

	if (len != c->msg)
		return worker_fail(w, "message of %zu bytes, want %zu", len,
				   c->msg);
	/* The time it was handed over, before the consumer's own work. */
	if (words[1])
		t = now_ns();
	if (msg_check(buf, len, &id, &ts))
		return worker_fail(w, "checksum mismatch in message %#llx",
				   (unsigned long long)id);
	p = (unsigned int)(id >> ID_SHIFT);
	seq = id & ID_SEQ_MASK;
	if (p >= (unsigned int)c->nprod)
		return worker_fail(w, "message from producer %u", p);
	/* One consumer sees every message of a producer in order; several
	 * see a rising subsequence each.
	 */
	if (c->ncons <= 1 ? seq != w->next_seq[p] : seq < w->next_seq[p])
		return worker_fail(w, "producer %u: message %llu, want %s%llu",
				   p, (unsigned long long)seq,
				   c->ncons <= 1 ? "" : ">= ",
				   (unsigned long long)w->next_seq[p]);
	w->next_seq[p] = seq + 1;
	w->seq_sum += seq;
	w->got++;
	if (ts) {
		start = c->warm / (uint64_t)c->nprod;
		end = (c->warm + c->meas) / (uint64_t)c->nprod;
		if (seq >= start && seq < end && t >= (int64_t)ts)
			lat_add(&w->lat, (uint64_t)t - ts);
	}
	return 0;
}
