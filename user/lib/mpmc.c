// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Vyukov's bounded MPMC queue with sequence-numbered slots.
 *
 * Slot i starts with seq = i. A producer at position pos (the shared tail)
 * may fill the slot when seq == pos: it claims pos with a CAS on tail, writes,
 * and publishes seq = pos + 1. A consumer at pos (the shared head) may take
 * the slot when seq == pos + 1: it claims pos with a CAS on head, reads, and
 * releases seq = pos + capacity, which is the next lap's producer position.
 *
 * Seen from a position, a slot's seq can only be within one lap of it; a
 * value outside, or one ahead of a position nobody has moved past, is
 * corruption and gives EBADMSG. Lengths are checked against the slot size.
 */
#include "internal.h"

static struct sr_slot *slot_at(unsigned char *data, uint32_t mask,
			       uint32_t stride, uint32_t pos)
{
	return (struct sr_slot *)(data + (size_t)(pos & mask) * stride);
}

static struct sr_slot *ch_slot(const struct shmring_channel *ch, uint32_t pos)
{
	return slot_at(ch->data, ch->mask, ch->stride, pos);
}

void sr_mpmc_init(struct sr_ring *r, uint32_t nslots, uint32_t stride)
{
	uint32_t i;

	for (i = 0; i < nslots; i++) {
		struct sr_slot *s = slot_at(r->data, nslots - 1, stride, i);

		atomic_store_explicit(&s->seq, i, memory_order_relaxed);
		s->len = 0;
	}
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&r->head, 0, memory_order_release);
}

/*
 * One step of either side at *@pos on @index (tail or head): @want is the seq
 * that makes the slot ours. Returns 1 when claimed, 0 when the slot is not
 * ready (full or empty; *@seen holds its seq), -EAGAIN to retry at a new
 * *@pos, or -EBADMSG.
 */
static int claim(struct shmring_channel *ch, _Atomic uint32_t *index,
		 uint32_t *pos, uint32_t want, uint32_t *seen)
{
	struct sr_slot *s = ch_slot(ch, *pos);
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	int32_t dif = (int32_t)(seq - (*pos + want));
	uint32_t now;

	if (!dif)
		return atomic_compare_exchange_weak_explicit(index, pos,
				*pos + 1, memory_order_relaxed,
				memory_order_relaxed) ? 1 : -EAGAIN;
	if (dif > 0) {
		/* Someone moved past pos: the index must show it. */
		now = atomic_load_explicit(index, memory_order_relaxed);
		if (now == *pos)
			return -EBADMSG;
		*pos = now;
		return -EAGAIN;
	}
	if (dif < -(int32_t)ch->cap)
		return -EBADMSG;
	*seen = seq;
	return 0;
}

/*
 * A claim lost to another participant (or to a peer that keeps moving the
 * index) is retried at once; every SR_CLAIM_RETRIES in a row, the call's
 * deadline is checked, so that neither contention nor a hostile peer holds
 * it past its timeout (a non-blocking call gives up with EAGAIN there).
 */
#define SR_CLAIM_RETRIES	64

static int retry(uint32_t *retries, struct sr_deadline *dl)
{
	if (++*retries % SR_CLAIM_RETRIES)
		return 0;
	if (dl->nonblock)
		return -EAGAIN;
	return sr_deadline_left(dl) ? 0 : -ETIMEDOUT;
}

int sr_mpmc_reserve(struct shmring_channel *ch, size_t len, void **data,
		    struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	uint32_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t seq, f, retries = 0;
	int ret;

	for (;;) {
		f = sr_flags(r);
		if (f & (SHMRING_CH_HUP | SHMRING_CH_BROKEN))
			return -EPIPE;
		ret = claim(ch, &r->tail, &pos, 0, &seq);
		if (ret == 1)
			break;
		if (ret == -EAGAIN) {
			ret = retry(&retries, dl);
			if (ret)
				return ret;
			continue;
		}
		if (ret)
			return ret;
		SR_HOOK(ch, SR_STEP_CHECKED);
		ret = sr_block(ch, SR_WAIT_ROOM, &ch_slot(ch, pos)->seq, seq, f,
			       dl);
		if (ret)
			return ret;
		pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	}
	ch->busy = true;
	ch->res_pos = pos;
	ch->res_len = (uint32_t)len;
	*data = ch_slot(ch, pos)->payload;
	return 0;
}

/* Publishes the reserved slot; @len 0 makes consumers skip it. */
int sr_mpmc_commit(struct shmring_channel *ch, size_t len)
{
	struct sr_slot *s = ch_slot(ch, ch->res_pos);

	s->len = (uint32_t)len;
	/* seq_cst: W1 of the protocol in block.c */
	atomic_store_explicit(&s->seq, ch->res_pos + 1, memory_order_seq_cst);
	ch->busy = false;
	sr_notify(ch, SR_WAIT_DATA);
	return 0;
}

const void *sr_mpmc_held(const struct shmring_channel *ch)
{
	return ch_slot(ch, ch->res_pos)->payload;
}

void sr_mpmc_release(struct shmring_channel *ch)
{
	struct sr_slot *s = ch_slot(ch, ch->res_pos);

	atomic_store_explicit(&s->seq, ch->res_pos + ch->cap,
			      memory_order_seq_cst);
	ch->busy = false;
	sr_notify(ch, SR_WAIT_ROOM);
}

ssize_t sr_mpmc_peek(struct shmring_channel *ch, const void **data,
		     struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	uint32_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t seq, len, f, retries = 0;
	struct sr_slot *s;
	int ret;

	for (;;) {
		ret = claim(ch, &r->head, &pos, 1, &seq);
		if (ret == -EAGAIN) {
			ret = retry(&retries, dl);
			if (ret)
				return ret;
			continue;
		}
		if (ret < 0)
			return ret;
		if (ret == 1) {
			s = ch_slot(ch, pos);
			len = SR_LOAD(s->len);
			ch->busy = true;
			ch->res_pos = pos;
			ch->res_len = len;
			if (len && len <= ch->slot_size) {
				*data = s->payload;
				return len;
			}
			sr_mpmc_release(ch);
			if (len)
				return -EBADMSG;
			pos = atomic_load_explicit(&r->head,
						   memory_order_relaxed);
			ret = retry(&retries, dl);
			if (ret)
				return ret;
			continue;
		}
		/* Empty at pos. Flags are set after the last commits. */
		f = sr_flags(r);
		if (f & (SHMRING_CH_EOF | SHMRING_CH_BROKEN)) {
			s = ch_slot(ch, pos);
			if (atomic_load_explicit(&s->seq, memory_order_acquire) !=
			    seq ||
			    atomic_load_explicit(&r->head,
						 memory_order_relaxed) != pos) {
				pos = atomic_load_explicit(&r->head,
							   memory_order_relaxed);
				ret = retry(&retries, dl);
				if (ret)
					return ret;
				continue;
			}
			return f & SHMRING_CH_BROKEN ? -EPIPE : 0;
		}
		SR_HOOK(ch, SR_STEP_CHECKED);
		ret = sr_block(ch, SR_WAIT_DATA, &ch_slot(ch, pos)->seq, seq, f,
			       dl);
		if (ret)
			return ret;
		pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	}
}
