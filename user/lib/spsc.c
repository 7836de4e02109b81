// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The single-producer single-consumer ring: indices and messages.
 *
 * head and tail are free-running 32-bit byte counts (the position is
 * index & mask, capacity being a power of two) on cache lines 128 bytes
 * apart. Each side keeps a private copy of the other's index and reloads it
 * only when the ring looks full or empty, so while both keep up neither
 * touches the other's line more than once per batch. The producer publishes
 * tail once per batch (SHMRING_MORE), the consumer head once per release.
 *
 * The peer is untrusted: an index read from shared memory must lie between
 * the last value seen and what the other side can legitimately reach, and
 * every record header is checked against the capacity and the published
 * index before its length is used. Otherwise EBADMSG.
 *
 * Messages are records: an 8-byte header (length, and its complement as a
 * check) and the payload padded to 8 bytes. A record never wraps: when it
 * does not fit before the end, a padding record fills the rest and the
 * record starts at 0. A message is at most capacity/2 - 8 bytes, so that a
 * record plus the padding before it always fits in an empty ring.
 */
#include <string.h>

#include "internal.h"

static uint32_t rec_size(size_t len)
{
	return (uint32_t)(SR_REC_HDR + sr_align(len, 8));
}

static uint32_t index_align(const struct shmring_channel *ch)
{
	return ch->kind == SHMRING_MSG ? 7 : 0;
}

/* Reads both indices at attach; with one side attaching, the other is
 * stable or only moves towards it, so their distance stays within bounds.
 */
int sr_spsc_attach(struct shmring_channel *ch)
{
	uint32_t h = atomic_load_explicit(&ch->r->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&ch->r->tail, memory_order_acquire);

	if (t - h > ch->cap || (t | h) & index_align(ch))
		return -EBADMSG;
	ch->tail = ch->tail_pub = t;
	ch->head_cache = h;
	ch->head = ch->head_pub = h;
	ch->tail_cache = t;
	return 0;
}

/*
 * W1 of the protocol in block.c. Registered for the sleeper's barrier, a
 * plain store will do (barrier.c); the compiler must still keep it before
 * W2. Otherwise seq_cst.
 */
static inline void publish_index(_Atomic uint32_t *index, uint32_t v)
{
	if (sr_barrier_light()) {
		atomic_store_explicit(index, v, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store_explicit(index, v, memory_order_seq_cst);
	}
}

void sr_spsc_publish(struct shmring_channel *ch)
{
	if (ch->tail == ch->tail_pub)
		return;
	publish_index(&ch->r->tail, ch->tail);
	ch->tail_pub = ch->tail;
	sr_notify(ch, SR_WAIT_DATA);
}

void sr_spsc_release(struct shmring_channel *ch)
{
	if (ch->head == ch->head_pub)
		return;
	publish_index(&ch->r->head, ch->head);
	ch->head_pub = ch->head;
	sr_notify(ch, SR_WAIT_ROOM);
}

/* Producer: @need bytes free after ch->tail by its cached head, and the
 * consumer still there. Relaxed: a late look at HUP costs one more message
 * at most.
 */
static bool room_known(const struct shmring_channel *ch, uint32_t need)
{
	return ch->cap - (ch->tail - ch->head_cache) >= need &&
	       !(atomic_load_explicit(&ch->r->ctl.flags, memory_order_relaxed) &
		 (SHMRING_CH_HUP | SHMRING_CH_BROKEN));
}

/* Producer: waits until @need bytes are free after ch->tail. */
int sr_spsc_room(struct shmring_channel *ch, uint32_t need,
		 struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	uint32_t h, f;
	int ret;

	for (;;) {
		if (room_known(ch, need))
			return 0;
		f = sr_flags(r);
		if (f & (SHMRING_CH_HUP | SHMRING_CH_BROKEN))
			return -EPIPE;
		h = atomic_load_explicit(&r->head, memory_order_acquire);
		/* head only moves forward, and never past what we published */
		if (h - ch->head_cache > ch->tail_pub - ch->head_cache ||
		    h & index_align(ch))
			return -EBADMSG;
		ch->head_cache = h;
		if (ch->cap - (ch->tail - h) >= need)
			return 0;
		/* Never sleep on committed data nobody can see. */
		sr_spsc_publish(ch);
		SR_HOOK(ch, SR_STEP_CHECKED);
		ret = sr_block(ch, SR_WAIT_ROOM, &r->head, h, f, dl);
		if (ret)
			return ret;
	}
}

/* Consumer: reloads tail, checked to lie in [tail_cache, head_pub + cap]. */
static int load_tail(struct shmring_channel *ch)
{
	uint32_t t = atomic_load_explicit(&ch->r->tail, memory_order_acquire);

	if (t - ch->tail_cache > ch->cap - (ch->tail_cache - ch->head_pub) ||
	    t & index_align(ch))
		return -EBADMSG;
	ch->tail_cache = t;
	return 0;
}

/*
 * Consumer: waits for data after ch->head. Returns the bytes readable, 0 at
 * end-of-file, or a negative errno.
 */
int sr_spsc_avail(struct shmring_channel *ch, struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	uint32_t f;
	int ret;

	for (;;) {
		if (ch->tail_cache != ch->head)
			return (int)(ch->tail_cache - ch->head);
		ret = load_tail(ch);
		if (ret)
			return ret;
		if (ch->tail_cache != ch->head)
			continue;
		f = sr_flags(r);
		if (f & (SHMRING_CH_EOF | SHMRING_CH_BROKEN)) {
			/* The flag was set after the last publish: look again. */
			ret = load_tail(ch);
			if (ret)
				return ret;
			if (ch->tail_cache != ch->head)
				continue;
			return f & SHMRING_CH_BROKEN ? -EPIPE : 0;
		}
		SR_HOOK(ch, SR_STEP_CHECKED);
		ret = sr_block(ch, SR_WAIT_DATA, &r->tail, ch->tail_cache, f,
			       dl);
		if (ret)
			return ret;
	}
}

/*
 * A record header is one aligned 8-byte word: the length (or SR_REC_PAD and
 * the padding length) in the low half and its complement in the high half,
 * as a check. It is stored and loaded as one atomic word (relaxed: the
 * index orders it), so the consumer validates exactly the value it then
 * uses, whatever a peer writes there meanwhile; a memcpy() could be split.
 */
static void put_header(unsigned char *p, uint32_t word)
{
	__atomic_store_n((uint64_t *)(void *)p,
			 (uint64_t)~word << 32 | word, __ATOMIC_RELAXED);
}

static inline int get_header(const unsigned char *p, uint32_t *word)
{
	uint64_t h = __atomic_load_n((const uint64_t *)(const void *)p,
				     __ATOMIC_RELAXED);

	*word = (uint32_t)h;
	return (uint32_t)(h >> 32) == ~*word ? 0 : -EBADMSG;
}

int sr_spsc_msg_reserve(struct shmring_channel *ch, size_t len, void **data,
			struct sr_deadline *dl)
{
	uint32_t rec = rec_size(len), pos = ch->tail & ch->mask;
	uint32_t contig = ch->cap - pos, need;
	int ret;

	need = rec <= contig ? rec : contig + rec;
	if (!room_known(ch, need)) {
		ret = sr_spsc_room(ch, need, dl);
		if (ret)
			return ret;
	}
	ch->res_pos = ch->tail;
	if (rec > contig) {
		put_header(ch->data + pos, SR_REC_PAD | (contig - SR_REC_HDR));
		ch->res_pos += contig;
	}
	ch->res_len = (uint32_t)len;
	ch->busy = true;
	*data = ch->data + (ch->res_pos & ch->mask) + SR_REC_HDR;
	return 0;
}

int sr_spsc_msg_commit(struct shmring_channel *ch, size_t len,
		       unsigned int flags)
{
	put_header(ch->data + (ch->res_pos & ch->mask), (uint32_t)len);
	ch->tail = ch->res_pos + rec_size(len);
	ch->busy = false;
	if (!(flags & SHMRING_MORE))
		sr_spsc_publish(ch);
	return 0;
}

/*
 * The record at the read cursor, with @avail bytes readable: its payload
 * length in *@len (0 for padding) and its size in *@size, both checked.
 */
static inline int rec_at_head(const struct shmring_channel *ch,
			      uint32_t avail, uint32_t *len, uint32_t *size)
{
	uint32_t pos = ch->head & ch->mask, w;

	if (avail < SR_REC_HDR || get_header(ch->data + pos, &w))
		return -EBADMSG;
	if (w & SR_REC_PAD) {
		*len = 0;
		*size = ch->cap - pos;
		if ((w & ~SR_REC_PAD) != *size - SR_REC_HDR || *size > avail)
			return -EBADMSG;
		return 0;
	}
	if (!w || w > ch->max_msg)
		return -EBADMSG;
	*len = w;
	*size = rec_size(w);
	if (*size > ch->cap - pos || *size > avail)
		return -EBADMSG;
	return 0;
}

ssize_t sr_spsc_msg_peek(struct shmring_channel *ch, const void **data,
			 struct sr_deadline *dl)
{
	uint32_t len, size;
	int avail, ret;

	for (;;) {
		avail = ch->tail_cache != ch->head ?
			(int)(ch->tail_cache - ch->head) : sr_spsc_avail(ch, dl);
		if (avail <= 0)
			return avail;
		ret = rec_at_head(ch, (uint32_t)avail, &len, &size);
		if (ret)
			return ret;
		if (len) {
			*data = ch->data + (ch->head & ch->mask) + SR_REC_HDR;
			ch->head += size;
			return len;
		}
		ch->head += size;	/* padding to the end */
	}
}

/*
 * shmring_msg_send() and _recv() in one step when nothing stands in the
 * way, as on every call while both sides keep up: for the producer, room
 * already known from its cached head and no wrap; for the consumer, a whole
 * message already known to be published. Otherwise they return false or 0
 * and the caller takes the general path, which also reports any error.
 * The layered calls (reserve and commit, or peek, copy and release) cost
 * 64 B messages a third of their rate: this path moves 1.6 times as many
 * (median of 12 interleaved pairs of the host benchmark).
 */
bool sr_spsc_msg_send_fast(struct shmring_channel *ch, const void *buf,
			   size_t len)
{
	uint32_t rec = rec_size(len), pos = ch->tail & ch->mask;

	if (rec > ch->cap - pos || !room_known(ch, rec))
		return false;
	memcpy(ch->data + pos + SR_REC_HDR, buf, len);
	put_header(ch->data + pos, (uint32_t)len);
	ch->tail += rec;
	sr_spsc_publish(ch);
	return true;
}

uint32_t sr_spsc_msg_recv_fast(struct shmring_channel *ch, void *buf,
			       size_t len)
{
	uint32_t n, size;

	if (ch->tail_cache == ch->head ||
	    rec_at_head(ch, ch->tail_cache - ch->head, &n, &size) || !n ||
	    n > len)
		return 0;
	memcpy(buf, ch->data + (ch->head & ch->mask) + SR_REC_HDR, n);
	ch->head += size;
	sr_spsc_release(ch);
	return n;
}
