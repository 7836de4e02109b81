// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The buffer layout: a header at offset 0 (magic, layout version, the size
 * it covers, a bump allocator and a robust lock), the channel directory in
 * the rest of the first 4 KiB, and one region per channel from 4 KiB on.
 *
 * The directory is changed only under the header lock; a slot goes
 * FREE -> INIT -> READY and a READY slot never changes again. A slot found
 * INIT under the lock belongs to a creator that died (creators hold the lock
 * throughout), so it is taken back. Any impossible field is EBADMSG.
 *
 * The lock binds the library, not a hostile peer: any opener may write any
 * field at any time, the lock held or not. So sr_layout_lock() checking the
 * layout proves nothing about a later read of it. Every function here that
 * places or reaches something by a field (the allocator, a region) reads
 * the fields it needs once, with SR_LOAD(), into locals, checks those, and
 * uses only them; the checks are written next to the reads.
 */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"

static_assert(sizeof(struct sr_dirent) == 64, "directory entry size");
static_assert(sizeof(struct sr_header) == SR_DATA_START, "header size");
static_assert(offsetof(struct sr_ring, head) - offsetof(struct sr_ring, tail)
	      == SR_LINE, "head and tail 128 bytes apart");
static_assert(sizeof(struct sr_ring) % SR_LINE == 0, "ring data alignment");
static_assert(sizeof(_Atomic uint32_t) == 4, "atomic words are futex words");

#ifdef SR_TEST_HOOKS
void (*sr_test_layout_hook)(struct shmring *sh, enum sr_test_point point);
#endif

static int hdr_format(struct shmring *sh, struct sr_header *hdr)
{
	/* Everything but the lock, which we hold. */
	memset((char *)hdr + offsetof(struct sr_header, version), 0,
	       offsetof(struct sr_header, lock) -
	       offsetof(struct sr_header, version));
	memset(hdr->reserved, 0, sizeof(*hdr) -
	       offsetof(struct sr_header, reserved));
	hdr->version = SR_LAYOUT_VERSION;
	hdr->nr_dirents = SHMRING_MAX_CHANNELS;
	hdr->size = sh->size;
	hdr->data_start = SR_DATA_START;
	hdr->next = SR_DATA_START;
	atomic_store_explicit(&hdr->magic, SR_LAYOUT_MAGIC,
			      memory_order_relaxed);
	/*
	 * Last: a formatter that dies before this leaves a header to redo,
	 * with the state 0 that the memset above wrote (or that a blank
	 * header had); no formatter leaves any other value but READY.
	 */
	hdr->state = SR_HDR_READY;
	return 0;
}

/* Is the header page zero, apart from the lock word? */
static bool hdr_blank(const struct sr_header *hdr)
{
	const unsigned char *p = (const unsigned char *)hdr;
	size_t i;

	for (i = 0; i < sizeof(*hdr); i++) {
		if (i == offsetof(struct sr_header, lock))
			i += sizeof(hdr->lock) - 1;
		else if (p[i])
			return false;
	}
	return true;
}

static bool name_ok(const char *name)
{
	return memchr(name, '\0', SHMRING_NAME_MAX + 1) && name[0];
}

static bool kind_ok(uint32_t kind)
{
	return kind == SHMRING_MSG || kind == SHMRING_STREAM ||
	       kind == SHMRING_MPMC;
}

/* Region bytes for a ring: computed in 64 bits from checked inputs. */
static uint64_t ring_data_len(uint32_t kind, uint64_t cap, uint64_t stride)
{
	return kind == SHMRING_MPMC ? cap * stride : cap;
}

static uint32_t slot_stride(uint32_t slot_size)
{
	return (uint32_t)sr_align(SR_SLOT_HDR + (uint64_t)slot_size, 8);
}

/* The allocator's bounds, as read once by geom_read(). */
struct sr_geom {
	uint64_t size;		/* bytes the layout covers */
	uint64_t next;		/* first free byte */
};

/*
 * Reads the allocator's bounds, for a caller about to place or reach a
 * region by them; whatever an earlier check saw, they are read and checked
 * anew here. The checks, on the locals:
 *   SR_MIN_BUFFER <= size <= the mapping: below size is inside the mapping;
 *   SR_DATA_START <= next <= size, next aligned: [next, size) is free space
 *   after the header page, and every region below next is inside the
 *   mapping too.
 * (The header's data_start must be SR_DATA_START, which is used instead.)
 */
static int geom_read(const struct shmring *sh, const struct sr_header *hdr,
		     struct sr_geom *g)
{
	g->size = SR_LOAD(hdr->size);
	g->next = SR_LOAD(hdr->next);
	if (g->size < SR_MIN_BUFFER || g->size > sh->size ||
	    g->next < SR_DATA_START || g->next > g->size || g->next % SR_LINE)
		return -EBADMSG;
	return 0;
}

void sr_dirent_read(const struct sr_dirent *e, struct sr_dirent *d)
{
	size_t i;

	d->state = SR_LOAD(e->state);
	d->kind = SR_LOAD(e->kind);
	d->offset = SR_LOAD(e->offset);
	d->length = SR_LOAD(e->length);
	for (i = 0; i < sizeof(d->name); i++)
		d->name[i] = SR_LOAD(e->name[i]);
	d->reserved = 0;
}

/*
 * A region [off, off + len) that a creator could have made: aligned, after
 * the header page, room for a ring's header, and below the allocator, so
 * inside the mapping by geom_read()'s checks on @g. No sum that can wrap:
 * off <= next first, then len against what is left below next.
 */
static bool region_ok(const struct sr_geom *g, uint64_t off, uint64_t len)
{
	return !(off % SR_LINE) && off >= SR_DATA_START &&
	       len >= sizeof(struct sr_ring) && off <= g->next &&
	       len <= g->next - off;
}

/*
 * Takes back an entry a dead creator left in INIT (@d, read once from @e),
 * and its region when it is the last one (the creator had moved next past
 * it). Only a region a creator could have made moves the allocator: one
 * that wraps around the address space to end at next would put next
 * anywhere.
 */
static void dirent_reclaim(struct sr_header *hdr, struct sr_dirent *e,
			   const struct sr_dirent *d, struct sr_geom *g)
{
	if (region_ok(g, d->offset, d->length) &&
	    d->length == g->next - d->offset) {
		g->next = d->offset;
		hdr->next = d->offset;
	}
	memset(e, 0, sizeof(*e));
}

/* A READY entry's own copy @d: its kind, name and region. */
static int dirent_check(const struct sr_geom *g, const struct sr_dirent *d)
{
	if (d->state != SR_DIR_READY || !kind_ok(d->kind) ||
	    !name_ok(d->name) || !region_ok(g, d->offset, d->length))
		return -EBADMSG;
	return 0;
}

static int hdr_check(struct shmring *sh, struct sr_header *hdr)
{
	struct sr_dirent d;
	struct sr_geom g;
	unsigned int i;
	int ret;

	/* These only decide EBADMSG; each is read once. */
	if (atomic_load_explicit(&hdr->magic, memory_order_relaxed) !=
	    SR_LAYOUT_MAGIC || SR_LOAD(hdr->version) != SR_LAYOUT_VERSION ||
	    SR_LOAD(hdr->state) != SR_HDR_READY ||
	    SR_LOAD(hdr->nr_dirents) != SHMRING_MAX_CHANNELS ||
	    SR_LOAD(hdr->data_start) != SR_DATA_START)
		return -EBADMSG;
	ret = geom_read(sh, hdr, &g);
	if (ret)
		return ret;
	/* Dead creators' entries first, so that the rest is checked against
	 * the allocator as it ends up.
	 */
	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		sr_dirent_read(&hdr->dir[i], &d);
		if (d.state == SR_DIR_INIT)
			dirent_reclaim(hdr, &hdr->dir[i], &d, &g);
	}
	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		sr_dirent_read(&hdr->dir[i], &d);
		if (d.state == SR_DIR_FREE || d.state == SR_DIR_INIT)
			continue;	/* INIT: made by a peer since */
		ret = dirent_check(&g, &d);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Locks the header and returns it validated. A blank header is formatted when
 * @create; without it, an unformatted buffer is -ENOENT.
 */
int sr_layout_lock(struct shmring *sh, bool create, struct sr_header **out)
{
	struct sr_header *hdr = (struct sr_header *)sh->base;
	uint32_t magic, state;
	bool stolen;
	int ret;

	if (sh->size < SR_MIN_BUFFER)
		return -EINVAL;
	/* A foreign buffer: say so before trusting its lock word. */
	magic = atomic_load_explicit(&hdr->magic, memory_order_relaxed);
	if (magic && magic != SR_LAYOUT_MAGIC)
		return -EBADMSG;
	ret = sr_lock(&hdr->lock, &stolen);
	if (ret)
		return ret;
	magic = atomic_load_explicit(&hdr->magic, memory_order_relaxed);
	state = SR_LOAD(hdr->state);
	if (!magic || state != SR_HDR_READY) {
		/*
		 * Blank, or a formatter died half way, which leaves state 0
		 * (see hdr_format()); anything else is corruption, not a
		 * reason to drop every channel. These reads decide only that.
		 */
		if (!magic ? !hdr_blank(hdr) : state != 0)
			ret = -EBADMSG;
		else if (!create)
			ret = -ENOENT;
		else
			ret = hdr_format(sh, hdr);
	}
	if (!ret)
		ret = hdr_check(sh, hdr);
	if (ret) {
		sr_unlock(&hdr->lock);
		return ret;
	}
	SR_LAYOUT_HOOK(sh, SR_TEST_LAYOUT_CHECKED);
	*out = hdr;
	return 0;
}

void sr_layout_unlock(struct sr_header *hdr)
{
	sr_unlock(&hdr->lock);
}

/*
 * The reads here only pick an entry (strncmp() stays within the name's 32
 * bytes whatever they hold); sr_ring_bind() reads the entry anew and checks
 * all it uses.
 */
struct sr_dirent *sr_dir_find(struct sr_header *hdr, const char *name)
{
	unsigned int i;

	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		struct sr_dirent *e = &hdr->dir[i];

		if (SR_LOAD(e->state) == SR_DIR_READY &&
		    !strncmp(e->name, name, sizeof(e->name)))
			return e;
	}
	return NULL;
}

int sr_attr_check(const struct shmring_channel_attr *attr)
{
	switch (attr->kind) {
	case SHMRING_MSG:
	case SHMRING_STREAM:
		if (attr->slot_size || !sr_is_pow2(attr->capacity) ||
		    attr->capacity < SHMRING_MIN_CAPACITY ||
		    attr->capacity > SHMRING_MAX_CAPACITY)
			return -EINVAL;
		return 0;
	case SHMRING_MPMC:
		if (!attr->slot_size || attr->slot_size > SHMRING_MAX_SLOT_SIZE ||
		    !sr_is_pow2(attr->capacity) ||
		    attr->capacity < SHMRING_MIN_SLOTS ||
		    attr->capacity > SHMRING_MAX_SLOTS ||
		    attr->capacity * slot_stride(attr->slot_size) >
		    SHMRING_MAX_CAPACITY)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Lays out a new ring at the start of its region. */
static void ring_init(struct sr_ring *r, const struct shmring_channel_attr *a)
{
	uint32_t stride = a->kind == SHMRING_MPMC ? slot_stride(a->slot_size) : 0;

	memset(r, 0, sizeof(*r));
	r->desc.kind = a->kind;
	r->desc.capacity = (uint32_t)a->capacity;
	r->desc.slot_size = a->slot_size;
	r->desc.stride = stride;
	r->desc.data_off = sizeof(*r);
	r->desc.data_len = ring_data_len(a->kind, a->capacity, stride);
	if (a->kind == SHMRING_MPMC)
		sr_mpmc_init(r, (uint32_t)a->capacity, stride);
	r->desc.magic = SR_RING_MAGIC;
}

int sr_dir_create(struct shmring *sh, struct sr_header *hdr, const char *name,
		  const struct shmring_channel_attr *attr,
		  struct sr_dirent **out)
{
	uint64_t len, off, stride = slot_stride(attr->slot_size);
	struct sr_dirent *e = NULL;
	struct sr_geom g;
	unsigned int i;
	int ret;

	for (i = 0; i < SHMRING_MAX_CHANNELS && !e; i++)
		if (SR_LOAD(hdr->dir[i].state) == SR_DIR_FREE)
			e = &hdr->dir[i];
	if (!e)
		return -ENOSPC;
	/* The caller's attr, checked by sr_attr_check(): len is exact. */
	len = sr_align(sizeof(struct sr_ring) +
		       ring_data_len(attr->kind, attr->capacity, stride), SR_LINE);
	/* Read anew, not as sr_layout_lock() saw them: see geom_read(). */
	ret = geom_read(sh, hdr, &g);
	if (ret)
		return ret;
	if (len > g.size - g.next)
		return -ENOSPC;
	/* [off, off + len) lies in [SR_DATA_START, g.size): in the mapping. */
	off = g.next;
	/* INIT first: a creator dying from here on leaves a slot to reclaim. */
	e->state = SR_DIR_INIT;
	e->kind = attr->kind;
	e->offset = off;
	e->length = len;
	hdr->next = off + len;
	memset(e->name, 0, sizeof(e->name));
	memcpy(e->name, name, strlen(name));
	ring_init((struct sr_ring *)(sh->base + off), attr);
	e->state = SR_DIR_READY;
	*out = e;
	return 0;
}

static void desc_read(const struct sr_ring_desc *s, struct sr_ring_desc *d)
{
	d->magic = SR_LOAD(s->magic);
	d->kind = SR_LOAD(s->kind);
	d->capacity = SR_LOAD(s->capacity);
	d->slot_size = SR_LOAD(s->slot_size);
	d->stride = SR_LOAD(s->stride);
	d->reserved0 = 0;
	d->data_off = SR_LOAD(s->data_off);
	d->data_len = SR_LOAD(s->data_len);
}

/*
 * Validates the entry @e (in the directory, or a copy from sr_dirent_read())
 * and the descriptor of the ring it points at, and copies the ring's
 * geometry into the handle, which never reads the descriptor again. Whatever
 * sr_layout_lock() checked, the entry is read again here, once, into @de,
 * and only that copy is checked and used: a READY entry that no longer
 * checks out was changed by someone, which is corruption.
 */
int sr_ring_bind(struct shmring_channel *ch, struct shmring *sh,
		 const struct sr_dirent *e)
{
	struct sr_header *hdr = (struct sr_header *)sh->base;
	struct shmring_channel_attr a;
	struct sr_ring_desc d;
	struct sr_dirent de;
	struct sr_geom g;
	struct sr_ring *r;

	sr_dirent_read(e, &de);
	if (geom_read(sh, hdr, &g) || dirent_check(&g, &de))
		return -EBADMSG;
	/* In the mapping, with room for struct sr_ring: region_ok(). */
	r = (struct sr_ring *)(sh->base + de.offset);
	desc_read(&r->desc, &d);
	a = (struct shmring_channel_attr){
		.kind = d.kind, .slot_size = d.slot_size, .capacity = d.capacity,
	};
	/*
	 * The data, [data_off, data_off + data_len) from r, is exactly what
	 * the checked capacity and slot size need, and within the region
	 * (de.length >= sizeof(*r) == data_off, so no wrap).
	 */
	if (d.magic != SR_RING_MAGIC || d.kind != de.kind || sr_attr_check(&a) ||
	    d.data_off != sizeof(*r) ||
	    d.stride != (d.kind == SHMRING_MPMC ? slot_stride(d.slot_size) : 0) ||
	    d.data_len != ring_data_len(d.kind, d.capacity, d.stride) ||
	    d.data_len > de.length - d.data_off)
		return -EBADMSG;
	ch->sh = sh;
	ch->r = r;
	ch->kind = d.kind;
	ch->cap = d.capacity;
	ch->mask = d.capacity - 1;
	ch->slot_size = d.slot_size;
	ch->stride = d.stride;
	ch->data = r->data;
	if (d.kind == SHMRING_MSG)
		ch->max_msg = d.capacity / 2 - SR_REC_HDR;
	else if (d.kind == SHMRING_MPMC)
		ch->max_msg = d.slot_size;
	return 0;
}

int shmring_format(struct shmring *sh, unsigned int flags)
{
	struct sr_header *hdr;
	int ret;

	if (!sh || flags & ~SHMRING_FORMAT_FORCE || sh->size < SR_MIN_BUFFER)
		return sr_fail(EINVAL);
	if (flags & SHMRING_FORMAT_FORCE) {
		/* Nobody else may use the buffer now, lock word included. */
		hdr = (struct sr_header *)sh->base;
		hdr_format(sh, hdr);
		sr_unlock(&hdr->lock);
		return 0;
	}
	ret = sr_layout_lock(sh, true, &hdr);
	if (ret)
		return sr_fail(-ret);
	sr_layout_unlock(hdr);
	return 0;
}

int shmring_check(struct shmring *sh)
{
	struct sr_header *hdr;
	int ret;

	if (!sh)
		return sr_fail(EINVAL);
	ret = sr_layout_lock(sh, false, &hdr);
	if (ret)
		return sr_fail(-ret);
	sr_layout_unlock(hdr);
	return 0;
}
