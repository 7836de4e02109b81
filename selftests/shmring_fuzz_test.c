// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile ioctl input for /dev/shmring: random command numbers, random
 * argument contents biased towards edge values, and argument pointers that
 * are NULL, unmapped, read-only, PROT_NONE, kernel addresses, straddling
 * into a PROT_NONE page, or valid, through a read-write, a read-only or a
 * write-only open of the device. Every result is checked against what the
 * ABI allows for that input, and exactly where the input decides it.
 *
 * Fuzzed WAITs must not put the fuzzer to sleep for long: a WAIT that would
 * sleep gets its timeout cut to at most a millisecond, except for a few on
 * the words a waker thread keeps waking, which may wait forever. Two
 * sleeper threads sit on those words so that WAKE has someone to wake, and
 * the waker also sends the fuzzer signals. A watchdog reports a call that
 * never returns.
 *
 * ABI 2's ioctls are fuzzed the same way, against a model that makes each
 * result exact. Besides the three opens above, the fuzzer keeps NR_REL
 * more, which it closes and reopens now and then, and up to NR_WATCH
 * watch fds: for each watch fd the words it watches and the open file it
 * holds, for each open file its release actions in order, with their
 * ids. WATCH, WATCH_ADD and WATCH_DEL get offset arrays drawn from a pool
 * of words and from the fd's own words, with now and then a bad offset
 * or one twice, behind every kind of pointer, and nr around
 * SHMRING_WATCH_MAX and around the room the fd has left; RELEASE_ADD and
 * RELEASE_DEL get edge offsets, ops, flags and ids, live, dead and made
 * up. Each command also goes to the wrong kind of fd, and to fds open for
 * the wrong access. When an open file is released, the words its actions
 * name must hold what the model makes of them; a watch fd must be
 * readable after a WAKE the fuzzer sent to a word it watches; fdinfo of
 * every fd must match the model. The fuzzer's watch fds watch at most
 * (NR_WATCH + 1) * SHMRING_WATCH_MAX words, far below
 * SHMRING_WATCH_TOTAL_MAX, provided nothing else on the device watches
 * words meanwhile (the model would predict that ENOSPC too).
 *
 * Afterwards the device must be as usable as before, every fd the fuzzer
 * opened must be closed, and no release action of its left to run later.
 *
 * Environment:
 *   SHMRING_FUZZ_CALLS  number of ioctls (default 100000)
 *   SHMRING_FUZZ_SEED   replay a run with the seed it printed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"
#include "shmring_fuzz.h"

#define DEFAULT_CALLS		100000
/* The longest a fuzzed WAIT may sleep, unless the waker covers its word. */
#define SHORT_NS		NSEC_PER_MSEC
#define WAKER_TICK_US		1000
/* One signal to the fuzzer every this many waker ticks. */
#define SIGNAL_TICKS		16
/* No call takes this long: the waker wakes every covered word in ms. */
#define WATCHDOG_NS		(60 * NSEC_PER_SEC)
/* Runs this long are expected to have hit every kind of outcome. */
#define COVERAGE_CALLS		50000

#define COVERED			4	/* words the waker keeps waking */
#define SLEEPERS		2	/* threads asleep on the covered words */
#define HOT_PAGES		4	/* where most valid offsets fall */
#define ARG_LEN			64	/* argument bytes written per call */

#define NR_MAIN			3	/* fds[]: open for the whole run */
#define NR_REL			3	/* more opens, closed and reopened */
#define NR_DEV			(NR_MAIN + NR_REL)
#define NR_WATCH		6	/* watch fds open at once, at most */
#define NR_POOL			128	/* words the offset arrays mostly name */
/* The buffer page where offset arrays of kind A_SHM go. */
#define ARR_PAGE		(HOT_PAGES + 2)
#define ARR_MAX			(SHMRING_WATCH_MAX * sizeof(uint64_t))
/* One step of fd churn every this many calls, on average. */
#define CHURN_CALLS		32
#define FDINFO_LEN		16384

/* Numbers worth trying on purpose; all of them end in ENOTTY. */
static const unsigned int near_cmds[] = {
	0, UINT_MAX, FIONREAD, FIOQSIZE, TCGETS,
	_IO(SHMRING_IOC_MAGIC, 0), _IO(SHMRING_IOC_MAGIC, 1),
	_IOR(SHMRING_IOC_MAGIC, 0, struct shmring_wait),
	_IOWR(SHMRING_IOC_MAGIC, 0, struct shmring_info),
	_IOR(SHMRING_IOC_MAGIC, 1, struct shmring_wait),
	_IOW(SHMRING_IOC_MAGIC, 1, struct shmring_info),
	_IOW(SHMRING_IOC_MAGIC, 2, struct shmring_wait),
	_IOWR(SHMRING_IOC_MAGIC, 2, struct shmring_wake),
	_IOW(SHMRING_IOC_MAGIC, 3, struct shmring_wake),
	SHMRING_IOC_INFO + 1, SHMRING_IOC_WAIT - 1, SHMRING_IOC_WAKE ^ 0x80,
	_IOR(SHMRING_IOC_MAGIC, 3, struct shmring_watch),
	_IOWR(SHMRING_IOC_MAGIC, 4, struct shmring_watch),
	_IOR(SHMRING_IOC_MAGIC, 5, struct shmring_watch),
	_IOW(SHMRING_IOC_MAGIC, 6, struct shmring_release),
	_IOWR(SHMRING_IOC_MAGIC, 7, struct shmring_release),
	_IOW(SHMRING_IOC_MAGIC, 8, struct shmring_watch),
	_IOWR(SHMRING_IOC_MAGIC, 8, struct shmring_release),
	SHMRING_IOC_WATCH ^ 0x80, SHMRING_IOC_RELEASE_DEL ^ 0x80,
};

/*
 * What do_vfs_ioctl() answers itself for regular files. Some kernels give
 * anonymous inodes S_IFREG ("anon_inode: use a proper mode internally"),
 * and then these do not reach the driver: they never go to a watch fd.
 */
static const unsigned int reg_cmds[] = { FIONREAD, FIOQSIZE, FIBMAP };

static const char * const fd_names[] = {
	[O_RDONLY] = "O_RDONLY", [O_WRONLY] = "O_WRONLY", [O_RDWR] = "O_RDWR",
};

/* Probability weights of each enum ptr_kind, in its order. */
static const unsigned int ptr_weights[] = {
	40, 10, 8, 4, 8, 4, 5, 4, 5, 5, 7,
};

/* Where the @offsets of a struct shmring_watch point. */
enum arr_kind {
	A_VALID,	/* anonymous memory, any alignment */
	A_SHM,		/* inside the shmring buffer */
	A_STRADDLE,	/* starts readable, ends in a PROT_NONE page */
	A_NULL,
	A_LOW,
	A_HOLE,
	A_NONE,
	A_KERNEL,
	NR_ARR_KINDS
};

static const char * const arr_names[] = {
	"valid", "shm", "straddling", "NULL", "low", "unmapped", "PROT_NONE",
	"kernel",
};

static const unsigned int arr_weights[] = { 70, 8, 6, 4, 3, 3, 3, 3 };

static const char * const op_names[] = { "store", "or", "add" };

/* What the ABI allows for one call. */
enum outcome {
	X_ERR,		/* exactly this errno */
	X_INFO,		/* 0 and a sane struct */
	X_WAKE,		/* 0..max_woken */
	X_SLEEP,	/* 0 if woken, ETIMEDOUT when due, EINTR on a signal */
	X_ZERO,		/* 0 */
	X_NEWFD,	/* a new watch fd, with the flags asked for */
	X_RADD,		/* 0, and an id that no action of the file has */
};

struct expect {
	enum outcome kind;
	int err;
	uint32_t max_woken;
};

/* Outcome counts, to show (and check) that every path was taken. */
struct stats {
	unsigned long enotty, efault, einval, eagain, timedout_now, ebadf;
	unsigned long info_ok, wake_ok, wake_woke;
	unsigned long slept, slept_woken, slept_timedout, slept_eintr;
	unsigned long forever;
	unsigned long enoent, enospc;
	unsigned long watch_new, watch_add, watch_del, rel_add, rel_del;
};

/* One release action, as the model has it. */
struct action {
	uint64_t offset;
	uint32_t op, value, id;
};

/*
 * One open file description of the device: the fds[] ones, then NR_REL
 * more. A closed one lives on while watch fds made from it hold it, and
 * its actions run when the last of them goes.
 */
struct dfile {
	int fd;			/* -1 once closed */
	int mode;		/* O_RDWR, O_RDONLY or O_WRONLY */
	int holders;		/* open watch fds made from it */
	unsigned int nr;	/* release actions, in the order added */
	struct action act[SHMRING_RELEASE_MAX];
	uint32_t dead[8];	/* ids deleted lately */
	unsigned int nr_dead;
};

/* One watch fd. */
struct wfile {
	int fd;			/* -1: slot free */
	int dev;		/* the dfile it holds */
	bool nonblock;
	unsigned int nr;	/* words watched */
	uint64_t offs[SHMRING_WATCH_MAX];
	/* Notifications the fuzzer caused since the last read. */
	uint64_t min_count;
};

struct fuzz {
	int fds[3];		/* O_RDWR, O_RDONLY, O_WRONLY */
	int fd_flags[3], fd_fdflags[3];
	uint64_t size, page;
	uint8_t *buf;		/* the whole buffer, shared */
	/* shm_w and shm_r: the buffer's last page, RW and RO. */
	struct fuzz_mem mem;
	uint64_t covered[COVERED];
	uint64_t seed, rng;

	/* The model of ABI 2: dev[i].fd is fds[i] for i < NR_MAIN. */
	struct dfile dev[NR_DEV];
	struct wfile watch[NR_WATCH];
	uint64_t pool[NR_POOL];
	uint8_t *arr;		/* 2 pages RW, then one PROT_NONE: offset arrays */
	unsigned long released;	/* open files released with actions */
	unsigned long watch_reads; /* reads a fuzzed WAKE made readable */

	pthread_t main_thread;
	pthread_t waker, sleepers[SLEEPERS];
	bool threads_started;
	int stop_sleepers, stop_waker;
	int signals;		/* handler runs in the fuzzer thread */
	char bad[256];		/* first failure seen by a helper thread */
	int bad_set;

	/* What the fuzzer is doing, for the watchdog. */
	unsigned long call;
	unsigned long long cur_cmd;
	uint64_t cur_arg;
	uint64_t cur_bytes[3];
};

static struct fuzz *the_fuzz;

static void count_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(&the_fuzz->signals, 1, __ATOMIC_SEQ_CST);
}

/* 1 ns to SHORT_NS, spread over the orders of magnitude. */
static int64_t rnd_short(uint64_t *s)
{
	int64_t max = 1LL << rnd_below(s, 21);

	return 1 + rnd_below(s, max < SHORT_NS ? max : SHORT_NS);
}

static __printf(2, 3) void helper_bad(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&f->bad_set, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(f->bad, sizeof(f->bad), fmt, ap);
	va_end(ap);
}

static bool is_covered(struct fuzz *f, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < COVERED; i++)
		if (f->covered[i] == off)
			return true;
	return false;
}

static bool word_ok(struct fuzz *f, uint64_t off)
{
	return !(off % 4) && off <= f->size - 4;
}

static uint32_t word_at(struct fuzz *f, uint64_t off)
{
	return __atomic_load_n((uint32_t *)(f->buf + off), __ATOMIC_SEQ_CST);
}

/* The model */

static bool mode_reads(int mode)
{
	return mode != O_WRONLY;
}

static bool mode_writes(int mode)
{
	return mode != O_RDONLY;
}

static bool watches(const struct wfile *w, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < w->nr; i++)
		if (w->offs[i] == off)
			return true;
	return false;
}

/* Words all the fuzzer's watch fds watch together. */
static unsigned int watched_total(struct fuzz *f)
{
	unsigned int i, n = 0;

	for (i = 0; i < NR_WATCH; i++)
		if (f->watch[i].fd >= 0)
			n += f->watch[i].nr;
	return n;
}

/* Every watch fd that watches @off has one more notification coming. */
static void notify(struct fuzz *f, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < NR_WATCH; i++)
		if (f->watch[i].fd >= 0 && watches(&f->watch[i], off))
			f->watch[i].min_count++;
}

/* The index of the action with @id, or -1. */
static int find_action(const struct dfile *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < d->nr; i++)
		if (d->act[i].id == id)
			return i;
	return -1;
}

/* Removes action @i, keeping the order of the others. */
static void remove_action(struct dfile *d, unsigned int i)
{
	d->dead[d->nr_dead++ % ARRAY_SIZE(d->dead)] = d->act[i].id;
	memmove(&d->act[i], &d->act[i + 1], (d->nr - i - 1) * sizeof(d->act[0]));
	d->nr--;
}

/* Helper threads */

/* Sleep on the covered words until told to stop; WAKE is their only way out. */
static void *sleeper_fn(void *arg)
{
	struct fuzz *f = arg;
	uint64_t s = f->seed ^ (uintptr_t)&s, off;
	int64_t to;
	int ret;

	while (!__atomic_load_n(&f->stop_sleepers, __ATOMIC_SEQ_CST)) {
		off = f->covered[rnd_below(&s, COVERED)];
		to = rnd_below(&s, 4) ? -1 : rnd_short(&s);
		ret = shmring_wait(f->fds[0], off, word_at(f, off), 0, to);
		if (ret && ret != -EAGAIN && !(ret == -ETIMEDOUT && to > 0)) {
			helper_bad(f, "sleeper: WAIT(%#llx, timeout %lld) = %d",
				   (unsigned long long)off, (long long)to, ret);
			break;
		}
	}
	return NULL;
}

static void watchdog(struct fuzz *f, unsigned long *last_call, int64_t *since)
{
	unsigned long call = __atomic_load_n(&f->call, __ATOMIC_SEQ_CST);
	int64_t now = now_ns();

	if (call != *last_call) {
		*last_call = call;
		*since = now;
		return;
	}
	if (now - *since < WATCHDOG_NS)
		return;
	fprintf(stderr,
		"# fuzz: call %lu has not returned for %lld s: cmd %#llx arg %#llx, bytes %#llx %#llx %#llx (seed %llu)\n",
		call, (long long)((now - *since) / NSEC_PER_SEC), f->cur_cmd,
		(unsigned long long)f->cur_arg,
		(unsigned long long)f->cur_bytes[0],
		(unsigned long long)f->cur_bytes[1],
		(unsigned long long)f->cur_bytes[2],
		(unsigned long long)f->seed);
	fflush(stderr);
	abort();
}

/*
 * Every tick: wake one covered word (all its waiters), WAKE a random word
 * with count 0 (which must wake nobody), now and then signal the fuzzer,
 * and watch that the fuzzer makes progress.
 */
static void *waker_fn(void *arg)
{
	struct fuzz *f = arg;
	uint64_t s = f->seed * 3 + 1, off;
	unsigned long tick, last_call = ~0UL;
	int64_t since = now_ns();
	int ret;

	for (tick = 0; !__atomic_load_n(&f->stop_waker, __ATOMIC_SEQ_CST); tick++) {
		off = f->covered[tick % COVERED];
		ret = shmring_wake(f->fds[0], off, UINT32_MAX);
		/* The sleepers, and the fuzzer itself. */
		if (ret < 0 || ret > SLEEPERS + 1)
			helper_bad(f, "waker: WAKE(%#llx, all) = %d",
				   (unsigned long long)off, ret);
		off = rnd_below(&s, f->size / 4) * 4;
		ret = shmring_wake(f->fds[0], off, 0);
		if (ret)
			helper_bad(f, "waker: WAKE(%#llx, 0) = %d",
				   (unsigned long long)off, ret);
		if (tick % SIGNAL_TICKS == SIGNAL_TICKS - 1)
			pthread_kill(f->main_thread, SIGUSR1);
		watchdog(f, &last_call, &since);
		usleep(WAKER_TICK_US);
	}
	return NULL;
}

static void start_helpers(struct fuzz *f)
{
	sigset_t set, old;
	int i, err;

	/* Only the fuzzer thread takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	err = pthread_create(&f->waker, NULL, waker_fn, f);
	for (i = 0; !err && i < SLEEPERS; i++)
		err = pthread_create(&f->sleepers[i], NULL, sleeper_fn, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		/* Nothing joins half a set: give up on the whole process. */
		fprintf(stderr, "# pthread_create: %s\n", strerror(err));
		exit(KSFT_FAIL);
	}
	f->threads_started = true;
}

/* Sleepers first: the waker keeps waking them until they are gone. */
static void stop_helpers(struct fuzz *f)
{
	int i;

	if (!f->threads_started)
		return;
	__atomic_store_n(&f->stop_sleepers, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < SLEEPERS; i++)
		pthread_join(f->sleepers[i], NULL);
	__atomic_store_n(&f->stop_waker, 1, __ATOMIC_SEQ_CST);
	pthread_join(f->waker, NULL);
	f->threads_started = false;
}

/* Generators, biased towards the edges */

static uint64_t gen_offset(struct fuzz *f)
{
	const uint64_t size = f->size, page = f->page;
	const uint64_t edges[] = {
		0, 4, page - 4, page, size - 4, size - 8, size - page,
		size, size - 3, size - 2, size - 1, size + 4, size + page,
		2 * size, UINT64_MAX, UINT64_MAX - 3, UINT64_MAX - 7,
		1ULL << 63, (1ULL << 63) + 4, 1ULL << 32, (1ULL << 32) + 4,
		INT64_MAX - 3, (uint64_t)-size, (uint64_t)-page,
	};
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 16)) {
	case 0: case 1: case 2: case 3:
		return rnd_below(s, HOT_PAGES * page / 4) * 4;
	case 4: case 5:
		return rnd_below(s, size / 4) * 4;
	case 6: case 7:
		return f->covered[rnd_below(s, COVERED)];
	case 8: case 9: case 10:
		return edges[rnd_below(s, ARRAY_SIZE(edges))];
	case 11:	/* misaligned inside */
		return rnd_below(s, size / 4) * 4 + 1 + rnd_below(s, 3);
	case 12:
		return rnd(s);
	case 13:	/* a power of two, give or take a word */
		return (1ULL << rnd_below(s, 64)) + rnd_below(s, 3) * 4 - 4;
	case 14:	/* just past the end */
		return size + rnd_below(s, 64) * 4;
	default:	/* within a few words of a page boundary */
		return rnd_below(s, size / page) * page + rnd_below(s, 16) - 8;
	}
}

static uint32_t gen_expected(struct fuzz *f, uint64_t off)
{
	uint64_t *s = &f->rng;
	uint32_t cur = word_ok(f, off) ? word_at(f, off) : (uint32_t)rnd(s);
	const uint32_t edges[] = { 0, 1, UINT32_MAX, 0x80000000U, 0x7fffffffU };

	switch (rnd_below(s, 8)) {
	case 0: case 1: case 2: case 3:
		return cur;
	case 4:
		return rnd(s);
	case 5:
		return cur ^ (1U << rnd_below(s, 32));
	case 6:
		return edges[rnd_below(s, ARRAY_SIZE(edges))];
	default:
		return cur + 1;
	}
}

static uint32_t gen_wait_flags(struct fuzz *f)
{
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 16)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		return 0;
	case 7: case 8: case 9: case 10: case 11: case 12:
		return SHMRING_WAIT_ABSTIME;
	case 13:
		return 1U << rnd_below(s, 32);
	case 14:
		return rnd(s);
	default:
		return rnd_below(s, 2) ? UINT32_MAX :
		       SHMRING_WAIT_ABSTIME | 1U << (1 + rnd_below(s, 31));
	}
}

static int64_t gen_timeout(struct fuzz *f, bool abs)
{
	uint64_t *s = &f->rng;
	int64_t now = abs ? now_ns() : 0;

	switch (rnd_below(s, 16)) {
	case 0: case 1:
		return 0;
	case 2: case 3: case 4: case 5: case 6: case 15:
		return now + rnd_short(s);
	case 7:		/* a deadline already past; 1 ns when relative */
		return abs ? now - rnd_short(s) : 1;
	case 8:
		return -1;
	case 9:
		return -(int64_t)(rnd(s) >> 1) - 1;
	case 10:
		return INT64_MIN;
	case 11:
		return INT64_MAX;
	case 12:
		return rnd(s) >> 1;
	case 13:
		return rnd(s);
	default:
		return 1;
	}
}

static uint32_t gen_count(struct fuzz *f)
{
	const uint32_t counts[] = {
		0, 1, 2, 3, SLEEPERS, SLEEPERS + 1, INT_MAX, 0x80000000U,
		UINT32_MAX, UINT32_MAX - 1,
	};
	uint64_t *s = &f->rng;

	if (rnd_below(s, 4))
		return counts[rnd_below(s, ARRAY_SIZE(counts))];
	return rnd(s);
}

static uint32_t gen_wake_flags(struct fuzz *f)
{
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 8)) {
	case 6:
		return 1U << rnd_below(s, 32);
	case 7:
		return rnd(s);
	default:
		return 0;
	}
}

/* @nr of WATCH, ADD or DEL: small, at the limit, or @room, or one more. */
static uint32_t gen_watch_nr(struct fuzz *f, unsigned int room)
{
	const uint32_t edges[] = {
		0, 1, 2, SHMRING_WATCH_MAX - 1, SHMRING_WATCH_MAX,
		SHMRING_WATCH_MAX + 1, 2 * SHMRING_WATCH_MAX, INT_MAX,
		0x80000000U, UINT32_MAX,
	};
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 10)) {
	case 0: case 1: case 2: case 3:
		return 1 + rnd_below(s, 8);
	case 4: case 5:
		return edges[rnd_below(s, ARRAY_SIZE(edges))];
	case 6: case 7:
		return room + rnd_below(s, 2);
	case 8:
		return rnd_below(s, SHMRING_WATCH_MAX + 1);
	default:
		return rnd(s);
	}
}

/*
 * @n distinct offsets for WATCH, or for ADD or DEL on @w: each one of
 * @w's words or one of the pool's, in a proportion drawn per call; pool
 * words @w watches mostly passed over. Unless @clean, now and then one
 * of them is replaced by any offset at all, or by another of the array.
 */
static void gen_offsets(struct fuzz *f, const struct wfile *w, uint64_t *offs,
			unsigned int n, bool clean)
{
	uint64_t mine[SHMRING_WATCH_MAX], pool[NR_POOL], off = 0;
	unsigned int i, j, k = 0, own, nmine = 0, npool = NR_POOL, tries;
	uint64_t *s = &f->rng;
	bool from_mine = false, dup;

	if (w) {
		nmine = w->nr;
		memcpy(mine, w->offs, nmine * sizeof(mine[0]));
	}
	memcpy(pool, f->pool, sizeof(pool));
	/* Out of 4: how often an offset is one of @w's. */
	own = nmine ? rnd_below(s, 5) : 0;
	for (i = 0; i < n; i++) {
		for (tries = 0; tries < 4; tries++) {
			from_mine = nmine && rnd_below(s, 4) < own;
			if (from_mine) {
				k = rnd_below(s, nmine);
				off = mine[k];
			} else {
				k = rnd_below(s, npool);
				off = pool[k];
				if (w && watches(w, off) && rnd_below(s, 4))
					continue;
			}
			for (dup = false, j = 0; j < i && !dup; j++)
				dup = offs[j] == off;
			if (!dup)
				break;
		}
		if (from_mine)
			mine[k] = mine[--nmine];
		else
			pool[k] = pool[--npool];
		offs[i] = off;
	}
	if (clean)
		return;
	if (n && !rnd_below(s, 6))
		offs[rnd_below(s, n)] = gen_offset(f);
	if (n > 1 && !rnd_below(s, 8))
		offs[rnd_below(s, n)] = offs[rnd_below(s, n)];
}

/* SHMRING_WATCH_NONBLOCK is only for WATCH (@watch); ADD and DEL take 0. */
static uint32_t gen_watch_flags(struct fuzz *f, bool watch)
{
	uint64_t *s = &f->rng;

	switch (rnd_below(s, 16)) {
	case 10: case 11: case 12:
		return watch || !rnd_below(s, 3) ? SHMRING_WATCH_NONBLOCK : 0;
	case 13:
		return 1U << rnd_below(s, 32);
	case 14:
		return rnd(s);
	case 15:
		return SHMRING_WATCH_NONBLOCK | 1U << (1 + rnd_below(s, 31));
	default:
		return 0;
	}
}

/* Mostly 0, as it must be. */
static uint64_t gen_reserved(struct fuzz *f)
{
	uint64_t *s = &f->rng;

	if (rnd_below(s, 12))
		return 0;
	return rnd_below(s, 2) ? 1ULL << rnd_below(s, 64) : rnd(s);
}

static uint32_t gen_value(struct fuzz *f)
{
	const uint32_t edges[] = {
		0, 1, 2, UINT32_MAX, 0x80000000U, 0x7fffffffU, 0x10000,
	};
	uint64_t *s = &f->rng;

	if (rnd_below(s, 2))
		return edges[rnd_below(s, ARRAY_SIZE(edges))];
	return rnd(s);
}

static void gen_release_add(struct fuzz *f, struct shmring_release *r)
{
	const uint32_t bad_ops[] = { 3, 4, 0x80000000U, UINT32_MAX };
	uint64_t *s = &f->rng;

	r->offset = rnd_below(s, 4) ? gen_offset(f) : f->pool[rnd_below(s, NR_POOL)];
	if (rnd_below(s, 8))
		r->op = rnd_below(s, 3);
	else
		r->op = rnd_below(s, 2) ? bad_ops[rnd_below(s, ARRAY_SIZE(bad_ops))] : rnd(s);
	r->value = gen_value(f);
	r->flags = gen_wake_flags(f);
	/* Ignored on input. */
	r->id = rnd_below(s, 2) ? 0 : rnd(s);
	r->reserved = gen_reserved(f);
}

/*
 * RELEASE_DEL on @d: the id of one of its actions, of one it had, of
 * another file's, or none; mostly every other field 0, as it must be.
 */
static void gen_release_del(struct fuzz *f, const struct dfile *d,
			    struct shmring_release *r)
{
	const struct dfile *o = &f->dev[rnd_below(&f->rng, NR_DEV)];
	uint64_t *s = &f->rng;

	memset(r, 0, sizeof(*r));
	switch (rnd_below(s, 8)) {
	case 0: case 1: case 2:
		r->id = d->nr ? d->act[rnd_below(s, d->nr)].id : 1 + rnd_below(s, 4);
		break;
	case 3:
		r->id = d->nr_dead ?
			d->dead[rnd_below(s, d->nr_dead < ARRAY_SIZE(d->dead) ?
					  d->nr_dead : ARRAY_SIZE(d->dead))] : 0;
		break;
	case 4:
		r->id = 0;
		break;
	case 5:
		r->id = 1 + rnd_below(s, 2 * SHMRING_RELEASE_MAX);
		break;
	case 6:
		r->id = o->nr ? o->act[rnd_below(s, o->nr)].id : UINT32_MAX;
		break;
	default:
		r->id = rnd(s);
		break;
	}
	if (rnd_below(s, 4))
		return;
	switch (rnd_below(s, 5)) {
	case 0:
		r->offset = rnd_below(s, 2) ? gen_offset(f) : 4;
		break;
	case 1:
		r->op = rnd_below(s, 2) ? 1 + rnd_below(s, 2) : rnd(s);
		break;
	case 2:
		r->value = gen_value(f);
		break;
	case 3:
		r->flags = 1U << rnd_below(s, 32);
		break;
	default:
		r->reserved = gen_reserved(f) | 1ULL << rnd_below(s, 64);
		break;
	}
}

static unsigned int gen_cmd(struct fuzz *f)
{
	static const unsigned int real[] = {
		SHMRING_IOC_INFO, SHMRING_IOC_WAIT, SHMRING_IOC_WAIT,
		SHMRING_IOC_WAKE,
	};
	/* ABI 2, with fewer calls in all than the older ones get. */
	static const unsigned int real2[] = {
		SHMRING_IOC_WATCH, SHMRING_IOC_WATCH_ADD, SHMRING_IOC_WATCH_ADD,
		SHMRING_IOC_WATCH_DEL, SHMRING_IOC_RELEASE_ADD,
		SHMRING_IOC_RELEASE_DEL,
	};
	uint64_t *s = &f->rng;
	unsigned int cmd;

	do {
		switch (rnd_below(s, 26)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		case 7: case 8: case 9: case 10: case 11: case 12:
			cmd = real[rnd_below(s, ARRAY_SIZE(real))];
			break;
		case 13: case 14: case 15: case 16: case 17: case 18:
			cmd = real2[rnd_below(s, ARRAY_SIZE(real2))];
			break;
		case 19: case 20:	/* a real number, other size and direction */
			cmd = rnd_below(s, 2) ? real[rnd_below(s, ARRAY_SIZE(real))] :
			      real2[rnd_below(s, ARRAY_SIZE(real2))];
			cmd = _IOC(rnd_below(s, 4), _IOC_TYPE(cmd), _IOC_NR(cmd),
				   rnd_below(s, 1U << _IOC_SIZEBITS));
			break;
		case 21:		/* our magic, anything else */
			cmd = _IOC(rnd_below(s, 4), SHMRING_IOC_MAGIC,
				   rnd_below(s, 256),
				   rnd_below(s, 1U << _IOC_SIZEBITS));
			break;
		case 22: case 23: case 24:
			cmd = rnd(s);
			break;
		default:
			cmd = near_cmds[rnd_below(s, ARRAY_SIZE(near_cmds))];
			break;
		}
	} while (vfs_cmd(cmd));
	return cmd;
}

static enum ptr_kind gen_ptr_kind(struct fuzz *f)
{
	return pick_weighted(&f->rng, ptr_weights, NR_PTR_KINDS);
}

static enum arr_kind gen_arr_kind(struct fuzz *f)
{
	return pick_weighted(&f->rng, arr_weights, NR_ARR_KINDS);
}

/* Placing an argument */

struct call {
	int dev;			/* the dfile it goes to, or -1 */
	int wf;				/* the wfile it goes to, or -1 */
	int fd;
	int mode;			/* of the device fd */
	unsigned int cmd;		/* what the driver sees */
	unsigned long long raw_cmd;	/* what the syscall gets */
	enum ptr_kind kind;
	uint8_t *ptr;			/* the argument */
	uint8_t *wr;			/* a writable view of it, or NULL */
	size_t len;			/* argument bytes that matter */
	size_t room;			/* bytes accessible from ptr */
	union {
		uint8_t bytes[ARG_LEN];
		struct shmring_wait wait;
		struct shmring_wake wake;
		struct shmring_info info;
		struct shmring_watch watch;
		struct shmring_release release;
	} arg;
	/* The offset array of WATCH, ADD and DEL. */
	enum arr_kind akind;
	uint8_t *arr;			/* where it is, if it is writable */
	size_t arr_room;		/* bytes of it there */
	unsigned int nr_offs;		/* offsets generated, at most SHMRING_WATCH_MAX */
	uint64_t offs[SHMRING_WATCH_MAX];
	struct expect x;
	bool forever;			/* a WAIT allowed to sleep on and on */
	int64_t t0;
};

static size_t arg_len(unsigned int cmd)
{
	switch (cmd) {
	case SHMRING_IOC_INFO:
		return sizeof(struct shmring_info);
	case SHMRING_IOC_WAIT:
		return sizeof(struct shmring_wait);
	case SHMRING_IOC_WAKE:
		return sizeof(struct shmring_wake);
	case SHMRING_IOC_WATCH:
	case SHMRING_IOC_WATCH_ADD:
	case SHMRING_IOC_WATCH_DEL:
		return sizeof(struct shmring_watch);
	case SHMRING_IOC_RELEASE_ADD:
	case SHMRING_IOC_RELEASE_DEL:
		return sizeof(struct shmring_release);
	default:
		return ARG_LEN;
	}
}

static bool watch_cmd(unsigned int cmd)
{
	return cmd == SHMRING_IOC_WATCH || cmd == SHMRING_IOC_WATCH_ADD ||
	       cmd == SHMRING_IOC_WATCH_DEL;
}

static bool reg_cmd(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reg_cmds); i++)
		if (reg_cmds[i] == cmd)
			return true;
	return false;
}

/*
 * The fd a call goes to: mostly one of the kind its command is for, a
 * device fd or a watch fd; now and then the other kind.
 */
static void choose_target(struct fuzz *f, struct call *c)
{
	uint64_t *s = &f->rng;
	unsigned int i, n = 0;
	int live[NR_WATCH];
	bool to_watch;

	switch (c->cmd) {
	case SHMRING_IOC_WATCH_ADD:
	case SHMRING_IOC_WATCH_DEL:
		to_watch = rnd_below(s, 8);
		break;
	case SHMRING_IOC_INFO:
	case SHMRING_IOC_WAIT:
	case SHMRING_IOC_WAKE:
	case SHMRING_IOC_WATCH:
	case SHMRING_IOC_RELEASE_ADD:
	case SHMRING_IOC_RELEASE_DEL:
		to_watch = !rnd_below(s, 8);
		break;
	default:
		to_watch = !rnd_below(s, 3) && !reg_cmd(c->cmd);
		break;
	}
	for (i = 0; i < NR_WATCH; i++)
		if (f->watch[i].fd >= 0)
			live[n++] = i;
	if (to_watch && n) {
		c->dev = -1;
		c->wf = live[rnd_below(s, n)];
		c->fd = f->watch[c->wf].fd;
		c->mode = O_RDONLY;
		return;
	}
	/* fds[] never close, so there is always one. */
	do {
		c->dev = rnd_below(s, NR_DEV);
	} while (f->dev[c->dev].fd < 0);
	c->wf = -1;
	c->fd = f->dev[c->dev].fd;
	c->mode = f->dev[c->dev].mode;
}

/* Chooses where the offset array goes; its bytes are written by place(). */
static void choose_arr(struct fuzz *f, struct call *c)
{
	size_t len = c->nr_offs * sizeof(uint64_t), k;
	uint64_t *s = &f->rng;
	uint8_t *p;

	c->arr = NULL;
	c->arr_room = len;
	switch (c->akind) {
	case A_VALID:
		c->arr = f->arr + rnd_below(s, 2 * f->page - ARR_MAX + 1);
		p = c->arr;
		break;
	case A_SHM:
		c->arr = f->buf + ARR_PAGE * f->page +
			 rnd_below(s, f->page - ARR_MAX + 1);
		p = c->arr;
		break;
	case A_STRADDLE:
		/* 1 to len - 1 bytes before the PROT_NONE page. */
		k = len ? 1 + rnd_below(s, len - 1) : 0;
		c->arr = f->arr + 2 * f->page - k;
		c->arr_room = k;
		p = c->arr;
		break;
	case A_NULL:
		p = NULL;
		break;
	case A_LOW:
		p = low_ptr(s);
		break;
	case A_HOLE:
		p = f->mem.hole + rnd_below(s, f->page);
		break;
	case A_NONE:
		p = f->arr + 2 * f->page + rnd_below(s, f->page);
		break;
	default:
		p = kernel_ptr(s);
		break;
	}
	c->arg.watch.offsets = (uintptr_t)p;
}

/* Every offset of the array can be read, if the kernel reads it. */
static bool arr_readable(const struct call *c)
{
	return c->akind == A_VALID || c->akind == A_SHM;
}

/* Chooses where the argument goes; the bytes are written by place(). */
static void choose_ptr(struct fuzz *f, struct call *c)
{
	fuzz_choose_ptr(&f->mem, &f->rng, c->kind, c->len, ARG_LEN,
			&c->ptr, &c->wr, &c->room);
}

static void place(struct call *c)
{
	if (c->arr)
		memcpy(c->arr, c->offs, c->arr_room);
	fuzz_place(c->kind, c->wr, c->len, c->room, c->arg.bytes);
}

/* Prediction */

static struct expect expect_err(int err)
{
	return (struct expect){ .kind = X_ERR, .err = err };
}

/*
 * The checks of the argument that WATCH, ADD and DEL share, in the
 * kernel's order (shmring_watch_args()): 0, or the errno as errno has it.
 */
static int watch_arg_err(struct fuzz *f, const struct call *c, uint32_t allowed)
{
	const struct shmring_watch *a = &c->arg.watch;
	unsigned int i, j;

	if (!ptr_readable(c->kind))
		return EFAULT;
	if (a->flags & ~allowed || a->reserved[0] || a->reserved[1])
		return EINVAL;
	if (a->nr > SHMRING_WATCH_MAX)
		return ENOSPC;
	if (a->nr && !arr_readable(c))
		return EFAULT;
	for (i = 0; i < a->nr; i++) {
		if (!word_ok(f, c->offs[i]))
			return EINVAL;
		for (j = 0; j < i; j++)
			if (c->offs[j] == c->offs[i])
				return EINVAL;
	}
	return 0;
}

/* On a watch fd only ADD and DEL exist, and need no access mode. */
static struct expect predict_watch_fd(struct fuzz *f, const struct call *c)
{
	const struct wfile *w = &f->watch[c->wf];
	const struct shmring_watch *a = &c->arg.watch;
	unsigned int i;
	int err;

	if (c->cmd != SHMRING_IOC_WATCH_ADD && c->cmd != SHMRING_IOC_WATCH_DEL)
		return expect_err(ENOTTY);
	err = watch_arg_err(f, c, 0);
	if (err)
		return expect_err(err);
	if (c->cmd == SHMRING_IOC_WATCH_ADD) {
		if (w->nr + a->nr > SHMRING_WATCH_MAX)
			return expect_err(ENOSPC);
		for (i = 0; i < a->nr; i++)
			if (watches(w, c->offs[i]))
				return expect_err(EINVAL);
		if (watched_total(f) + a->nr > SHMRING_WATCH_TOTAL_MAX)
			return expect_err(ENOSPC);
	} else {
		for (i = 0; i < a->nr; i++)
			if (!watches(w, c->offs[i]))
				return expect_err(ENOENT);
	}
	return (struct expect){ .kind = X_ZERO };
}

/* From the argument as the kernel will read it, and the buffer's words. */
static struct expect predict(struct fuzz *f, const struct call *c)
{
	const struct shmring_wait *w = &c->arg.wait;
	const struct shmring_wake *k = &c->arg.wake;
	const struct shmring_release *r = &c->arg.release;
	const struct dfile *d;
	int err;

	if (c->wf >= 0)
		return predict_watch_fd(f, c);
	d = &f->dev[c->dev];
	switch (c->cmd) {
	case SHMRING_IOC_INFO:
		if (!ptr_writable(c->kind))
			return expect_err(EFAULT);
		return (struct expect){ .kind = X_INFO };
	case SHMRING_IOC_WAIT:
		/* Before anything else: WAIT needs read access, WAKE write. */
		if (!mode_reads(c->mode))
			return expect_err(EBADF);
		if (!ptr_readable(c->kind))
			return expect_err(EFAULT);
		if (w->flags & ~SHMRING_WAIT_FLAGS)
			return expect_err(EINVAL);
		if (!word_ok(f, w->offset))
			return expect_err(EINVAL);
		if (word_at(f, w->offset) != w->expected)
			return expect_err(EAGAIN);
		if (!w->timeout_ns)
			return expect_err(ETIMEDOUT);
		return (struct expect){ .kind = X_SLEEP };
	case SHMRING_IOC_WAKE:
		if (!mode_writes(c->mode))
			return expect_err(EBADF);
		if (!ptr_readable(c->kind))
			return expect_err(EFAULT);
		if (k->flags)
			return expect_err(EINVAL);
		if (!word_ok(f, k->offset))
			return expect_err(EINVAL);
		/* Only the sleepers ever wait on the covered words. */
		return (struct expect){
			.kind = X_WAKE,
			.max_woken = is_covered(f, k->offset) ?
				     (k->count < SLEEPERS ? k->count : SLEEPERS) : 0,
		};
	case SHMRING_IOC_WATCH:
		/* As WAIT: read access, before the argument. */
		if (!mode_reads(c->mode))
			return expect_err(EBADF);
		err = watch_arg_err(f, c, SHMRING_WATCH_FLAGS);
		if (err)
			return expect_err(err);
		if (watched_total(f) + c->arg.watch.nr > SHMRING_WATCH_TOTAL_MAX)
			return expect_err(ENOSPC);
		return (struct expect){ .kind = X_NEWFD };
	case SHMRING_IOC_RELEASE_ADD:
		/* As WAKE: write access, before the argument. */
		if (!mode_writes(c->mode))
			return expect_err(EBADF);
		if (!ptr_readable(c->kind))
			return expect_err(EFAULT);
		if (r->flags || r->reserved || r->op > SHMRING_RELEASE_ADD ||
		    !word_ok(f, r->offset))
			return expect_err(EINVAL);
		if (d->nr == SHMRING_RELEASE_MAX)
			return expect_err(ENOSPC);
		/* The id goes back last; if it cannot, nothing was added. */
		if (!ptr_writable(c->kind))
			return expect_err(EFAULT);
		return (struct expect){ .kind = X_RADD };
	case SHMRING_IOC_RELEASE_DEL:
		if (!mode_writes(c->mode))
			return expect_err(EBADF);
		if (!ptr_readable(c->kind))
			return expect_err(EFAULT);
		if (!r->id || r->offset || r->op || r->value || r->flags ||
		    r->reserved)
			return expect_err(EINVAL);
		if (find_action(d, r->id) < 0)
			return expect_err(ENOENT);
		return (struct expect){ .kind = X_ZERO };
	default:
		/* WATCH_ADD and WATCH_DEL too: only for watch fds. */
		return expect_err(ENOTTY);
	}
}

/* A WAIT that sleeps past SHORT_NS, unless the waker covers its word. */
static bool too_long(const struct shmring_wait *w)
{
	if (w->timeout_ns < 0)
		return true;
	if (w->flags & SHMRING_WAIT_ABSTIME)
		return w->timeout_ns > now_ns() + SHORT_NS;
	return w->timeout_ns > SHORT_NS;
}

/*
 * Generates the argument, places it and predicts the result. A WAIT that
 * would sleep too long gets a short timeout instead, unless it is one of
 * the few allowed to wait forever on a covered word. Writing the timeout
 * can change the very word it waits on (the argument may sit in the
 * buffer), hence the loop.
 */
static void prepare(struct fuzz *f, struct call *c)
{
	uint64_t *s = &f->rng;
	const struct wfile *w;
	unsigned int room;
	bool forever_ok;
	int tries, i;

	for (i = 0; i < ARG_LEN; i += 8)
		*(uint64_t *)(c->arg.bytes + i) = rnd(s);
	c->len = arg_len(c->cmd);
	choose_target(f, c);
	if (c->cmd == SHMRING_IOC_WAIT) {
		c->arg.wait.offset = gen_offset(f);
		c->arg.wait.expected = gen_expected(f, c->arg.wait.offset);
		c->arg.wait.flags = gen_wait_flags(f);
		c->arg.wait.timeout_ns =
			gen_timeout(f, c->arg.wait.flags & SHMRING_WAIT_ABSTIME);
	} else if (c->cmd == SHMRING_IOC_WAKE) {
		/* Now and then a word that watch fds are likely to watch. */
		c->arg.wake.offset = rnd_below(s, 4) ? gen_offset(f) :
				     f->pool[rnd_below(s, NR_POOL)];
		c->arg.wake.count = gen_count(f);
		c->arg.wake.flags = gen_wake_flags(f);
	} else if (watch_cmd(c->cmd)) {
		w = c->wf >= 0 ? &f->watch[c->wf] : NULL;
		room = w ? w->nr : 0;
		if (c->cmd != SHMRING_IOC_WATCH_DEL)
			room = SHMRING_WATCH_MAX - room;
		c->arg.watch.nr = gen_watch_nr(f, room);
		c->arg.watch.flags = gen_watch_flags(f, c->cmd == SHMRING_IOC_WATCH);
		c->arg.watch.reserved[0] = gen_reserved(f);
		c->arg.watch.reserved[1] = gen_reserved(f);
		c->nr_offs = c->arg.watch.nr < SHMRING_WATCH_MAX ?
			     c->arg.watch.nr : SHMRING_WATCH_MAX;
		gen_offsets(f, w, c->offs, c->nr_offs, false);
		c->akind = gen_arr_kind(f);
		choose_arr(f, c);
	} else if (c->cmd == SHMRING_IOC_RELEASE_ADD) {
		gen_release_add(f, &c->arg.release);
	} else if (c->cmd == SHMRING_IOC_RELEASE_DEL) {
		gen_release_del(f, &f->dev[c->dev >= 0 ? c->dev : 0],
				&c->arg.release);
	}
	choose_ptr(f, c);
	place(c);
	c->x = predict(f, c);
	if (c->x.kind != X_SLEEP)
		return;

	forever_ok = is_covered(f, c->arg.wait.offset) && !rnd_below(s, 4);
	for (tries = 0; c->x.kind == X_SLEEP && !forever_ok &&
	     too_long(&c->arg.wait); tries++) {
		if (tries == 4) {
			/* Give up on sleeping: an unknown flag is EINVAL. */
			c->arg.wait.flags |= 1U << 31;
		} else {
			c->arg.wait.timeout_ns = rnd_short(s);
			if (c->arg.wait.flags & SHMRING_WAIT_ABSTIME)
				c->arg.wait.timeout_ns += now_ns();
		}
		place(c);
		c->x = predict(f, c);
	}
	c->forever = c->x.kind == X_SLEEP && too_long(&c->arg.wait);
}

/* Checking */

static void poke_word(struct fuzz *f)
{
	const uint32_t vals[] = { 0, 1, UINT32_MAX, 0x80000000U };
	uint64_t *s = &f->rng, off;

	off = rnd_below(s, HOT_PAGES * f->page / 4) * 4;
	if (is_covered(f, off))
		return;
	__atomic_store_n((uint32_t *)(f->buf + off),
			 rnd_below(s, 2) ? vals[rnd_below(s, 4)] : (uint32_t)rnd(s),
			 __ATOMIC_SEQ_CST);
}

static void describe(const struct call *c, char *buf, size_t len)
{
	const struct shmring_watch *a = &c->arg.watch;
	const struct shmring_release *r = &c->arg.release;
	unsigned int i;
	size_t n = 0;

	buf[0] = '\0';
	if (c->wf >= 0)
		append(buf, len, &n, "watch fd %d", c->fd);
	else
		append(buf, len, &n, "device fd %d (%s%s)", c->fd,
		       fd_names[c->mode], c->dev < NR_MAIN ? "" : ", churned");
	append(buf, len, &n, ", cmd %#x (passed as %#llx), %s pointer %p",
	       c->cmd, c->raw_cmd, ptr_names[c->kind], (void *)c->ptr);
	if (watch_cmd(c->cmd)) {
		append(buf, len, &n,
		       ", nr %u flags %#x reserved %#llx %#llx, %s offsets %p:",
		       a->nr, a->flags, (unsigned long long)a->reserved[0],
		       (unsigned long long)a->reserved[1], arr_names[c->akind],
		       (void *)(uintptr_t)a->offsets);
		for (i = 0; i < c->nr_offs && i < 8; i++)
			append(buf, len, &n, " %#llx",
			       (unsigned long long)c->offs[i]);
	} else if (c->cmd == SHMRING_IOC_RELEASE_ADD ||
		   c->cmd == SHMRING_IOC_RELEASE_DEL) {
		append(buf, len, &n,
		       ", offset %#llx op %u value %#x flags %#x id %u reserved %#llx",
		       (unsigned long long)r->offset, r->op, r->value, r->flags,
		       r->id, (unsigned long long)r->reserved);
	} else if (c->cmd == SHMRING_IOC_WAIT) {
		append(buf, len, &n,
		       ", WAIT offset %#llx expected %#x flags %#x timeout %lld",
		       (unsigned long long)c->arg.wait.offset,
		       c->arg.wait.expected, c->arg.wait.flags,
		       (long long)c->arg.wait.timeout_ns);
	} else if (c->cmd == SHMRING_IOC_WAKE) {
		append(buf, len, &n, ", WAKE offset %#llx count %#x flags %#x",
		       (unsigned long long)c->arg.wake.offset,
		       c->arg.wake.count, c->arg.wake.flags);
	}
}

/* NULL if @ret/@err is what the ABI allows, else why not. */
static const char *judge(struct fuzz *f, struct call *c, long ret, int err,
			 int64_t t1, int signals, struct stats *st)
{
	static char why[128];
	const struct shmring_wait *w = &c->arg.wait;
	const struct shmring_info *info = (const void *)c->ptr;
	unsigned int i;
	uint32_t id;

	switch (c->x.kind) {
	case X_ERR:
		if (ret != -1 || err != c->x.err) {
			snprintf(why, sizeof(why), "expected %s", errname(c->x.err));
			return why;
		}
		st->enotty += err == ENOTTY;
		st->efault += err == EFAULT;
		st->einval += err == EINVAL;
		st->eagain += err == EAGAIN;
		st->timedout_now += err == ETIMEDOUT;
		st->ebadf += err == EBADF;
		st->enoent += err == ENOENT;
		st->enospc += err == ENOSPC;
		return NULL;
	case X_ZERO:
		if (ret)
			return "expected 0";
		st->watch_add += c->cmd == SHMRING_IOC_WATCH_ADD;
		st->watch_del += c->cmd == SHMRING_IOC_WATCH_DEL;
		st->rel_del += c->cmd == SHMRING_IOC_RELEASE_DEL;
		return NULL;
	case X_NEWFD:
		if (ret < 0)
			return "expected a new watch fd";
		if ((fcntl(ret, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) !=
		    (O_RDONLY | (c->arg.watch.flags & SHMRING_WATCH_NONBLOCK ?
				 O_NONBLOCK : 0)) ||
		    fcntl(ret, F_GETFD) != FD_CLOEXEC)
			return "the new watch fd has the wrong flags";
		st->watch_new++;
		return NULL;
	case X_RADD:
		if (ret)
			return "expected 0";
		memcpy(&id, c->ptr + offsetof(struct shmring_release, id), sizeof(id));
		if (!id || find_action(&f->dev[c->dev], id) >= 0) {
			snprintf(why, sizeof(why), "RELEASE_ADD gave id %u, 0 or in use", id);
			return why;
		}
		st->rel_add++;
		return NULL;
	case X_INFO:
		if (ret)
			return "expected INFO to succeed";
		/*
		 * Only the sleepers wait meanwhile, on the covered words. The
		 * count is a sum over the buckets without their locks, so a
		 * sleeper that moves on to another word during it may be
		 * counted once in each of their buckets.
		 */
		if (info->size != f->size || info->page_size != f->page ||
		    info->abi_version != SHMRING_ABI_VERSION ||
		    info->nr_waiters > SLEEPERS * COVERED || info->reserved0 ||
		    info->features != SHMRING_FEATURES)
			return "INFO filled in wrong";
		for (i = 0; i < ARRAY_SIZE(info->reserved); i++)
			if (info->reserved[i])
				return "INFO reserved not zero";
		st->info_ok++;
		return NULL;
	case X_WAKE:
		if (ret < 0 || ret > c->x.max_woken) {
			snprintf(why, sizeof(why), "expected 0..%u woken",
				 c->x.max_woken);
			return why;
		}
		st->wake_ok++;
		st->wake_woke += ret > 0;
		return NULL;
	default:
		break;
	}

	/* X_SLEEP */
	st->slept++;
	st->forever += c->forever;
	if (!ret) {
		if (!is_covered(f, w->offset))
			return "woken, but nobody wakes that word";
		st->slept_woken++;
		return NULL;
	}
	if (ret != -1)
		return "WAIT returned a positive value";
	if (err == EINTR) {
		if (signals == __atomic_load_n(&f->signals, __ATOMIC_SEQ_CST))
			return "EINTR without a signal";
		st->slept_eintr++;
		return NULL;
	}
	if (err == ETIMEDOUT) {
		/* Timers may fire late, never early. */
		if (w->timeout_ns < 0)
			return "ETIMEDOUT from a wait without timeout";
		if (w->flags & SHMRING_WAIT_ABSTIME ? t1 < w->timeout_ns :
		    w->timeout_ns > INT64_MAX - c->t0 || t1 - c->t0 < w->timeout_ns)
			return "ETIMEDOUT before the timeout";
		st->slept_timedout++;
		return NULL;
	}
	return "expected 0, ETIMEDOUT or EINTR from a sleeping WAIT";
}

/* The guard bytes around a valid argument, and an input left alone. */
static const char *check_memory(const struct call *c, long ret)
{
	const size_t id_at = offsetof(struct shmring_release, id);
	const size_t id_end = id_at + sizeof(c->arg.release.id);
	size_t i;

	if (c->arr && arr_readable(c) && memcmp(c->arr, c->offs, c->arr_room))
		return "the kernel changed the offset array";
	if (c->kind != P_VALID)
		return NULL;
	for (i = 0; i < FUZZ_GUARD; i++)
		if (c->ptr[-1 - (ssize_t)i] != 0x5a || c->ptr[c->len + i] != 0x5a)
			return "the kernel wrote outside the argument";
	if (c->cmd == SHMRING_IOC_INFO && !ret)
		return NULL;
	/* A RELEASE_ADD that worked gives back the id, and nothing else. */
	if (c->cmd == SHMRING_IOC_RELEASE_ADD && !ret) {
		if (memcmp(c->ptr, c->arg.bytes, id_at) ||
		    memcmp(c->ptr + id_end, c->arg.bytes + id_end, c->len - id_end))
			return "RELEASE_ADD changed more than the id";
		return NULL;
	}
	if (memcmp(c->ptr, c->arg.bytes, c->len))
		return "the kernel changed an input-only argument";
	return NULL;
}

/* Keeping the model */

/*
 * close(@fd) drops the last reference to @d's open file, so its actions
 * run before close() returns: in order, each one atomic on its word and
 * then a WAKE of it. Only this thread writes the buffer, so the words
 * must then hold exactly what the model makes of them.
 */
static const char *release(struct fuzz *f, struct dfile *d, int fd)
{
	static char why[160];
	uint64_t off[SHMRING_RELEASE_MAX];
	uint32_t val[SHMRING_RELEASE_MAX], got;
	const struct action *a;
	unsigned int i, j, n = 0;

	for (i = 0; i < d->nr; i++) {
		a = &d->act[i];
		for (j = 0; j < n && off[j] != a->offset; j++)
			;
		if (j == n) {
			off[n] = a->offset;
			val[n++] = word_at(f, a->offset);
		}
		if (a->op == SHMRING_RELEASE_STORE)
			val[j] = a->value;
		else if (a->op == SHMRING_RELEASE_OR)
			val[j] |= a->value;
		else
			val[j] += a->value;
	}
	if (close(fd))
		return "close of a device fd failed";
	for (j = 0; j < n; j++) {
		got = word_at(f, off[j]);
		if (got != val[j]) {
			snprintf(why, sizeof(why),
				 "after the release of %u actions, word %#llx holds %#x, not %#x",
				 d->nr, (unsigned long long)off[j], got, val[j]);
			return why;
		}
	}
	for (i = 0; i < d->nr; i++)
		notify(f, d->act[i].offset);
	f->released += d->nr > 0;
	d->nr = 0;
	d->nr_dead = 0;
	return NULL;
}

/* The watch fd goes, and with it maybe the last hold on its open file. */
static const char *close_watch(struct fuzz *f, struct wfile *w)
{
	struct dfile *d = &f->dev[w->dev];
	int fd = w->fd;

	w->fd = -1;
	w->nr = 0;
	w->min_count = 0;
	if (--d->holders || d->fd >= 0)
		return close(fd) ? "close of a watch fd failed" : NULL;
	return release(f, d, fd);
}

/* A churned open goes; its watch fds may keep the open file alive. */
static const char *close_dev(struct fuzz *f, struct dfile *d)
{
	int fd = d->fd;

	d->fd = -1;
	if (d->holders)
		return close(fd) ? "close of a device fd failed" : NULL;
	return release(f, d, fd);
}

/* A new open of the device in a free slot: fd closed, nothing held. */
static const char *reopen(struct fuzz *f, struct dfile *d)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };

	d->mode = modes[rnd_below(&f->rng, ARRAY_SIZE(modes))];
	d->fd = shmring_open(d->mode);
	d->nr = 0;
	d->nr_dead = 0;
	return d->fd < 0 ? "open of the device failed" : NULL;
}

/*
 * A new watch fd, made from dev[@dev], watching @nr words: kept if a slot
 * is free, or one made free; otherwise closed at once.
 */
static const char *adopt(struct fuzz *f, int dev, int fd, bool nonblock,
			 const uint64_t *offs, unsigned int nr)
{
	struct wfile tmp = { .fd = fd, .dev = dev };
	struct wfile *w = NULL;
	const char *why;
	unsigned int i;

	f->dev[dev].holders++;
	for (i = 0; i < NR_WATCH && !w; i++)
		if (f->watch[i].fd < 0)
			w = &f->watch[i];
	if (!w && rnd_below(&f->rng, 2)) {
		w = &f->watch[rnd_below(&f->rng, NR_WATCH)];
		why = close_watch(f, w);
		if (why)
			return why;
	}
	if (!w)
		return close_watch(f, &tmp);
	*w = (struct wfile){ .fd = fd, .dev = dev, .nonblock = nonblock, .nr = nr };
	memcpy(w->offs, offs, nr * sizeof(offs[0]));
	return NULL;
}

/* The model follows a call that did what it predicted. */
static const char *apply(struct fuzz *f, const struct call *c, long ret)
{
	const struct shmring_watch *a = &c->arg.watch;
	const struct shmring_release *r = &c->arg.release;
	struct dfile *d = c->dev >= 0 ? &f->dev[c->dev] : NULL;
	struct wfile *w = c->wf >= 0 ? &f->watch[c->wf] : NULL;
	unsigned int i, j;
	uint32_t id;

	switch (c->x.kind) {
	case X_WAKE:
		notify(f, c->arg.wake.offset);
		return NULL;
	case X_NEWFD:
		return adopt(f, c->dev, ret, a->flags & SHMRING_WATCH_NONBLOCK,
			     c->offs, a->nr);
	case X_RADD:
		memcpy(&id, c->ptr + offsetof(struct shmring_release, id), sizeof(id));
		d->act[d->nr++] = (struct action){
			.offset = r->offset, .op = r->op, .value = r->value, .id = id,
		};
		return NULL;
	case X_ZERO:
		break;
	default:
		return NULL;
	}
	if (c->cmd == SHMRING_IOC_WATCH_ADD) {
		memcpy(w->offs + w->nr, c->offs, a->nr * sizeof(c->offs[0]));
		w->nr += a->nr;
	} else if (c->cmd == SHMRING_IOC_WATCH_DEL) {
		for (i = 0; i < a->nr; i++) {
			for (j = 0; w->offs[j] != c->offs[i]; j++)
				;
			w->offs[j] = w->offs[--w->nr];
		}
	} else if (c->cmd == SHMRING_IOC_RELEASE_DEL) {
		remove_action(d, find_action(d, r->id));
	}
	return NULL;
}

/*
 * poll() and read() of a watch fd: readable if the fuzzer sent a WAKE to
 * one of its words since the last read, and then read() gives at least
 * that many; the waker's WAKEs of random words may add to it, never take
 * away. A read into less than 8 bytes is EINVAL, whatever the count.
 */
static const char *watch_check(struct fuzz *f, struct wfile *w)
{
	static char why[160];
	struct pollfd p = { .fd = w->fd, .events = POLLIN };
	uint32_t small;
	int64_t v;
	int n;

	if (!rnd_below(&f->rng, 4) &&
	    (read(w->fd, &small, sizeof(small)) != -1 || errno != EINVAL))
		return "a read of 4 bytes from a watch fd was not EINVAL";
	do {
		n = poll(&p, 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (n && p.revents != POLLIN))
		return "poll of a watch fd failed";
	if (w->min_count && !n) {
		snprintf(why, sizeof(why),
			 "watch fd not readable after %llu WAKEs of its words",
			 (unsigned long long)w->min_count);
		return why;
	}
	/* A blocking read with nothing to read would block. */
	if (!n && !w->nonblock)
		return NULL;
	v = shmring_watch_read(w->fd);
	if (n ? v < 1 || (uint64_t)v < w->min_count : v != -EAGAIN && v < 1) {
		snprintf(why, sizeof(why),
			 "read of a watch fd %s readable gave %lld, at least %llu owed",
			 n ? "reported" : "not reported", (long long)v,
			 (unsigned long long)w->min_count);
		return why;
	}
	f->watch_reads += w->min_count > 0;
	w->min_count = 0;
	return NULL;
}

/* Fills @d up to SHMRING_RELEASE_MAX actions, or deletes about half. */
static const char *fill_or_trim(struct fuzz *f, struct dfile *d)
{
	static char why[128];
	uint64_t *s = &f->rng, off;
	uint32_t op, value;
	unsigned int i;
	int64_t id;
	int ret;

	if (!mode_writes(d->mode))
		return NULL;
	if (rnd_below(s, 2)) {
		while (d->nr < SHMRING_RELEASE_MAX) {
			off = f->pool[rnd_below(s, NR_POOL)];
			op = rnd_below(s, 3);
			value = gen_value(f);
			id = shmring_release_add(d->fd, off, op, value);
			if (id <= 0 || find_action(d, id) >= 0) {
				snprintf(why, sizeof(why),
					 "RELEASE_ADD of action %u gave %lld",
					 d->nr, (long long)id);
				return why;
			}
			d->act[d->nr++] = (struct action){
				.offset = off, .op = op, .value = value, .id = id,
			};
		}
		id = shmring_release_add(d->fd, 0, SHMRING_RELEASE_ADD, 1);
		if (id != -ENOSPC) {
			snprintf(why, sizeof(why),
				 "RELEASE_ADD past SHMRING_RELEASE_MAX gave %lld",
				 (long long)id);
			return why;
		}
		return NULL;
	}
	for (i = 0; i < d->nr;) {
		if (rnd_below(s, 2)) {
			i++;
			continue;
		}
		ret = shmring_release_del(d->fd, d->act[i].id);
		if (ret) {
			snprintf(why, sizeof(why), "RELEASE_DEL of id %u gave %d",
				 d->act[i].id, ret);
			return why;
		}
		remove_action(d, i);
	}
	return NULL;
}

/* fdinfo of a device fd lists the actions the model has, in order. */
static const char *check_dev_fdinfo(struct dfile *d, char *buf)
{
	static char why[192];
	unsigned long long off;
	unsigned int id, value, n = 0;
	const struct action *a;
	char op[8];
	char *p;

	if (fdinfo_lines(d->fd, "", buf, FDINFO_LEN))
		return "fdinfo of a device fd unreadable";
	for (p = buf; (p = strstr(p, "shmring-release:")); p++, n++) {
		if (sscanf(p, "shmring-release:\tid=%u offset=0x%llx op=%7s value=0x%x",
			   &id, &off, op, &value) != 4)
			return "fdinfo of a device fd: unparsable action";
		a = n < d->nr ? &d->act[n] : NULL;
		if (!a || id != a->id || off != a->offset ||
		    strcmp(op, op_names[a->op]) || value != a->value) {
			snprintf(why, sizeof(why),
				 "fdinfo of device fd %d: action %u is id %u offset %#llx %s %#x, not as the model has it",
				 d->fd, n, id, off, op, value);
			return why;
		}
	}
	if (n != d->nr) {
		snprintf(why, sizeof(why), "fdinfo of device fd %d lists %u actions, not %u",
			 d->fd, n, d->nr);
		return why;
	}
	return NULL;
}

/* fdinfo of a watch fd lists its words, and at least the count owed. */
static const char *check_watch_fdinfo(struct wfile *w, char *buf)
{
	static char why[160];
	unsigned long long count, off, got[SHMRING_WATCH_MAX];
	unsigned int i, n = 0;
	char *p;
	int len;

	if (fdinfo_lines(w->fd, "", buf, FDINFO_LEN))
		return "fdinfo of a watch fd unreadable";
	p = strstr(buf, "shmring-watch-count:");
	if (!p || sscanf(p, "shmring-watch-count:\t%llu", &count) != 1)
		return "fdinfo of a watch fd has no count";
	if (count < w->min_count) {
		snprintf(why, sizeof(why), "fdinfo of watch fd %d: count %llu, %llu owed",
			 w->fd, count, (unsigned long long)w->min_count);
		return why;
	}
	p = strstr(buf, "shmring-watch-offsets:");
	if (!p)
		return "fdinfo of a watch fd has no offsets";
	p += strlen("shmring-watch-offsets:");
	for (; *p == ' ' && sscanf(p, " 0x%llx%n", &off, &len) == 1; p += len) {
		for (i = 0; i < n && got[i] != off; i++)
			;
		if (!watches(w, off) || i < n || n == SHMRING_WATCH_MAX) {
			snprintf(why, sizeof(why),
				 "fdinfo of watch fd %d lists %#llx, which it does not watch, or twice",
				 w->fd, off);
			return why;
		}
		got[n++] = off;
	}
	/* Distinct, all watched, as many: the same set. */
	if (n != w->nr) {
		snprintf(why, sizeof(why), "fdinfo of watch fd %d lists %u words, not %u",
			 w->fd, n, w->nr);
		return why;
	}
	return NULL;
}

static char fdinfo_buf[FDINFO_LEN];

/* fdinfo of every fd the fuzzer has open agrees with the model. */
static const char *check_model(struct fuzz *f)
{
	const char *why = NULL;
	unsigned int i;

	for (i = 0; !why && i < NR_DEV; i++)
		if (f->dev[i].fd >= 0)
			why = check_dev_fdinfo(&f->dev[i], fdinfo_buf);
	for (i = 0; !why && i < NR_WATCH; i++)
		if (f->watch[i].fd >= 0)
			why = check_watch_fdinfo(&f->watch[i], fdinfo_buf);
	return why;
}

/* Deletes every action fdinfo lists for @fd, whatever the model says. */
static void drop_actions(int fd)
{
	unsigned int id;
	char *p;

	if (fdinfo_lines(fd, "", fdinfo_buf, FDINFO_LEN))
		return;
	for (p = fdinfo_buf; (p = strstr(p, "shmring-release:\tid=")); p++)
		if (sscanf(p, "shmring-release:\tid=%u", &id) == 1)
			shmring_release_del(fd, id);
}

/*
 * Now and then, between calls: a watch fd or a churned open closes (and
 * maybe releases an open file), a free slot is opened again, a watch fd
 * is made, read or polled, an open file's actions are filled to the limit
 * or thinned out, or fdinfo is compared with the model.
 */
static const char *churn(struct fuzz *f)
{
	struct dfile *d = &f->dev[rnd_below(&f->rng, NR_DEV)];
	struct dfile *rel = &f->dev[NR_MAIN + rnd_below(&f->rng, NR_REL)];
	struct wfile *w = &f->watch[rnd_below(&f->rng, NR_WATCH)];
	uint64_t offs[SHMRING_WATCH_MAX], *s = &f->rng;
	unsigned int nr;
	bool nonblock;
	int fd;

	switch (rnd_below(s, 10)) {
	case 0: case 1:
		return w->fd >= 0 ? close_watch(f, w) : NULL;
	case 2:
		return rel->fd >= 0 ? close_dev(f, rel) : NULL;
	case 3: case 4:
		return rel->fd < 0 && !rel->holders ? reopen(f, rel) : NULL;
	case 5:
		if (d->fd < 0 || !mode_reads(d->mode))
			return NULL;
		nr = rnd_below(s, 9);
		nonblock = rnd_below(s, 2);
		gen_offsets(f, NULL, offs, nr, true);
		fd = shmring_watch_new(d->fd, offs, nr,
				       nonblock ? SHMRING_WATCH_NONBLOCK : 0);
		if (fd < 0)
			return "WATCH of valid words failed";
		return adopt(f, d - f->dev, fd, nonblock, offs, nr);
	case 6: case 7:
		return w->fd >= 0 ? watch_check(f, w) : NULL;
	case 8:
		return d->fd >= 0 ? fill_or_trim(f, d) : NULL;
	default:
		return check_model(f);
	}
}

/*
 * The end of the run: every watch fd read and closed and every churned
 * open closed, each release checked as it runs; the actions left on
 * fds[] deleted, so that none runs once the test is over.
 */
static const char *finish(struct fuzz *f)
{
	const char *why = check_model(f);
	struct dfile *d;
	unsigned int i;

	for (i = 0; !why && i < NR_WATCH; i++) {
		if (f->watch[i].fd < 0)
			continue;
		why = watch_check(f, &f->watch[i]);
		if (!why)
			why = close_watch(f, &f->watch[i]);
	}
	for (i = NR_MAIN; !why && i < NR_DEV; i++)
		if (f->dev[i].fd >= 0)
			why = close_dev(f, &f->dev[i]);
	for (i = 0; !why && i < NR_MAIN; i++) {
		d = &f->dev[i];
		while (!why && d->nr) {
			if (shmring_release_del(d->fd, d->act[0].id))
				why = "RELEASE_DEL of an action left at the end failed";
			else
				remove_action(d, 0);
		}
	}
	for (i = 0; !why && i < NR_DEV; i++)
		if (f->dev[i].holders)
			why = "an open file is still held once every watch fd is closed";
	return why ? why : check_model(f);
}

/* Words the offset arrays mostly name: edges, the covered words, hot ones. */
static void make_pool(struct fuzz *f)
{
	const uint64_t fixed[] = {
		0, 4, f->page - 4, f->page, f->size - 8, f->size - 4,
		f->covered[0], f->covered[1], f->covered[2], f->covered[3],
	};
	unsigned int i, j, n = 0;
	uint64_t off;

	for (i = 0; n < NR_POOL; i++) {
		off = i < ARRAY_SIZE(fixed) ? fixed[i] :
		      rnd_below(&f->rng, HOT_PAGES * f->page / 4) * 4;
		for (j = 0; j < n && f->pool[j] != off; j++)
			;
		if (j == n)
			f->pool[n++] = off;
	}
}

/* Fixture */

static void fuzz_setup(struct __test_metadata *_metadata, struct fuzz *f)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	struct shmring_info info;
	struct sigaction sa = { .sa_handler = count_signal };
	const char *why;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < ARRAY_SIZE(f->fds); i++)
		f->fds[i] = -1;
	for (i = 0; i < NR_DEV; i++)
		f->dev[i].fd = -1;
	for (i = 0; i < NR_WATCH; i++)
		f->watch[i].fd = -1;
	f->mem.memfd = -1;
	the_fuzz = f;

	for (i = 0; i < ARRAY_SIZE(f->fds); i++) {
		f->fds[i] = shmring_open(modes[i]);
		ASSERT_LE(0, f->fds[i]) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
		f->fd_flags[i] = fcntl(f->fds[i], F_GETFL);
		f->fd_fdflags[i] = fcntl(f->fds[i], F_GETFD);
		f->dev[i].fd = f->fds[i];
		f->dev[i].mode = modes[i];
	}
	ASSERT_EQ(0, shmring_get_info(f->fds[0], &info));
	f->size = info.size;
	f->page = info.page_size;
	ASSERT_LE(16 * f->page, f->size);
	f->buf = shmring_map_zeroed(f->fds[0], f->size);
	ASSERT_NE(MAP_FAILED, f->buf);
	ASSERT_EQ(0, await_nr_waiters(f->fds[0], 0));

	/* Covered words: across page boundaries, never in the last page. */
	f->covered[0] = f->page - 4;
	f->covered[1] = f->page;
	f->covered[2] = 2 * f->page + 4;
	f->covered[3] = 3 * f->page - 8;

	why = fuzz_mem_map(&f->mem, f->page, "shmring-fuzz", f->fds[0], f->fds[1],
			   f->size - f->page);
	ASSERT_TRUE(!why) TH_LOG("%s: %s", why, strerror(errno));
	f->arr = mmap(NULL, 3 * f->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->arr);
	ASSERT_EQ(0, mprotect(f->arr + 2 * f->page, f->page, PROT_NONE));

	f->seed = fuzz_seed();
	f->rng = f->seed;
	f->main_thread = pthread_self();
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	make_pool(f);
}

static void fuzz_teardown(struct fuzz *f)
{
	unsigned int i;

	stop_helpers(f);
	/* After a failure too, no action of the fuzzer's may run later. */
	for (i = 0; i < NR_DEV; i++)
		if (f->dev[i].fd >= 0)
			drop_actions(f->dev[i].fd);
	for (i = 0; i < NR_WATCH; i++)
		if (f->watch[i].fd >= 0)
			close(f->watch[i].fd);
	for (i = NR_MAIN; i < NR_DEV; i++)
		if (f->dev[i].fd >= 0)
			close(f->dev[i].fd);
	if (f->buf && f->buf != MAP_FAILED)
		munmap(f->buf, f->size);
	if (f->arr && f->arr != MAP_FAILED)
		munmap(f->arr, 3 * f->page);
	fuzz_mem_unmap(&f->mem);
	for (i = 0; i < ARRAY_SIZE(f->fds); i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
}

static bool hole_unmapped(struct fuzz *f)
{
	return msync(f->mem.hole, f->page, MS_ASYNC) == -1 && errno == ENOMEM;
}

FIXTURE(shmring_fuzz) {
	struct fuzz f;
};

FIXTURE_SETUP(shmring_fuzz)
{
	fuzz_setup(_metadata, &self->f);
}

FIXTURE_TEARDOWN(shmring_fuzz)
{
	fuzz_teardown(&self->f);
}

TEST_F_TIMEOUT(shmring_fuzz, hostile_ioctls, 3600)
{
	struct fuzz *f = &self->f;
	unsigned long calls = env_ulong("SHMRING_FUZZ_CALLS", DEFAULT_CALLS, ULONG_MAX);
	struct stats st = { 0 };
	char desc[512], usable[128];
	int64_t start, t1;
	const char *why;
	struct call c;
	unsigned long i;
	int err, signals, nfds;
	long ret;

	ksft_print_msg("fuzz: seed %llu (replay with SHMRING_FUZZ_SEED=%llu), %lu calls\n",
		       (unsigned long long)f->seed, (unsigned long long)f->seed,
		       calls);
	fflush(stdout);
	ASSERT_TRUE(hole_unmapped(f));
	/* Everything the fuzzer opens from here on is closed at the end. */
	nfds = count_fds();
	ASSERT_LT(0, nfds);
	for (i = NR_MAIN; i < NR_DEV; i++)
		ASSERT_EQ(NULL, reopen(f, &f->dev[i])) TH_LOG("open: %s", strerror(errno));
	start_helpers(f);
	start = now_ns();

	for (i = 0; i < calls; i++) {
		if (!rnd_below(&f->rng, CHURN_CALLS)) {
			why = churn(f);
			ASSERT_TRUE(!why) TH_LOG("call %lu (seed %llu): churn: %s", i,
						 (unsigned long long)f->seed, why);
		}
		memset(&c, 0, sizeof(c));
		c.cmd = gen_cmd(f);
		c.raw_cmd = c.cmd;
		/* The syscall takes an unsigned int: high bits must not matter. */
		if (!rnd_below(&f->rng, 8))
			c.raw_cmd |= rnd(&f->rng) << 32;
		c.kind = gen_ptr_kind(f);
		if (!rnd_below(&f->rng, 32))
			poke_word(f);
		prepare(f, &c);

		f->cur_cmd = c.raw_cmd;
		f->cur_arg = (uintptr_t)c.ptr;
		memcpy(f->cur_bytes, c.arg.bytes, sizeof(f->cur_bytes));
		__atomic_store_n(&f->call, i, __ATOMIC_SEQ_CST);

		signals = __atomic_load_n(&f->signals, __ATOMIC_SEQ_CST);
		c.t0 = now_ns();
		ret = syscall(SYS_ioctl, c.fd, c.raw_cmd, c.ptr);
		err = ret == -1 ? errno : 0;
		t1 = now_ns();

		why = judge(f, &c, ret, err, t1, signals, &st);
		if (!why)
			why = check_memory(&c, ret);
		if (why) {
			describe(&c, desc, sizeof(desc));
			TH_LOG("call %lu (seed %llu): %s: got %ld (%s)", i,
			       (unsigned long long)f->seed, desc, ret,
			       errname(err));
			/* A watch fd nobody expected is not left open. */
			if (c.cmd == SHMRING_IOC_WATCH && ret > 2)
				close(ret);
			ASSERT_TRUE(!why) TH_LOG("%s", why);
		}
		why = apply(f, &c, ret);
		ASSERT_TRUE(!why) TH_LOG("call %lu (seed %llu): %s", i,
					 (unsigned long long)f->seed, why);
		ASSERT_EQ(0, __atomic_load_n(&f->bad_set, __ATOMIC_SEQ_CST))
			TH_LOG("%s", f->bad);
	}
	t1 = now_ns();
	stop_helpers(f);
	ASSERT_EQ(0, f->bad_set) TH_LOG("%s", f->bad);
	why = finish(f);
	ASSERT_TRUE(!why) TH_LOG("at the end (seed %llu): %s",
				 (unsigned long long)f->seed, why);
	ASSERT_EQ(nfds, count_fds()) TH_LOG("fds left open");

	ksft_print_msg("fuzz: %lu calls in %.1f s: ENOTTY %lu EFAULT %lu EINVAL %lu EAGAIN %lu ETIMEDOUT at once %lu EBADF %lu\n",
		       calls, (t1 - start) / 1e9, st.enotty, st.efault,
		       st.einval, st.eagain, st.timedout_now, st.ebadf);
	ksft_print_msg("fuzz: INFO %lu, WAKE %lu (%lu woke someone), WAIT slept %lu (%lu without timeout): woken %lu, timed out %lu, EINTR %lu\n",
		       st.info_ok, st.wake_ok, st.wake_woke, st.slept,
		       st.forever, st.slept_woken, st.slept_timedout,
		       st.slept_eintr);
	ksft_print_msg("fuzz: ENOENT %lu ENOSPC %lu; WATCH %lu, ADD %lu, DEL %lu, RELEASE_ADD %lu, RELEASE_DEL %lu; %lu releases checked, %lu reads owed a WAKE\n",
		       st.enoent, st.enospc, st.watch_new, st.watch_add,
		       st.watch_del, st.rel_add, st.rel_del, f->released,
		       f->watch_reads);
	fflush(stdout);

	/* A long run that missed a whole kind of outcome fuzzed too narrowly. */
	if (calls >= COVERAGE_CALLS) {
		ASSERT_LT(0UL, st.enotty);
		ASSERT_LT(0UL, st.efault);
		ASSERT_LT(0UL, st.einval);
		ASSERT_LT(0UL, st.eagain);
		ASSERT_LT(0UL, st.timedout_now);
		ASSERT_LT(0UL, st.ebadf);
		ASSERT_LT(0UL, st.info_ok);
		ASSERT_LT(0UL, st.wake_woke);
		ASSERT_LT(0UL, st.forever);
		ASSERT_LT(0UL, st.slept_woken);
		ASSERT_LT(0UL, st.slept_timedout);
		ASSERT_LT(0UL, st.slept_eintr);
		ASSERT_LT(0UL, st.enoent);
		ASSERT_LT(0UL, st.enospc);
		ASSERT_LT(0UL, st.watch_new);
		ASSERT_LT(0UL, st.watch_add);
		ASSERT_LT(0UL, st.watch_del);
		ASSERT_LT(0UL, st.rel_add);
		ASSERT_LT(0UL, st.rel_del);
		ASSERT_LT(0UL, f->released);
		ASSERT_LT(0UL, f->watch_reads);
	}

	/* Nothing the fuzzer sent may have changed the files themselves. */
	ASSERT_TRUE(hole_unmapped(f));
	for (i = 0; i < ARRAY_SIZE(f->fds); i++) {
		ASSERT_EQ(f->fd_flags[i], fcntl(f->fds[i], F_GETFL));
		ASSERT_EQ(f->fd_fdflags[i], fcntl(f->fds[i], F_GETFD));
	}
	ASSERT_EQ(0, await_nr_waiters(f->fds[0], 0));
	ASSERT_EQ(0, shmring_check_usable(f->fds[0], usable, sizeof(usable)))
		TH_LOG("after fuzzing: %s", usable);
}

TEST_HARNESS_MAIN
