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
 * Afterwards the device must be as usable as before.
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
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* Newer than some uapi headers; numbers from include/uapi/linux/fs.h. */
#ifndef FS_IOC_GETFSUUID
#define FS_IOC_GETFSUUID	_IOC(_IOC_READ, 0x15, 0, 17)
#endif
#ifndef FS_IOC_GETFSSYSFSPATH
#define FS_IOC_GETFSSYSFSPATH	_IOC(_IOC_READ, 0x15, 1, 129)
#endif

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
#define GUARD			16	/* checked bytes around a valid argument */

/*
 * Generic ioctls that fs/ioctl.c do_vfs_ioctl() handles itself before the
 * driver sees them; they would change the fd (FIOCLEX, FIONBIO, FIOASYNC)
 * or the filesystem (FIFREEZE), so the fuzzer never sends them. FIONREAD
 * and FIOQSIZE are not here: on a character device they end in ENOTTY
 * like any number the driver does not know.
 */
static const unsigned int vfs_cmds[] = {
	FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIFREEZE, FITHAW,
	FS_IOC_FIEMAP, FIGETBSZ, FICLONE, FICLONERANGE, FIDEDUPERANGE,
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR,
	FS_IOC_FSSETXATTR, FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH,
};

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
};

/* Where the argument points. */
enum ptr_kind {
	P_VALID,	/* anonymous memory, any alignment */
	P_SHM,		/* inside a mapping of the shmring buffer itself */
	P_RO,		/* a PROT_READ page */
	P_SHM_RO,	/* a read-only mapping of the shmring buffer */
	P_STRADDLE,	/* starts readable, ends in a PROT_NONE page */
	P_SHM_STRADDLE,	/* the same at the end of a shmring mapping */
	P_NULL,
	P_LOW,		/* below mmap_min_addr */
	P_HOLE,		/* a page that was unmapped */
	P_NONE,		/* a PROT_NONE page */
	P_KERNEL,	/* kernel, non-canonical, or above 47 bits */
	NR_PTR_KINDS
};

static const char * const fd_names[] = { "O_RDWR", "O_RDONLY", "O_WRONLY" };

static const char * const ptr_names[] = {
	"valid", "shm", "read-only", "shm read-only", "straddling",
	"shm straddling", "NULL", "low", "unmapped", "PROT_NONE", "kernel",
};

/* Probability weights of each kind, in that order. */
static const unsigned int ptr_weights[] = {
	40, 10, 8, 4, 8, 4, 5, 4, 5, 5, 7,
};

static const uint64_t low_ptrs[] = { 0x10, 0x1000, 0x8000 };
static const uint64_t kernel_ptrs[] = {
	0x8000000000000000ULL, 0xffff800000000000ULL, 0xffff888000000000ULL,
	0xffffffff81000000ULL, 0xffffffffff600000ULL, 0xfffffffffffffff8ULL,
	0x7ffffffffffffff8ULL, 0x0000800000000000ULL,
};

static bool ptr_readable(enum ptr_kind k)
{
	return k == P_VALID || k == P_SHM || k == P_RO || k == P_SHM_RO;
}

static bool ptr_writable(enum ptr_kind k)
{
	return k == P_VALID || k == P_SHM;
}

/* What the ABI allows for one call. */
enum outcome {
	X_ERR,		/* exactly this errno */
	X_INFO,		/* 0 and a sane struct */
	X_WAKE,		/* 0..max_woken */
	X_SLEEP,	/* 0 if woken, ETIMEDOUT when due, EINTR on a signal */
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
};

struct fuzz {
	int fds[3];		/* O_RDWR, O_RDONLY, O_WRONLY */
	int fd_flags[3], fd_fdflags[3];
	uint64_t size, page;
	uint8_t *buf;		/* the whole buffer, shared */
	uint8_t *scratch;	/* 2 pages RW, then one PROT_NONE */
	uint8_t *ro_w, *ro_r;	/* one memfd page: writable and read-only views */
	int memfd;
	uint8_t *shm_w, *shm_r;	/* the buffer's last page, RW (then PROT_NONE) and RO */
	uint8_t *hole;		/* unmapped, between two PROT_NONE pages */
	uint64_t covered[COVERED];
	uint64_t seed, rng;

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

/* splitmix64: any seed works, and a printed seed replays the run. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
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

static bool vfs_cmd(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vfs_cmds); i++)
		if (vfs_cmds[i] == cmd)
			return true;
	return false;
}

static unsigned int gen_cmd(struct fuzz *f)
{
	static const unsigned int real[] = {
		SHMRING_IOC_INFO, SHMRING_IOC_WAIT, SHMRING_IOC_WAIT,
		SHMRING_IOC_WAKE,
	};
	uint64_t *s = &f->rng;
	unsigned int cmd;

	do {
		switch (rnd_below(s, 20)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		case 7: case 8: case 9: case 10: case 11: case 12:
			cmd = real[rnd_below(s, ARRAY_SIZE(real))];
			break;
		case 13: case 14:	/* a real number, other size and direction */
			cmd = real[rnd_below(s, ARRAY_SIZE(real))];
			cmd = _IOC(rnd_below(s, 4), _IOC_TYPE(cmd), _IOC_NR(cmd),
				   rnd_below(s, 1U << _IOC_SIZEBITS));
			break;
		case 15:		/* our magic, anything else */
			cmd = _IOC(rnd_below(s, 4), SHMRING_IOC_MAGIC,
				   rnd_below(s, 256),
				   rnd_below(s, 1U << _IOC_SIZEBITS));
			break;
		case 16: case 17: case 18:
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
	unsigned int total = 0, r, k;

	for (k = 0; k < NR_PTR_KINDS; k++)
		total += ptr_weights[k];
	r = rnd_below(&f->rng, total);
	for (k = 0; r >= ptr_weights[k]; k++)
		r -= ptr_weights[k];
	return k;
}

/* Placing an argument */

struct call {
	int fdi;			/* which of the fds: O_RDWR, O_RDONLY, O_WRONLY */
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
	} arg;
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
	default:
		return ARG_LEN;
	}
}

/* Chooses where the argument goes; the bytes are written by place(). */
static void choose_ptr(struct fuzz *f, struct call *c)
{
	uint64_t *s = &f->rng;
	size_t k, at;

	c->wr = NULL;
	c->room = c->len;
	switch (c->kind) {
	case P_VALID:
		at = GUARD + rnd_below(s, 64);
		c->wr = f->scratch + at;
		c->ptr = c->wr;
		break;
	case P_SHM:
	case P_SHM_RO:
		at = rnd_below(s, f->page - ARG_LEN);
		c->wr = f->shm_w + at;
		c->ptr = (c->kind == P_SHM ? f->shm_w : f->shm_r) + at;
		break;
	case P_RO:
		at = rnd_below(s, f->page - ARG_LEN);
		c->wr = f->ro_w + at;
		c->ptr = f->ro_r + at;
		break;
	case P_STRADDLE:
	case P_SHM_STRADDLE:
		/* 1 to len - 1 bytes before the PROT_NONE page. */
		k = 1 + rnd_below(s, c->len - 1);
		c->wr = (c->kind == P_STRADDLE ? f->scratch + 2 * f->page :
			 f->shm_w + f->page) - k;
		c->ptr = c->wr;
		c->room = k;
		break;
	case P_NULL:
		c->ptr = NULL;
		break;
	case P_LOW:
		c->ptr = (uint8_t *)(uintptr_t)low_ptrs[rnd_below(s, ARRAY_SIZE(low_ptrs))];
		break;
	case P_HOLE:
		c->ptr = f->hole + rnd_below(s, f->page - ARG_LEN);
		break;
	case P_NONE:
		c->ptr = f->scratch + 2 * f->page + rnd_below(s, f->page - ARG_LEN);
		break;
	default:
		c->ptr = (uint8_t *)(uintptr_t)kernel_ptrs[rnd_below(s, ARRAY_SIZE(kernel_ptrs))];
		break;
	}
}

static void place(struct call *c)
{
	if (!c->wr)
		return;
	if (c->kind == P_VALID) {
		memset(c->wr - GUARD, 0x5a, GUARD);
		memset(c->wr + c->len, 0x5a, GUARD);
	}
	memcpy(c->wr, c->arg.bytes, c->room);
}

/* Prediction */

static struct expect expect_err(int err)
{
	return (struct expect){ .kind = X_ERR, .err = err };
}

/* From the argument as the kernel will read it, and the buffer's words. */
static struct expect predict(struct fuzz *f, const struct call *c)
{
	const struct shmring_wait *w = &c->arg.wait;
	const struct shmring_wake *k = &c->arg.wake;

	switch (c->cmd) {
	case SHMRING_IOC_INFO:
		if (!ptr_writable(c->kind))
			return expect_err(EFAULT);
		return (struct expect){ .kind = X_INFO };
	case SHMRING_IOC_WAIT:
		/* Before anything else: WAIT needs read access, WAKE write. */
		if (c->fdi == 2)
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
		if (c->fdi == 1)
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
	default:
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
	bool forever_ok;
	int tries, i;

	for (i = 0; i < ARG_LEN; i += 8)
		*(uint64_t *)(c->arg.bytes + i) = rnd(s);
	c->len = arg_len(c->cmd);
	c->fdi = rnd_below(s, 3);
	if (c->cmd == SHMRING_IOC_WAIT) {
		c->arg.wait.offset = gen_offset(f);
		c->arg.wait.expected = gen_expected(f, c->arg.wait.offset);
		c->arg.wait.flags = gen_wait_flags(f);
		c->arg.wait.timeout_ns =
			gen_timeout(f, c->arg.wait.flags & SHMRING_WAIT_ABSTIME);
	} else if (c->cmd == SHMRING_IOC_WAKE) {
		c->arg.wake.offset = gen_offset(f);
		c->arg.wake.count = gen_count(f);
		c->arg.wake.flags = gen_wake_flags(f);
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

static const char *errname(int err)
{
	switch (err) {
	case 0: return "0";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	case ENOTTY: return "ENOTTY";
	case EBADF: return "EBADF";
	default: return strerror(err);
	}
}

static void describe(const struct call *c, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "fd %s, cmd %#x (passed as %#llx), %s pointer %p",
		     fd_names[c->fdi], c->cmd, c->raw_cmd, ptr_names[c->kind],
		     (void *)c->ptr);
	if (n < 0 || (size_t)n >= len)
		return;
	if (c->cmd == SHMRING_IOC_WAIT)
		snprintf(buf + n, len - n,
			 ", WAIT offset %#llx expected %#x flags %#x timeout %lld",
			 (unsigned long long)c->arg.wait.offset,
			 c->arg.wait.expected, c->arg.wait.flags,
			 (long long)c->arg.wait.timeout_ns);
	else if (c->cmd == SHMRING_IOC_WAKE)
		snprintf(buf + n, len - n, ", WAKE offset %#llx count %#x flags %#x",
			 (unsigned long long)c->arg.wake.offset,
			 c->arg.wake.count, c->arg.wake.flags);
}

/* NULL if @ret/@err is what the ABI allows, else why not. */
static const char *judge(struct fuzz *f, struct call *c, long ret, int err,
			 int64_t t1, int signals, struct stats *st)
{
	static char why[128];
	const struct shmring_wait *w = &c->arg.wait;
	const struct shmring_info *info = (const void *)c->ptr;
	unsigned int i;

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
		    info->features)
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
	size_t i;

	if (c->kind != P_VALID)
		return NULL;
	for (i = 0; i < GUARD; i++)
		if (c->ptr[-1 - (ssize_t)i] != 0x5a || c->ptr[c->len + i] != 0x5a)
			return "the kernel wrote outside the argument";
	if ((c->cmd != SHMRING_IOC_INFO || ret) &&
	    memcmp(c->ptr, c->arg.bytes, c->len))
		return "the kernel changed an input-only argument";
	return NULL;
}

/* Fixture */

static void fuzz_setup(struct __test_metadata *_metadata, struct fuzz *f)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	struct shmring_info info;
	struct sigaction sa = { .sa_handler = count_signal };
	const char *seed = getenv("SHMRING_FUZZ_SEED");
	uint8_t *p;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < ARRAY_SIZE(f->fds); i++)
		f->fds[i] = -1;
	f->memfd = -1;
	the_fuzz = f;

	for (i = 0; i < ARRAY_SIZE(f->fds); i++) {
		f->fds[i] = shmring_open(modes[i]);
		ASSERT_LE(0, f->fds[i]) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
		f->fd_flags[i] = fcntl(f->fds[i], F_GETFL);
		f->fd_fdflags[i] = fcntl(f->fds[i], F_GETFD);
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

	f->scratch = mmap(NULL, 3 * f->page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->scratch);
	ASSERT_EQ(0, mprotect(f->scratch + 2 * f->page, f->page, PROT_NONE));

	f->memfd = memfd_create("shmring-fuzz", MFD_CLOEXEC);
	ASSERT_LE(0, f->memfd);
	ASSERT_EQ(0, ftruncate(f->memfd, f->page));
	f->ro_w = mmap(NULL, f->page, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	ASSERT_NE(MAP_FAILED, f->ro_w);
	f->ro_r = mmap(NULL, f->page, PROT_READ, MAP_SHARED, f->memfd, 0);
	ASSERT_NE(MAP_FAILED, f->ro_r);

	/* The buffer's last page, with a PROT_NONE page after it. */
	p = mmap(NULL, 2 * f->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	f->shm_w = mmap(p, f->page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			f->fds[0], f->size - f->page);
	ASSERT_EQ(p, f->shm_w);
	f->shm_r = mmap(NULL, f->page, PROT_READ, MAP_SHARED, f->fds[1],
			f->size - f->page);
	ASSERT_NE(MAP_FAILED, f->shm_r);

	/* A hole between two PROT_NONE pages, so nothing lands there. */
	p = mmap(NULL, 3 * f->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	f->hole = p + f->page;
	ASSERT_EQ(0, munmap(f->hole, f->page));

	f->seed = seed && *seed ? strtoull(seed, NULL, 0) :
		  (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
	f->rng = f->seed;
	f->main_thread = pthread_self();
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
}

static void fuzz_teardown(struct fuzz *f)
{
	unsigned int i;

	stop_helpers(f);
	if (f->buf && f->buf != MAP_FAILED)
		munmap(f->buf, f->size);
	if (f->scratch && f->scratch != MAP_FAILED)
		munmap(f->scratch, 3 * f->page);
	if (f->shm_w && f->shm_w != MAP_FAILED)
		munmap(f->shm_w, 2 * f->page);
	if (f->shm_r && f->shm_r != MAP_FAILED)
		munmap(f->shm_r, f->page);
	if (f->hole) {
		munmap(f->hole - f->page, f->page);
		munmap(f->hole + f->page, f->page);
	}
	if (f->ro_w && f->ro_w != MAP_FAILED)
		munmap(f->ro_w, f->page);
	if (f->ro_r && f->ro_r != MAP_FAILED)
		munmap(f->ro_r, f->page);
	if (f->memfd >= 0)
		close(f->memfd);
	for (i = 0; i < ARRAY_SIZE(f->fds); i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
}

static bool hole_unmapped(struct fuzz *f)
{
	return msync(f->hole, f->page, MS_ASYNC) == -1 && errno == ENOMEM;
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
	char desc[256], usable[128];
	int64_t start, t1;
	const char *why;
	struct call c;
	unsigned long i;
	int err, signals;
	long ret;

	ksft_print_msg("fuzz: seed %llu (replay with SHMRING_FUZZ_SEED=%llu), %lu calls\n",
		       (unsigned long long)f->seed, (unsigned long long)f->seed,
		       calls);
	fflush(stdout);
	ASSERT_TRUE(hole_unmapped(f));
	start_helpers(f);
	start = now_ns();

	for (i = 0; i < calls; i++) {
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
		ret = syscall(SYS_ioctl, f->fds[c.fdi], c.raw_cmd, c.ptr);
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
			ASSERT_TRUE(!why) TH_LOG("%s", why);
		}
		ASSERT_EQ(0, __atomic_load_n(&f->bad_set, __ATOMIC_SEQ_CST))
			TH_LOG("%s", f->bad);
	}
	t1 = now_ns();
	stop_helpers(f);
	ASSERT_EQ(0, f->bad_set) TH_LOG("%s", f->bad);

	ksft_print_msg("fuzz: %lu calls in %.1f s: ENOTTY %lu EFAULT %lu EINVAL %lu EAGAIN %lu ETIMEDOUT at once %lu EBADF %lu\n",
		       calls, (t1 - start) / 1e9, st.enotty, st.efault,
		       st.einval, st.eagain, st.timedout_now, st.ebadf);
	ksft_print_msg("fuzz: INFO %lu, WAKE %lu (%lu woke someone), WAIT slept %lu (%lu without timeout): woken %lu, timed out %lu, EINTR %lu\n",
		       st.info_ok, st.wake_ok, st.wake_woke, st.slept,
		       st.forever, st.slept_woken, st.slept_timedout,
		       st.slept_eintr);
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
