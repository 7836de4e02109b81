// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The buffer layout: a header at offset 0 (magic, layout version, the size
 * it covers, a bump allocator and a robust lock), the channel directory in
 * the rest of the first 4 KiB, and one region per channel from 4 KiB on.
 *
 * The directory is changed only under the header lock; a slot goes
 * FREE -> INIT -> READY and a READY slot never changes again. A slot found
 * INIT under the lock belongs to a creator that died (creators hold the lock
 * throughout), so it is taken back. Everything is validated under the lock
 * before use; any impossible field is EBADMSG.
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
void (*sr_test_hook)(struct shmring *sh, enum sr_test_point point);
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
	/* Last: a formatter that dies before this leaves a header to redo. */
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

/* Takes back an entry a dead creator left in INIT. */
static void dirent_reclaim(struct sr_header *hdr, struct sr_dirent *e)
{
	if (e->length && e->offset + e->length == hdr->next)
		hdr->next = e->offset;
	memset(e, 0, sizeof(*e));
}

static int dirent_check(const struct sr_header *hdr, const struct sr_dirent *e)
{
	if (e->state == SR_DIR_FREE || e->state == SR_DIR_INIT)
		return 0;
	if (e->state != SR_DIR_READY || !kind_ok(e->kind) || !name_ok(e->name))
		return -EBADMSG;
	if (e->offset % SR_LINE || e->offset < hdr->data_start ||
	    e->length < sizeof(struct sr_ring) || e->offset > hdr->next ||
	    e->length > hdr->next - e->offset)
		return -EBADMSG;
	return 0;
}

static int hdr_check(struct shmring *sh, struct sr_header *hdr)
{
	unsigned int i;
	int ret;

	if (atomic_load_explicit(&hdr->magic, memory_order_relaxed) !=
	    SR_LAYOUT_MAGIC || hdr->version != SR_LAYOUT_VERSION ||
	    hdr->state != SR_HDR_READY ||
	    hdr->nr_dirents != SHMRING_MAX_CHANNELS ||
	    hdr->data_start != SR_DATA_START || hdr->size < SR_MIN_BUFFER ||
	    hdr->size > sh->size || hdr->next < hdr->data_start ||
	    hdr->next > hdr->size || hdr->next % SR_LINE)
		return -EBADMSG;
	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		if (hdr->dir[i].state == SR_DIR_INIT)
			dirent_reclaim(hdr, &hdr->dir[i]);
		ret = dirent_check(hdr, &hdr->dir[i]);
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
	uint32_t magic;
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
	if (!magic || hdr->state != SR_HDR_READY) {
		/* Blank, or a formatter died half way. */
		if (!magic && !hdr_blank(hdr))
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
	SR_TEST_HOOK(sh, SR_TEST_LAYOUT_CHECKED);
	*out = hdr;
	return 0;
}

void sr_layout_unlock(struct sr_header *hdr)
{
	sr_unlock(&hdr->lock);
}

struct sr_dirent *sr_dir_find(struct sr_header *hdr, const char *name)
{
	unsigned int i;

	for (i = 0; i < SHMRING_MAX_CHANNELS; i++) {
		struct sr_dirent *e = &hdr->dir[i];

		if (e->state == SR_DIR_READY &&
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
	uint64_t len, stride = slot_stride(attr->slot_size);
	struct sr_dirent *e = NULL;
	unsigned int i;

	for (i = 0; i < SHMRING_MAX_CHANNELS && !e; i++)
		if (hdr->dir[i].state == SR_DIR_FREE)
			e = &hdr->dir[i];
	if (!e)
		return -ENOSPC;
	len = sr_align(sizeof(struct sr_ring) +
		       ring_data_len(attr->kind, attr->capacity, stride), SR_LINE);
	if (len > hdr->size - hdr->next)
		return -ENOSPC;
	/* INIT first: a creator dying from here on leaves a slot to reclaim. */
	e->state = SR_DIR_INIT;
	e->kind = attr->kind;
	e->offset = hdr->next;
	e->length = len;
	hdr->next += len;
	memset(e->name, 0, sizeof(e->name));
	memcpy(e->name, name, strlen(name));
	ring_init((struct sr_ring *)(sh->base + e->offset), attr);
	e->state = SR_DIR_READY;
	*out = e;
	return 0;
}

/*
 * Validates the descriptor of the ring that @e points at and copies its
 * geometry into the handle, which never reads the descriptor again.
 */
int sr_ring_bind(struct shmring_channel *ch, struct shmring *sh,
		 const struct sr_dirent *e)
{
	struct sr_ring *r = (struct sr_ring *)(sh->base + e->offset);
	struct sr_ring_desc d = r->desc;
	struct shmring_channel_attr a = {
		.kind = d.kind, .slot_size = d.slot_size, .capacity = d.capacity,
	};

	if (d.magic != SR_RING_MAGIC || d.kind != e->kind || sr_attr_check(&a) ||
	    d.data_off != sizeof(*r) ||
	    d.stride != (d.kind == SHMRING_MPMC ? slot_stride(d.slot_size) : 0) ||
	    d.data_len != ring_data_len(d.kind, d.capacity, d.stride) ||
	    d.data_len > e->length - d.data_off)
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
