/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private to libshmring: the layout in shared memory, the handles, and the
 * helpers the files share. Everything in shared memory is untrusted, and any
 * opener may change it at any time: a value that decides an address or a
 * length is read once into a local (SR_LOAD()), that local is validated, and
 * only it is used; no check of the field itself holds for a later read.
 */
#ifndef SHMRING_INTERNAL_H
#define SHMRING_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmring.h"

/* ---- buffer header, offset 0 ---- */

#define SR_LAYOUT_MAGIC		0x474e5253U	/* "SRNG" */
/*
 * 2: SPSC indices published with plain stores (barrier.c).
 * 3: bells are eventcounts (block.c); participants record how they publish
 *    and where their liveness lock is.
 */
#define SR_LAYOUT_VERSION	3U
#define SR_HDR_READY		0x59444552U	/* "REDY": format complete */
#define SR_DATA_START		4096U		/* regions start here */
#define SR_MIN_BUFFER		(2 * SR_DATA_START)
#define SR_LINE			128U		/* two cache lines: no false
						 * sharing with the adjacent-line
						 * prefetcher either */

enum sr_dir_state {
	SR_DIR_FREE = 0,
	SR_DIR_INIT = 1,	/* being created under the directory lock */
	SR_DIR_READY = 2,	/* immutable from now on */
};

struct sr_dirent {
	uint32_t state;
	uint32_t kind;
	uint64_t offset;	/* region, from the buffer start */
	uint64_t length;
	char name[SHMRING_NAME_MAX + 1];
	uint64_t reserved;
};

/*
 * Written only under @lock, which is a robust lock (see sr_lock()); @magic is
 * also read without it, to reject a foreign buffer early.
 */
struct sr_header {
	_Atomic uint32_t magic;
	uint32_t version;
	uint32_t state;
	uint32_t nr_dirents;
	uint64_t size;		/* bytes the layout covers */
	uint64_t data_start;
	uint64_t next;		/* bump allocator: first free byte */
	_Atomic uint64_t lock;
	uint64_t reserved[2];
	struct sr_dirent dir[SHMRING_MAX_CHANNELS];
};

/* ---- one channel's region ---- */

#define SR_RING_MAGIC		0x474e4952U	/* "RING" */
#define SR_REC_HDR		8U		/* SPSC record header */
#define SR_REC_PAD		0x80000000U	/* record is padding to the end */
#define SR_SLOT_HDR		8U		/* MPMC slot header */

/* Written once at creation, read once at attach into the private handle. */
struct sr_ring_desc {
	uint32_t magic;
	uint32_t kind;
	uint32_t capacity;	/* SPSC bytes, MPMC slots */
	uint32_t slot_size;
	uint32_t stride;	/* MPMC bytes per slot */
	uint32_t reserved0;
	uint64_t data_off;	/* from the region start */
	uint64_t data_len;
};

/*
 * One participant. Written under the channel lock; @pid last (release), so
 * that a lock-free reader that sees it sees the rest.
 */
struct sr_peer {
	_Atomic uint32_t pid;	/* 0: free */
	_Atomic uint32_t role;
	_Atomic uint64_t start;	/* /proc start time; 0 unknown */
	_Atomic uint32_t flags;	/* SR_PEER_* */
	uint32_t reserved;
	_Atomic uint64_t lock_dev;	/* SR_PEER_LOCKED: the file it locked */
	_Atomic uint64_t lock_ino;
};

#define SR_PEER_PLAIN	(1U << 0)	/* publishes SPSC indices plainly */
#define SR_PEER_LOCKED	(1U << 1)	/* holds its liveness lock */
/*
 * The kernel tells of its end (release actions, events.c): when its open
 * file goes, the kernel sets SR_PEER_DEAD here and BROKEN on the channel,
 * and moves both bells on. Survivors then trust that alone, not its pid.
 */
#define SR_PEER_RELEASE	(1U << 2)
#define SR_PEER_DEAD	(1U << 3)

struct sr_ctl {
	_Atomic uint64_t lock;	/* robust lock for attach/close */
	_Atomic uint32_t flags;	/* SHMRING_CH_* */
	uint32_t reserved;
	struct sr_peer peers[SHMRING_MAX_PEERS];
};

/* The bells (block.c): epoch << 1 | armed. Rarely written, cheap to read. */
struct sr_waitq {
	_Atomic uint32_t prod_bell;	/* producers WAIT on it */
	_Atomic uint32_t cons_bell;	/* consumers WAIT on it */
	uint32_t reserved[2];
};

struct sr_ring {
	_Alignas(SR_LINE) struct sr_ring_desc desc;
	_Alignas(SR_LINE) struct sr_ctl ctl;
	_Alignas(SR_LINE) struct sr_waitq wq;
	/* SPSC tail or MPMC enqueue position: written by producers */
	_Alignas(SR_LINE) _Atomic uint32_t tail;
	/* SPSC head or MPMC dequeue position: written by consumers */
	_Alignas(SR_LINE) _Atomic uint32_t head;
	_Alignas(SR_LINE) unsigned char data[];
};

struct sr_slot {
	_Atomic uint32_t seq;
	uint32_t len;		/* 0: skip (a producer closed with it reserved) */
	unsigned char payload[];
};

/* ---- private handles ---- */

struct shmring {
	unsigned char *base;
	size_t size;
	int fd;
	int backend;
	bool own_map;
	bool own_fd;
	uint32_t page_size;
	uint64_t features;	/* the module's SHMRING_FEATURE_*; 0 for memfd */
};

/*
 * What a non-blocking call that returned EAGAIN waited for (block.c), for
 * shmring_channel_arm(): valid while the handle's counters are as then.
 */
struct sr_pending {
	const _Atomic uint32_t *watch;	/* NULL: none */
	uint32_t seen;
	uint32_t flags;
	uint64_t messages;
	uint64_t bytes;
};

/*
 * A pidfd on the participant recorded as @pid, @start (liveness.c); @pid 0:
 * none, so that a zeroed one is empty.
 */
struct sr_pidfd {
	uint32_t pid;
	int fd;
	uint64_t start;
};

/* Release actions of one participant (events.c). */
#define SR_NR_RELEASE	4

struct shmring_channel {
	struct shmring *sh;
	struct sr_ring *r;
	uint32_t kind;
	uint32_t role;
	int peer;		/* our entry in ctl.peers */
	int lock_fd;		/* liveness lock (liveness.c), or -1 */
	int watch_fd;		/* shmring_channel_fd(), or -1 */
	uint32_t release_id[SR_NR_RELEASE];	/* 0: none (events.c) */
	struct sr_pending pending;
	struct shmring_channel *prev, *next;	/* the process's handles */
	bool inherited;		/* a fork() child's copy: owns nothing */
	bool file_known;	/* the buffer's fd is on lock_dev, lock_ino */
	uint64_t lock_dev;
	uint64_t lock_ino;
	bool plain;		/* recorded: its SPSC publishes may be plain */
	uint32_t cap;		/* validated copies of the descriptor */
	uint32_t mask;
	uint32_t slot_size;
	uint32_t stride;
	uint32_t max_msg;
	unsigned char *data;

	/* producer: next write position, last published, cached head */
	uint32_t tail;
	uint32_t tail_pub;
	uint32_t head_cache;
	/* consumer: read cursor, last published, cached tail */
	uint32_t head;
	uint32_t head_pub;
	uint32_t tail_cache;

	bool busy;		/* a reservation, or an MPMC slot held */
	uint32_t res_pos;	/* SPSC: record position; MPMC: slot position */
	uint32_t res_len;	/* reserved length or stream span */
	uint32_t peek_len;	/* stream: peeked span */

	int64_t spin_ns;	/* spin budget before sleeping (block.c) */
	uint64_t spin_mark;	/* stats.messages at the last sleep */
	struct shmring_stats stats;

	/* The peers the kernel does not watch, as checked (liveness.c). */
	struct sr_pidfd pidfd[SHMRING_MAX_PEERS];
};

/* ---- helpers ---- */

/*
 * One load of a plain field of shared memory, which the compiler may neither
 * repeat nor split (the kernel's READ_ONCE()): a value read with it into a
 * local is the value the checks see and the code then uses. Relaxed: it
 * orders nothing, which the layout's readers, under its lock, do not need.
 */
#define SR_LOAD(field)	__atomic_load_n(&(field), __ATOMIC_RELAXED)

/* The one error convention: errno set, and its negation returned. */
static inline int sr_fail(int err)
{
	errno = err;
	return -err;
}

/* Pass a result through, setting errno when it is an error. */
static inline long sr_ret(long ret)
{
	if (ret < 0)
		errno = (int)-ret;
	return ret;
}

/* The channel flags (SHMRING_CH_*), with what was published before them. */
static inline uint32_t sr_flags(struct sr_ring *r)
{
	return atomic_load_explicit(&r->ctl.flags, memory_order_acquire);
}

static inline bool sr_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static inline uint64_t sr_align(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline void sr_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * A call's timeout, turned into a deadline only when the call first has to
 * block (spin or sleep): the fast path never reads the clock.
 */
struct sr_deadline {
	int64_t timeout;	/* as passed: < 0 never, 0 don't block */
	int64_t start;		/* CLOCK_MONOTONIC ns it first blocked, or 0 */
	int64_t end;		/* INT64_MAX for none; valid once started */
	int64_t reap_at;	/* the next liveness check of the peers */
	bool nonblock;
};

/* Bounds of the adaptive spin before a blocking call sleeps (block.c). */
#define SR_SPIN_MIN_NS		30000
#define SR_SPIN_MAX_NS		500000
/* A sleep shorter than this was a pause a longer spin would have covered. */
#define SR_SPIN_REACH_NS	(SR_SPIN_MAX_NS / 2)
/* Messages since the last sleep that make a long sleep a hiccup, not idle. */
#define SR_SPIN_BUSY_MSGS	256
/*
 * The longest sleep of a sleeper that cannot order itself against plain
 * stores (no membarrier) while a peer publishes with them.
 */
#define SR_BARRIER_SLICE_NS	1000000

int64_t sr_now_ns(void);
int64_t sr_deadline_start(struct sr_deadline *dl);
int64_t sr_deadline_left(struct sr_deadline *dl);

static inline void sr_deadline_init(struct sr_deadline *dl, int64_t timeout_ns)
{
	dl->timeout = timeout_ns;
	dl->start = 0;
	dl->nonblock = timeout_ns == 0;
}

/* device.c */
#define SR_ABI_MIN		1	/* the oldest module ABI we speak */
int sr_info_check(const struct shmring_info *info);

/* wait.c: the backend */
int sr_wait_word(struct shmring *sh, const void *word, uint32_t expected,
		 int64_t timeout_ns);
int sr_wake_word(struct shmring *sh, const void *word, uint32_t count);

/* liveness.c */
pid_t sr_self(uint64_t *start);
bool sr_peer_alive(struct sr_pidfd *pf, uint32_t pid, uint64_t start);
void sr_pidfds_drop(struct sr_pidfd *pf, unsigned int n);
int sr_live_lock(int fd, uint64_t byte, uint64_t *dev, uint64_t *ino);
bool sr_live_lock_gone(int probe_fd, uint64_t byte);
int sr_lock(_Atomic uint64_t *lock, bool *stolen);
void sr_unlock(_Atomic uint64_t *lock);

/* layout.c */
#ifdef SR_TEST_HOOKS
/*
 * Test builds only (see SR_HOOK() below for the wake-up protocol's):
 * sr_test_layout_hook, when set, runs at each point, so that a test can act
 * as a peer that writes the buffer at exactly that moment.
 */
enum sr_test_point {
	/* sr_layout_lock() validated the header and directory, still locked */
	SR_TEST_LAYOUT_CHECKED,
};
extern void (*sr_test_layout_hook)(struct shmring *sh,
				   enum sr_test_point point);
#define SR_LAYOUT_HOOK(sh, point) do {					\
	if (sr_test_layout_hook)					\
		sr_test_layout_hook(sh, point);				\
} while (0)
#else
#define SR_LAYOUT_HOOK(sh, point) do { } while (0)
#endif
int sr_layout_lock(struct shmring *sh, bool create, struct sr_header **out);
void sr_layout_unlock(struct sr_header *hdr);
struct sr_dirent *sr_dir_find(struct sr_header *hdr, const char *name);
/* Copies @e with SR_LOAD(), each field once: check and use only the copy. */
void sr_dirent_read(const struct sr_dirent *e, struct sr_dirent *d);
int sr_dir_create(struct shmring *sh, struct sr_header *hdr, const char *name,
		  const struct shmring_channel_attr *attr,
		  struct sr_dirent **out);
int sr_attr_check(const struct shmring_channel_attr *attr);
/* Reads @e anew and checks it: the copy sr_layout_lock() saw is stale. */
int sr_ring_bind(struct shmring_channel *ch, struct shmring *sh,
		 const struct sr_dirent *e);

/* events.c */
void sr_fds_hold(void);
void sr_fds_release(void);
bool sr_release_add(struct shmring_channel *ch);
void sr_release_cancel(struct shmring_channel *ch);
void sr_events_close(struct shmring_channel *ch);
void sr_handles_add(struct shmring_channel *ch);
void sr_handles_del(struct shmring_channel *ch);

/* channel.c */
bool sr_peers_told(const struct shmring_channel *ch);
void sr_ring_reset(struct shmring_channel *ch);
bool sr_channel_reap(struct shmring_channel *ch);
bool sr_plain_peers(const struct shmring_channel *ch);

/* barrier.c */
extern _Atomic bool sr_mb_registered;
void sr_barrier_register(void);
bool sr_barrier(struct shmring_channel *ch);

/*
 * Registered for the sleeper's barrier: SPSC wakers may use plain stores.
 * False in a child of fork() until it registers, at its next attach.
 */
static inline bool sr_barrier_light(void)
{
	return atomic_load_explicit(&sr_mb_registered, memory_order_relaxed);
}

/*
 * Test builds only (-DSR_TEST_HOOKS): a call after each step of the wake-up
 * protocol (block.c), so that a test can stop one side there while the other
 * runs. Release builds compile every SR_HOOK() to nothing.
 */
enum sr_step {
	SR_STEP_CHECKED,	/* the caller checked index and flags: will block */
	SR_STEP_S1,		/* sleeper announced itself */
	SR_STEP_S2,		/* ... and ordered that against every waker */
	SR_STEP_S3,		/* ... and found nothing changed: WAIT next */
	SR_STEP_S4,		/* ... and WAIT returned */
	SR_STEP_W1,		/* waker published (an index, a seq or a flag) */
	SR_STEP_W2,		/* ... and saw a sleeper announced */
	SR_STEP_W3,		/* ... and rang the bell: WAKE next */
	SR_STEP_W4,		/* ... and WAKE returned */
};

#ifdef SR_TEST_HOOKS
extern void (*_Atomic sr_test_hook)(const struct shmring_channel *ch,
				     enum sr_step step);
/*
 * The longest sleep between liveness checks, longer in tests that stop
 * threads for a while: there a WAIT must run out only if a wake-up was lost.
 */
extern _Atomic int64_t sr_test_liveness_ns;
/* Liveness as if /proc, or pidfd_open(), were not there. */
extern _Atomic bool sr_test_no_proc;
extern _Atomic bool sr_test_no_pidfd;
#define SR_LIVENESS_NS \
	atomic_load_explicit(&sr_test_liveness_ns, memory_order_relaxed)
#define SR_HOOK(ch, step) do {						\
	void (*_h)(const struct shmring_channel *, enum sr_step) =	\
		atomic_load_explicit(&sr_test_hook, memory_order_acquire); \
	if (_h)								\
		_h(ch, step);						\
} while (0)
#else
#define SR_HOOK(ch, step) do { } while (0)
#define SR_LIVENESS_NS	SHMRING_LIVENESS_NS
#endif

/* block.c */
enum sr_side {
	SR_WAIT_DATA,		/* a consumer waits for something to read */
	SR_WAIT_ROOM,		/* a producer waits for room */
};
int sr_block(struct shmring_channel *ch, enum sr_side side,
	     const _Atomic uint32_t *watch, uint32_t seen, uint32_t flags,
	     struct sr_deadline *dl);
void sr_notify(struct shmring_channel *ch, enum sr_side side);
void sr_notify_all(struct shmring_channel *ch);
_Atomic uint32_t *sr_bell(struct shmring_channel *ch);
int sr_arm(struct shmring_channel *ch);

/* spsc.c */
int sr_spsc_attach(struct shmring_channel *ch);
int sr_spsc_room(struct shmring_channel *ch, uint32_t need,
		 struct sr_deadline *dl);
int sr_spsc_avail(struct shmring_channel *ch, struct sr_deadline *dl);
void sr_spsc_publish(struct shmring_channel *ch);
void sr_spsc_release(struct shmring_channel *ch);
bool sr_spsc_msg_send_fast(struct shmring_channel *ch, const void *buf,
			   size_t len);
uint32_t sr_spsc_msg_recv_fast(struct shmring_channel *ch, void *buf,
			       size_t len);
int sr_spsc_msg_reserve(struct shmring_channel *ch, size_t len, void **data,
			struct sr_deadline *dl);
int sr_spsc_msg_commit(struct shmring_channel *ch, size_t len,
		       unsigned int flags);
ssize_t sr_spsc_msg_peek(struct shmring_channel *ch, const void **data,
			 struct sr_deadline *dl);

/* mpmc.c */
void sr_mpmc_init(struct sr_ring *r, uint32_t nslots, uint32_t stride);
int sr_mpmc_reserve(struct shmring_channel *ch, size_t len, void **data,
		    struct sr_deadline *dl);
int sr_mpmc_commit(struct shmring_channel *ch, size_t len);
ssize_t sr_mpmc_peek(struct shmring_channel *ch, const void **data,
		     struct sr_deadline *dl);
void sr_mpmc_release(struct shmring_channel *ch);
const void *sr_mpmc_held(const struct shmring_channel *ch);

#endif /* SHMRING_INTERNAL_H */
