// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile peers: another opener of the buffer writes the header, the
 * directory and the ring descriptors while this one uses them. Nothing may
 * be read or written outside the mapping, and every call may fail only with
 * an error that its documentation gives for what the peer did.
 *
 * The library under test always works on a second mapping of the buffer,
 * with PROT_NONE pages on both sides: an access past either end faults (and
 * the sanitizer builds report it) instead of landing in other memory. The
 * peer writes through the first mapping.
 *
 *   toctou_*     a test hook (SR_LAYOUT_HOOK) changes one field right after
 *                sr_layout_lock() validated the layout, as a peer may at
 *                any time: the library must check what it then uses again
 *   header_state, reclaim
 *                fields left in states a creator or formatter never leaves
 *   memfd_sealed a peer holding the memfd cannot change its size
 *   relabelled_kind
 *                a consistent lie about a ring's kind: only the caller's
 *                expected kind can see through it
 *   flipper      a second process flips fields between their value and
 *                hostile ones in a tight loop while this one creates,
 *                attaches, uses and lists channels (SHMRING_HOSTILE_MS of
 *                it: 2 s, 1 s in the kselftest build for a TCG guest)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define BUF		MiB
#define GUARD		MiB
#ifdef TEST_DEVICE
#define HOSTILE_MS	1000
#else
#define HOSTILE_MS	2000
#endif

static const struct shmring_channel_attr msg_attr = {
	.kind = SHMRING_MSG, .capacity = 4096,
};

/* A second mapping of @peer's buffer, between two PROT_NONE guards. */
static struct shmring *guarded(struct shmring *peer)
{
	size_t size = shmring_size(peer);
	int fd = shmring_fd(peer);
	struct shmring *sh;
	char *area, *base;

	CHECK(fd >= 0);
	area = mmap(NULL, size + 2 * GUARD, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(area != MAP_FAILED);
	base = mmap(area + GUARD, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, 0);
	CHECK(base == area + GUARD);
	CHECK_OK(shmring_attach(base, size, on_device() ?
				SHMRING_BACKEND_DEVICE : SHMRING_BACKEND_FUTEX,
				fd, &sh));
	return sh;
}

static struct sr_header *hdr_of(struct shmring *sh)
{
	return shmring_base(sh);
}

/*
 * Entry @i of the directory, which must hold @name: in a fresh buffer the
 * channels take the entries in the order they are created.
 */
static struct sr_dirent *entry(struct shmring *sh, unsigned int i,
			       const char *name)
{
	struct sr_dirent *e = &hdr_of(sh)->dir[i];

	CHECK(e->state == SR_DIR_READY && !strcmp(e->name, name));
	return e;
}

/*
 * What shmring_channels() reports must be true of a valid layout whatever
 * the peer wrote, since it is what the library checked: callers print the
 * name and trust the region to lie in the buffer.
 */
static void check_info(const struct shmring_chinfo *ci, size_t size)
{
	struct shmring_channel_attr a = {
		.kind = ci->kind, .slot_size = ci->slot_size,
		.capacity = ci->capacity,
	};

	CHECK(memchr(ci->name, '\0', sizeof(ci->name)) && ci->name[0]);
	CHECK(!sr_attr_check(&a));
	CHECK(ci->offset % SR_LINE == 0 && ci->offset >= SR_DATA_START);
	CHECK(ci->length >= sizeof(struct sr_ring) && ci->offset <= size &&
	      ci->length <= size - ci->offset);
	CHECK(ci->used <= ci->capacity);
	CHECK(ci->producers + ci->consumers <= SHMRING_MAX_PEERS);
}

/* ---- the peer at the hook ---- */

#ifdef SR_TEST_HOOKS
static struct shmring *hook_peer;	/* the first mapping */
static void (*armed)(void);		/* runs once, at the next check */
static unsigned int fired;
static uint64_t saved;

static void hook(struct shmring *sh, enum sr_test_point point)
{
	void (*fn)(void) = armed;

	(void)sh;
	if (point != SR_TEST_LAYOUT_CHECKED || !fn)
		return;
	armed = NULL;
	fired++;
	fn();
}

/* A buffer with the MSG channel "v"; the library gets the guarded mapping. */
static struct shmring *setup(void)
{
	struct shmring *sh;

	hook_peer = buffer_new(BUF);
	sh = guarded(hook_peer);
	CHECK_OK(shmring_channel_close(chan(sh, "v", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	sr_test_layout_hook = hook;
	fired = 0;
	return sh;
}

/* The allocator past the end of the buffer. */
static void next_past_end(void)
{
	saved = hdr_of(hook_peer)->next;
	hdr_of(hook_peer)->next = BUF + 4096;
}

/*
 * The allocator is read to place a new ring: a creator that trusted the
 * check would initialise the ring 4 KiB past the mapping.
 */
static int test_toctou_allocator(void)
{
	struct shmring *sh = setup();
	struct shmring_channel *ch;

	armed = next_past_end;
	CHECK_ERR(shmring_channel_open(sh, "w", SHMRING_PRODUCER,
				       SHMRING_CREATE, &msg_attr, &ch),
		  EBADMSG);
	CHECK_EQ(fired, 1);
	hdr_of(hook_peer)->next = saved;
	/* Nothing was half created. */
	CHECK_OK(shmring_check(sh));
	CHECK_EQ(shmring_channels(sh, NULL, 0), 1);
	CHECK_OK(shmring_channel_close(chan(sh, "w", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	CHECK_EQ(shmring_channels(sh, NULL, 0), 2);
	shmring_close(sh);
	shmring_close(hook_peer);
	return 0;
}

/*
 * The region of "v" moved to the last line of the buffer, with a valid
 * descriptor planted there: a ring that starts there has its lock word, the
 * first thing an attach writes, just past the end.
 */
static void region_at_end(void)
{
	char *base = shmring_base(hook_peer);
	struct sr_dirent *e = entry(hook_peer, 0, "v");
	struct sr_ring *fake = (struct sr_ring *)(base + BUF - SR_LINE);

	fake->desc = (struct sr_ring_desc){
		.magic = SR_RING_MAGIC, .kind = SHMRING_MSG, .capacity = 4096,
		.data_off = sizeof(struct sr_ring), .data_len = 4096,
	};
	saved = e->offset;
	e->offset = BUF - SR_LINE;
}

static int test_toctou_region(void)
{
	struct shmring *sh = setup();
	struct shmring_channel *ch;

	armed = region_at_end;
	CHECK_ERR(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0, NULL, &ch),
		  EBADMSG);
	CHECK_EQ(fired, 1);
	entry(hook_peer, 0, "v")->offset = saved;
	CHECK_OK(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0, NULL, &ch));
	CHECK_OK(shmring_channel_close(ch));
	shmring_close(sh);
	shmring_close(hook_peer);
	return 0;
}

static void region_past_end(void)
{
	struct sr_dirent *e = entry(hook_peer, 0, "v");

	saved = e->offset;
	e->offset = BUF + 4096;
}

static char saved_name[SHMRING_NAME_MAX + 1];

static void name_unterminated(void)
{
	struct sr_dirent *e = entry(hook_peer, 0, "v");

	memcpy(saved_name, e->name, sizeof(saved_name));
	memset(e->name, 'x', sizeof(e->name));
}

/*
 * shmring_channels() binds every channel and describes it: the region it
 * reads the descriptor from, and the name and region it reports, must be
 * what it checked.
 */
static int test_toctou_listing(void)
{
	struct shmring *sh = setup();
	struct shmring_chinfo ci;
	struct sr_dirent *e;

	armed = region_past_end;
	CHECK_ERR(shmring_channels(sh, &ci, 1), EBADMSG);
	CHECK_EQ(fired, 1);
	e = &hdr_of(hook_peer)->dir[0];	/* "v", its name intact */
	e->offset = saved;

	armed = name_unterminated;
	CHECK_ERR(shmring_channels(sh, &ci, 1), EBADMSG);
	CHECK_EQ(fired, 2);
	memcpy(e->name, saved_name, sizeof(saved_name));

	CHECK_EQ(shmring_channels(sh, &ci, 1), 1);
	check_info(&ci, BUF);
	CHECK(!strcmp(ci.name, "v") && ci.offset == e->offset &&
	      ci.length == e->length && ci.kind == SHMRING_MSG);
	shmring_close(sh);
	shmring_close(hook_peer);
	return 0;
}
#else
static int no_hooks(void)
{
	printf("# built without SR_TEST_HOOKS\n");
	return TAP_SKIP;
}
#define test_toctou_allocator	no_hooks
#define test_toctou_region	no_hooks
#define test_toctou_listing	no_hooks
#endif /* SR_TEST_HOOKS */

/* ---- states nobody legitimate leaves ---- */

/*
 * A formatter writes the header state last, after zeroing it: 0 is one
 * that died half way (not formatted: ENOENT, and SHMRING_CREATE formats
 * anew), but anything else but READY is corruption, and must not make
 * SHMRING_CREATE drop every channel.
 */
static int test_header_state(void)
{
	struct shmring *peer = buffer_new(BUF), *sh = guarded(peer);
	struct sr_header *h = hdr_of(peer);
	struct shmring_channel *ch;

	CHECK_OK(shmring_channel_close(chan(sh, "v", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	h->state = 0x5a5a5a5a;
	CHECK_ERR(shmring_check(sh), EBADMSG);
	CHECK_ERR(shmring_channel_open(sh, "w", SHMRING_PRODUCER,
				       SHMRING_CREATE, &msg_attr, &ch),
		  EBADMSG);
	h->state = SR_HDR_READY;
	CHECK_EQ(shmring_channels(sh, NULL, 0), 1);

	h->state = 0;
	CHECK_ERR(shmring_check(sh), ENOENT);
	CHECK_EQ(shmring_channels(sh, NULL, 0), 0);
	CHECK_OK(shmring_channel_close(chan(sh, "w", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	CHECK_EQ(shmring_channels(sh, NULL, 0), 1);
	CHECK(h->state == SR_HDR_READY && h->next > SR_DATA_START);
	shmring_close(sh);
	shmring_close(peer);
	return 0;
}

/*
 * An entry in INIT is one a creator left when it died; its region is taken
 * back when it is the last one. One whose region wraps around the end of
 * the address space to end at the allocator must not move the allocator.
 */
static int test_reclaim(void)
{
	struct shmring *peer = buffer_new(BUF), *sh = guarded(peer);
	struct sr_header *h = hdr_of(peer);
	struct shmring_chinfo ci[2];
	struct sr_dirent *e;
	uint64_t off;

	CHECK_OK(shmring_channel_close(chan(sh, "v", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	/* The last region, left in INIT: taken back, and "w" goes there. */
	CHECK_OK(shmring_channel_close(chan(sh, "x", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	e = entry(peer, 1, "x");
	off = e->offset;
	e->state = SR_DIR_INIT;
	CHECK_OK(shmring_channel_close(chan(sh, "w", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	CHECK_EQ(shmring_channels(sh, ci, 2), 2);
	CHECK(!strcmp(ci[1].name, "w") && ci[1].offset == off);

	e = &h->dir[SHMRING_MAX_CHANNELS - 1];
	e->state = SR_DIR_INIT;
	e->kind = SHMRING_MSG;
	e->offset = 0 - (uint64_t)4096;
	e->length = h->next + 4096;	/* offset + length == next, mod 2^64 */
	off = h->next;
	CHECK_OK(shmring_channel_close(chan(sh, "y", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	CHECK(e->state == SR_DIR_FREE && !e->offset && !e->length);
	CHECK(entry(peer, 2, "y")->offset == off);
	CHECK_EQ(shmring_channels(sh, ci, 2), 3);
	check_info(&ci[0], BUF);
	check_info(&ci[1], BUF);
	shmring_close(sh);
	shmring_close(peer);
	return 0;
}

/*
 * A peer that has the memfd can write every byte of it, but cannot change
 * its size: shrunk, it would make the pages past the new end SIGBUS in
 * every mapping.
 */
static int test_memfd_sealed(void)
{
	struct shmring *sh;
	int fd;

	CHECK_OK(shmring_open_memfd(BUF, &sh));
	fd = shmring_fd(sh);
	CHECK(fcntl(fd, F_GET_SEALS) ==
	      (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
	CHECK(ftruncate(fd, BUF / 2) && errno == EPERM);
	CHECK(ftruncate(fd, 2 * BUF) && errno == EPERM);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) && errno == EPERM);
	CHECK_OK(shmring_channel_close(chan(sh, "v", SHMRING_PRODUCER,
					    SHMRING_MSG, 4096, 0)));
	shmring_close(sh);
	return 0;
}

/*
 * Message and stream rings are laid out alike, so a peer that relabels both
 * the entry and the descriptor of a message ring as a stream ring tells a
 * lie that is consistent and safe to bind: an attach without an attr gets a
 * stream channel, and one that names the kind it expects gets EPROTOTYPE.
 */
static int test_relabelled_kind(void)
{
	struct shmring *peer = buffer_new(BUF), *sh = guarded(peer);
	struct sr_dirent *e = &hdr_of(peer)->dir[0];
	struct shmring_channel_attr got;
	struct shmring_channel *p, *c;

	p = chan(sh, "v", SHMRING_PRODUCER, SHMRING_MSG, 4096, 0);
	e->kind = SHMRING_STREAM;
	CHECK_ERR(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0, NULL, &c),
		  EBADMSG);
	((struct sr_ring *)((unsigned char *)shmring_base(peer) +
			    e->offset))->desc.kind = SHMRING_STREAM;
	CHECK_ERR(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0,
				       &msg_attr, &c),
		  EPROTOTYPE);
	CHECK_OK(shmring_channel_open(sh, "v", SHMRING_CONSUMER, 0, NULL, &c));
	CHECK_OK(shmring_channel_attr(c, &got));
	CHECK_EQ(got.kind, SHMRING_STREAM);
	CHECK_ERR(shmring_msg_recv(c, &got, sizeof(got), 0), EINVAL);
	CHECK_OK(shmring_channel_close(c));
	CHECK_OK(shmring_channel_close(p));
	shmring_close(sh);
	shmring_close(peer);
	return 0;
}

/* ---- the flipper ---- */

/*
 * ring_off and desc_busy keep the flipper's writes to ring descriptors on
 * the descriptor of the round's own ring. An entry's offset alone will not
 * do: a free entry keeps the offset of a ring of an earlier format, which
 * may now lie inside a live ring, whose indices a flip there would change
 * (and a flip put back after the library read it is a change it cannot
 * see). The victim publishes its ring once created, and before the next
 * format or create withdraws it and waits until the flipper is not in the
 * middle of a descriptor flip; the flipper announces itself (desc_busy)
 * and then checks that the ring is still the published one. Both sides
 * store, then load the other's word, seq_cst: one of them sees the other.
 */
struct flip_ctl {
	_Atomic bool stop;
	_Atomic uint64_t flips;		/* fields changed and put back */
	uint64_t seed;
	_Atomic uint64_t ring_off;	/* the round's ring, or 0 */
	_Atomic bool desc_busy;		/* the flipper is on ring_off */
};

/* A field of the buffer as the peer sees it. */
struct field {
	void *p;
	unsigned int width;	/* bytes: 1, 4 or 8 */
	bool place;		/* a region offset: see bad_value() */
};

static uint64_t field_load(const struct field *f)
{
	switch (f->width) {
	case 1:
		return __atomic_load_n((uint8_t *)f->p, __ATOMIC_RELAXED);
	case 4:
		return __atomic_load_n((uint32_t *)f->p, __ATOMIC_RELAXED);
	default:
		return __atomic_load_n((uint64_t *)f->p, __ATOMIC_RELAXED);
	}
}

/*
 * Changes the field from @old to @new only if it still holds @old: the
 * flipper never overwrites what the library wrote meanwhile (a channel
 * created, a header formatted), so each flip lasts a moment and the layout
 * is otherwise the one the library made.
 */
static bool field_cas(const struct field *f, uint64_t old, uint64_t new)
{
	uint8_t o1 = (uint8_t)old;
	uint32_t o4 = (uint32_t)old;

	switch (f->width) {
	case 1:
		return __atomic_compare_exchange_n((uint8_t *)f->p, &o1,
				(uint8_t)new, false, __ATOMIC_RELAXED,
				__ATOMIC_RELAXED);
	case 4:
		return __atomic_compare_exchange_n((uint32_t *)f->p, &o4,
				(uint32_t)new, false, __ATOMIC_RELAXED,
				__ATOMIC_RELAXED);
	default:
		return __atomic_compare_exchange_n((uint64_t *)f->p, &old, new,
				false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
}

/*
 * A hostile value for a field now holding @v, from the random @r: random
 * bits, one bit flipped, zero, all ones; for 64-bit fields (sizes and
 * offsets) just past the end of the buffer, straddling it, wrapping to just
 * before its start, or misaligned; for 32-bit ones the neighbours, the top
 * bit, and small numbers (the other kinds and entry states).
 *
 * A region offset never gets a bit from 7 to 31 flipped: that could make it
 * the start of another ring, which the library cannot tell from the real
 * one (a peer can always point an entry at another channel), and the
 * consumer would then rightly find nothing to read.
 */
static uint64_t bad_value(const struct field *f, uint64_t v, uint64_t r)
{
	unsigned int bits = 8 * f->width, bit = (unsigned int)(r >> 16) % bits;
	uint64_t mask = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
	uint64_t k = SR_LINE * ((r >> 8) % 64);
	bool wide = bits == 64;

	switch (r % 8) {
	case 0:
		return mix64(r) & mask;
	case 1:
		if (f->place && bit >= 7 && bit < 32)
			bit += 32;
		return (v ^ (1ULL << bit)) & mask;
	case 2:
		return 0;
	case 3:
		return mask;
	case 4:
		return wide ? BUF + k : (v + 1) & mask;
	case 5:
		return wide ? BUF - SR_LINE - k : (v - 1) & mask;
	case 6:
		return wide ? 0 - SR_LINE - k : 1ULL << (bits - 1);
	default:
		return wide ? v + 8 : (r >> 24) % 8;
	}
}

#define FIELD(x, pl)	((struct field){ &(x), sizeof(x), pl })

/*
 * A field to flip: in the header (not the lock), in one of the first 8
 * directory entries (the victim reformats before it uses more), or in the
 * descriptor of the ring at @ring (see struct flip_ctl). False when there
 * is none.
 */
static bool pick(unsigned char *base, uint64_t r, uint64_t ring,
		 struct field *f)
{
	struct sr_header *h = (struct sr_header *)base;
	struct sr_dirent *e = &h->dir[(r >> 8) % 8];
	unsigned int n = (unsigned int)(r >> 12);
	struct sr_ring_desc *d;

	switch (r % 8) {
	case 0:
	case 1: {
		const struct field hf[] = {
			{ (void *)&h->magic, 4, false },
			FIELD(h->version, false),
			FIELD(h->state, false), FIELD(h->nr_dirents, false),
			FIELD(h->size, false), FIELD(h->data_start, false),
			FIELD(h->next, false),
		};

		/* Half of them on the two that place new rings. */
		*f = hf[n & 1 ? 4 + (n >> 1) % 3 : (n >> 1) % 7];
		return true;
	}
	case 2:
	case 3:
	case 4: {
		const struct field ef[] = {
			FIELD(e->state, false), FIELD(e->kind, false),
			FIELD(e->offset, true), FIELD(e->length, false),
			FIELD(e->name[(n >> 8) % 16], false),
		};

		*f = ef[n % 5];
		return true;
	}
	default:
		if (!ring)
			return false;
		d = &((struct sr_ring *)(base + ring))->desc;
		{
			const struct field df[] = {
				FIELD(d->magic, false), FIELD(d->kind, false),
				FIELD(d->capacity, false),
				FIELD(d->slot_size, false),
				FIELD(d->stride, false),
				FIELD(d->data_off, false),
				FIELD(d->data_len, false),
			};

			*f = df[n % 7];
		}
		return true;
	}
}

struct flipper_arg {
	struct flip_ctl *ctl;
	struct shmring *peer, *sh;	/* the parent's, closed in the child */
	pid_t parent;
};

/* The peer: flip, let the victim see it a moment, put back; again. */
static int flipper(void *arg)
{
	struct flipper_arg *a = arg;
	unsigned char *base = shmring_base(a->peer);
	uint64_t i, r, v, bad, ring;
	struct field f;
	int k, spin;

	/* A victim that crashed must not leave the flipper running. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != a->parent)
		return 1;
	for (i = 0; !atomic_load_explicit(&a->ctl->stop,
					  memory_order_relaxed); i++) {
		r = mix64(a->ctl->seed + i);
		ring = atomic_load(&a->ctl->ring_off);
		if (ring) {
			atomic_store(&a->ctl->desc_busy, true);
			if (atomic_load(&a->ctl->ring_off) != ring)
				ring = 0;
		}
		if (!pick(base, r, ring, &f)) {
			atomic_store(&a->ctl->desc_busy, false);
			continue;
		}
		v = field_load(&f);
		bad = bad_value(&f, v, mix64(r));
		for (k = 0; bad != v && k < 64; k++) {
			if (!field_cas(&f, v, bad))
				break;
			for (spin = (int)(r >> 40) % 16; spin > 0; spin--)
				sr_cpu_relax();
			if (!field_cas(&f, bad, v))
				break;
		}
		atomic_store(&a->ctl->desc_busy, false);
		if (bad != v)
			atomic_fetch_add_explicit(&a->ctl->flips, 1,
						  memory_order_relaxed);
	}
	shmring_close(a->sh);
	shmring_close(a->peer);
	return 0;
}

struct tally {
	uint64_t rounds, used, redirected, listed, badmsg, nospc, noent,
		 prototype;
};

/* Counts @err, which must be 0 or in @ok (0-terminated); returns @err. */
static int expect(struct tally *t, int err, const int *ok, const char *what,
		  int line)
{
	if (!err)
		return 0;
	for (; *ok; ok++)
		if (err == -*ok)
			break;
	if (!*ok) {
		printf("# line %d: %s: %s\n", line, what, strerror(-err));
		exit(1);
	}
	t->badmsg += err == -EBADMSG;
	t->nospc += err == -ENOSPC;
	t->noent += err == -ENOENT;
	t->prototype += err == -EPROTOTYPE;
	return err;
}

#define EXPECT(t, call, ...)						\
	expect(t, call, (const int[]){ __VA_ARGS__, 0 }, #call, __LINE__)

/* Some messages through the pair, all of them back: nothing may fail. */
static void traffic(struct shmring_channel *p, struct shmring_channel *c,
		    uint32_t kind, uint64_t round)
{
	unsigned char buf[128];
	const unsigned char *src;
	size_t got;
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++) {
		src = pattern(round * 4 + (uint64_t)i);
		if (kind == SHMRING_STREAM) {
			CHECK_EQ(shmring_stream_write(p, src, 100, 0), 100);
			for (got = 0; got < 100; got += (size_t)n) {
				n = shmring_stream_read(c, buf + got,
							100 - got, 0);
				CHECK(n > 0);
			}
		} else {
			CHECK_EQ(shmring_msg_send(p, src, 100, 0), 100);
			n = shmring_msg_recv(c, buf, sizeof(buf), 0);
			if (n != 100)
				printf("# kind %u, round %llu, message %d: "
				       "recv %zd\n", kind,
				       (unsigned long long)round, i, n);
			CHECK_EQ(n, 100);
		}
		CHECK(!memcmp(buf, src, 100));
	}
}

/*
 * One round, on a fresh name, so that each creates a channel and no two
 * channels share a name. The name holds the round number twice: two live
 * names of the same length differ in at least two bytes, and cutting one
 * short with a NUL makes no other, so no flip of one byte renames a channel
 * into another (which the library could not tell from a real rename: the
 * consumer would rightly attach to the other channel).
 *
 * The errors each call may give while the peer flips fields, besides
 * EBADMSG (a field the library read was impossible):
 *   - open with SHMRING_CREATE: ENOSPC, when the allocator or the size read
 *     near the end of the buffer says there is no room (the room check is
 *     honest about what it read; and a creator that read a valid next near
 *     the end put its ring there, which leaves the buffer full until the
 *     next format); the directory cannot fill, 6 entries at most are used.
 *     EPROTOTYPE, when the entry just created reads as another valid kind
 *     (the open compares the entry's kind with attr's before it binds the
 *     ring, which would find the descriptor disagree: EBADMSG).
 *     Never ENOENT: SHMRING_CREATE formats what is unformatted.
 *   - open without it: ENOENT, when the header state read 0 (a formatter
 *     that died: not formatted), or the entry read as FREE or renamed, or
 *     as INIT, which made the check take it back. EPROTOTYPE, because the
 *     consumer too names the kind it expects: message and stream rings are
 *     laid out alike, so a peer that flips the entry's kind and then the
 *     descriptor's makes a consistent lie that binding cannot see through,
 *     and only the caller's expectation can.
 *   - shmring_check(): ENOENT, for the header state read 0.
 *   - shmring_channels(): nothing else (unformatted counts 0 channels).
 * Once both ends are open, the ring itself is never flipped: sending,
 * receiving and closing must all succeed.
 */
static void round_of(struct shmring *sh, struct flip_ctl *ctl,
		     struct tally *t, uint64_t round)
{
	static const struct shmring_channel_attr attrs[] = {
		{ .kind = SHMRING_MSG, .capacity = 4096 },
		{ .kind = SHMRING_STREAM, .capacity = 4096 },
		{ .kind = SHMRING_MPMC, .capacity = 16, .slot_size = 120 },
	};
	static struct shmring_chinfo tab[SHMRING_MAX_CHANNELS];
	const struct shmring_channel_attr *a = &attrs[round % 3];
	struct shmring_channel *p, *c;
	char name[SHMRING_NAME_MAX + 1];
	int i, n;

	/* A fresh directory every 6 rounds: entries 0 to 5 are in use. */
	if (!(round % 6))
		CHECK_OK(shmring_format(sh, SHMRING_FORMAT_FORCE));
	snprintf(name, sizeof(name), "h%llu.%llu", (unsigned long long)round,
		 (unsigned long long)round);
	if (!EXPECT(t, shmring_channel_open(sh, name, SHMRING_PRODUCER,
					    SHMRING_CREATE, a, &p),
		    EBADMSG, ENOSPC, EPROTOTYPE)) {
		atomic_store(&ctl->ring_off,
			     (uint64_t)((unsigned char *)p->r -
					(unsigned char *)shmring_base(sh)));
		if (!EXPECT(t, shmring_channel_open(sh, name, SHMRING_CONSUMER,
						    0, a, &c),
			    EBADMSG, ENOENT, EPROTOTYPE)) {
			/*
			 * Both ends bind through the entry, each reading its
			 * offset once. A flip of that offset onto the start
			 * of another valid ring of the same kind (one that an
			 * earlier flip of the allocator put near the end of
			 * the buffer, say) while one end reads it binds that
			 * end to the other ring: the lie of a peer that
			 * points an entry at another channel, which no check
			 * can tell from the truth. The two ends then share
			 * nothing, and no traffic can be asked of them.
			 */
			if (p->r == c->r) {
				traffic(p, c, a->kind, round);
				t->used++;
			} else {
				t->redirected++;
			}
			CHECK_OK(shmring_channel_close(c));
		}
		CHECK_OK(shmring_channel_close(p));
	}
	n = shmring_channels(sh, tab, SHMRING_MAX_CHANNELS);
	if (n >= 0) {
		for (i = 0; i < n && i < SHMRING_MAX_CHANNELS; i++)
			check_info(&tab[i], BUF);
		t->listed++;
	} else {
		EXPECT(t, n, EBADMSG);
	}
	EXPECT(t, shmring_check(sh), EBADMSG, ENOENT);
	/* The next round formats or creates: see struct flip_ctl. */
	atomic_store(&ctl->ring_off, 0);
	while (atomic_load(&ctl->desc_busy))
		sr_cpu_relax();
	t->rounds++;
}

static int test_flipper(void)
{
	struct shmring *peer = buffer_new(BUF), *sh = guarded(peer);
	struct flip_ctl *ctl = shared_alloc(sizeof(*ctl));
	struct flipper_arg fa = { ctl, peer, sh, getpid() };
	int64_t end = now_ns() +
		      (int64_t)env_u64("SHMRING_HOSTILE_MS", HOSTILE_MS) *
		      1000000;
	struct tally t = { 0 };
	pid_t pid;

	pattern(0);
	ctl->seed = (uint64_t)now_ns();
	printf("# seed %llu\n", (unsigned long long)ctl->seed);
	pid = spawn(flipper, &fa);
	while (now_ns() < end)
		round_of(sh, ctl, &t, t.rounds);
	atomic_store(&ctl->stop, true);
	CHECK_EQ(reap(pid), 0);
	printf("# %llu rounds, %llu flips: %llu used a channel (%llu more "
	       "bound to two rings), %llu listed; "
	       "EBADMSG %llu, ENOSPC %llu, ENOENT %llu, EPROTOTYPE %llu\n",
	       (unsigned long long)t.rounds,
	       (unsigned long long)atomic_load(&ctl->flips),
	       (unsigned long long)t.used, (unsigned long long)t.redirected,
	       (unsigned long long)t.listed,
	       (unsigned long long)t.badmsg, (unsigned long long)t.nospc,
	       (unsigned long long)t.noent, (unsigned long long)t.prototype);
	/* Both the way through and the flips were exercised. */
	CHECK(t.used > 0 && t.listed > 0);
	CHECK(t.badmsg > 0 && atomic_load(&ctl->flips) > 0);
	shmring_close(sh);
	shmring_close(peer);
	return 0;
}

TAP_TESTS(
	{ "toctou_allocator", test_toctou_allocator, 0 },
	{ "toctou_region", test_toctou_region, 0 },
	{ "toctou_listing", test_toctou_listing, 0 },
	{ "header_state", test_header_state, 0 },
	{ "reclaim", test_reclaim, 0 },
	{ "memfd_sealed", test_memfd_sealed, 0 },
	{ "relabelled_kind", test_relabelled_kind, 0 },
	{ "flipper", test_flipper, 120 },
);
