// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency torture for /dev/shmring. For SHMRING_TORTURE_SECONDS
 * (default 15), all at once, each in its own processes:
 *  - mappers open, mmap a window, check and rewrite the pages they own,
 *    drop one with MADV_DONTNEED, mremap the window smaller and elsewhere,
 *    fork a child that touches it, munmap (in pieces) and close, and now
 *    and then exit with all of it still in place;
 *  - waiters (two threads each) WAIT on a few words with random timeouts,
 *    infinite ones included, and exit now and then in the middle of it;
 *  - wakers change those words and WAKE them with random counts;
 *  - a churner opens, asks INFO, maps and closes;
 *  - watchers make watch fds on a few of the waiters' words, ADD and DEL
 *    words, WAKE a watched word and check that poll() or epoll_wait()
 *    then reports the fd readable and read() gives at least 1, check
 *    that a fd watching nothing stays unreadable, and close a watch fd
 *    while a thread is blocked in read() on it and another in
 *    epoll_wait() on an epoll that holds it (now and then they exit
 *    right there instead);
 *  - releasers open the device, add release actions on words of their
 *    own and small ADDs on the waiters' words, and close it, or let a
 *    dup, a mapping, a watch fd or a forked child hold it first, or have
 *    a child add actions and then exit, close or be SIGKILLed; nothing
 *    may run while the open file is held, then every action must show on
 *    its word, in order, and exactly once on a watch fd on those words;
 *  - the test itself signals the waiters (handlers with and without
 *    SA_RESTART, SIGSTOP/SIGCONT), SIGKILLs waiters and the rest, and
 *    respawns whatever ended.
 * Every result is checked as it comes; watchers and releasers count their
 * open fds after every round. Afterwards: INFO's nr_waiters returns to 0,
 * no task stays in D state, the test has as many fds open as before, and
 * the module unloads (so no watch fd or open file is left), reloads with
 * no parameters and works. Needs root and $SHMRING_KO, like
 * shmring_module_test.
 *
 * events_churn is the ABI 2 part alone: waiters, wakers, watchers and
 * releasers, harassed the same way, with the same checks but the unload;
 * instead, every watched word must have been given back to the device.
 * It runs only when named (-t events_churn): shmring_stress_ng.sh runs it
 * for as long as stress-ng's device stressor, on the same device, and
 * unloads the module itself afterwards. A plain run leaves it out.
 *
 * instances runs all of the above, as many processes of each role again,
 * on each of NR_INSTANCES instances it creates (/dev/shmrings/tort-*), at
 * the same time as on the default device; each process works on one
 * buffer and checks what it sees against that buffer alone. Beside them:
 *  - lifecycles take an instance name through create, destroy while in
 *    use and create again: a WAIT asleep across DESTROY, woken through a
 *    file of the destroyed instance, its watch fd and its release actions
 *    still working, on pages the new instance of the name never shows
 *    (see "Lifecycles" below);
 *  - the isolator WAKEs a word of one buffer while a waiter sleeps on the
 *    same offset of every buffer, and counts: WAKE's results and the
 *    waiters' WAITs that returned 0 must agree, buffer by buffer.
 * Afterwards, besides the checks of a plain run on every buffer: each
 * watch budget is whole, only the test's own file of each instance is
 * left (sysfs "users"), every instance of the case is destroyed and
 * /sys/class/shmring names none, the test holds the fds it held before,
 * and the module unloads and reloads. A plain run includes it.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

#define DEFAULT_SECONDS		15
/* The harness timeout below leaves 120 s on top of the longest run. */
#define MAX_SECONDS		300

#define NR_MAPPERS		2
#define NR_WAITERS		3
#define NR_WAKERS		2
#define NR_CHURNERS		1
#define NR_WATCHERS		2
#define NR_RELEASERS		2
/* The processes that work on one buffer. */
#define NR_BUF_SLOTS		(NR_MAPPERS + NR_WAITERS + NR_WAKERS + NR_CHURNERS + \
				 NR_WATCHERS + NR_RELEASERS)
/*
 * The buffers of a run: the default device first, then any instances a
 * case makes, each with NR_BUF_SLOTS processes that only ever open it.
 */
#define MAX_BUFS		3
/*
 * The instances case's own processes, beside those of its buffers: each
 * lifecycle takes an instance name through its lives, and the isolator
 * WAKEs each buffer with waiters on the same words of all of them.
 */
#define NR_LIFECYCLES		2
#define NR_ISOLATORS		1
#define NR_SLOTS		(MAX_BUFS * NR_BUF_SLOTS + NR_LIFECYCLES + \
				 NR_ISOLATORS)
#define WAITER_THREADS		2
#define MAX_ASLEEP		(NR_WAITERS * WAITER_THREADS)

/* The words WAIT and WAKE work on: either side of page boundaries. */
#define NR_WORDS		16
#define WORD_PAGES		(NR_WORDS / 2 + 1)
/* Each mapper owns MAPPER_PAGES pages from MAPPER_FIRST on. */
#define MAPPER_FIRST		16
#define MAPPER_PAGES		64
#define MAX_WINDOW		16

/*
 * Releaser r's words are in page WORD_PAGES + r, a group of
 * RELEASER_WORDS of them per life of the process, so that what a killed
 * predecessor's child still does lands on words of its own.
 */
#define RELEASER_WORDS		8
static_assert(WORD_PAGES + NR_RELEASERS <= MAPPER_FIRST,
	      "the releasers' pages overlap the mappers'");

/*
 * The isolator's words: NR_ISO_WORDS of them in page ISO_PAGE of every
 * buffer, which nothing else touches, and which nobody ever writes.
 */
#define ISO_PAGE		(WORD_PAGES + NR_RELEASERS)
#define NR_ISO_WORDS		2
#define ISO_WORD_STEP		64
static_assert(ISO_PAGE < MAPPER_FIRST, "the isolator's page is a mapper's");
/* The longest WAIT of an isolator's waiter. */
#define ISO_WAIT_NS		(50 * NSEC_PER_MSEC)

/*
 * The instances case's names, all with INST_PREFIX: the instances it
 * tortures as buffers 1 and up, and those its lifecycles create, destroy
 * and create again.
 */
#define INST_PREFIX		"tort-"
#define NR_INSTANCES		(MAX_BUFS - 1)
static const char * const inst_names[NR_INSTANCES] = {
	INST_PREFIX "0", INST_PREFIX "1",
};

static const char * const life_names[NR_LIFECYCLES] = {
	INST_PREFIX "life0", INST_PREFIX "life1",
};

/* A life's instances are 1 to LIFE_MAX_PAGES pages; WAIT takes them all. */
#define LIFE_MAX_PAGES		16
#define LIFE_MAX_WAITERS	3

/* The supervisor's SCHED_FIFO priority in the instances case. */
#define SUPERVISOR_PRIO		1

/* The longest finite WAIT a waiter asks for. */
#define MAX_WAIT_NS		(20 * NSEC_PER_MSEC)
/*
 * How long after a SIGSTOP/SIGCONT a relative WAIT may still see EINTR: the
 * STOP can reach a thread late, as it enters WAIT, on a slow guest.
 */
#define STOP_SETTLE_NS		(100 * NSEC_PER_MSEC)
/* Time the processes get to stop, and D-state tasks to leave it. */
#define STOP_NS			(30 * NSEC_PER_SEC)
#define D_STATE_NS		(10 * NSEC_PER_SEC)

enum role {
	/* Each buffer's own processes. */
	MAPPER, WAITER, WAKER, CHURNER, WATCHER, RELEASER, NR_BUF_ROLES,
	/* The instances case's. */
	LIFECYCLE = NR_BUF_ROLES, ISOLATOR, NR_ROLES
};

/* Every role of a buffer. */
#define ALL_ROLES		((1U << NR_BUF_ROLES) - 1)
#define INSTANCE_ROLES		(1U << LIFECYCLE | 1U << ISOLATOR)
/* events_churn: WAIT and WAKE on the words that watch fds and actions use. */
#define EVENT_ROLES		(1U << WAITER | 1U << WAKER | 1U << WATCHER | \
				 1U << RELEASER)

static const char * const role_names[] = {
	"mapper", "waiter", "waker", "churner", "watcher", "releaser",
	"lifecycle", "isolator",
};

/* How many slots of each role of a buffer, in the order of enum role. */
static const int role_slots[NR_BUF_ROLES] = {
	NR_MAPPERS, NR_WAITERS, NR_WAKERS, NR_CHURNERS, NR_WATCHERS,
	NR_RELEASERS,
};

enum { R_WOKEN, R_EAGAIN, R_TIMEDOUT, R_EINTR, NR_RESULTS };

struct ctl;

/* Shared by the processes of one buffer, and the test. */
struct shared {
	struct ctl *ctl;	/* the run's */
	char path[48];		/* the buffer's node, the one they open */
	uint64_t size, page;
	/* The tag each mapper page holds, and the one being written. */
	uint32_t expect[NR_MAPPERS][MAPPER_PAGES];
	uint32_t pending[NR_MAPPERS][MAPPER_PAGES];
	unsigned long waits[NR_RESULTS];
	unsigned long wakes, woken, maps, mremaps, forks, churns;
	/* Watch fds read after a WAKE of theirs; closed under a blocked thread. */
	unsigned long watch_rounds, watch_checks, blocked_closes;
	/* Open files whose actions were seen to run; of them, by a SIGKILL. */
	unsigned long releases, release_kills;
};

/* Shared by every process of the run. */
struct ctl {
	int stop;
	int failed;
	char msg[256];
	/* Odd from a SIGSTOP to STOP_SETTLE_NS after its SIGCONT, per slot. */
	uint32_t stops[NR_SLOTS];
	struct shared bufs[MAX_BUFS];
	/* Lives of instance names gone through; their waiters woken. */
	unsigned long lives, life_woken;
	/*
	 * The isolator's: waiters of buffer b on word w that its WAKEs of
	 * that word of that buffer said they woke, and WAITs of those
	 * waiters that returned 0, woken.
	 */
	unsigned long iso_wakes[MAX_BUFS][NR_ISO_WORDS];
	unsigned long iso_woken[MAX_BUFS][NR_ISO_WORDS];
};

struct slot {
	enum role role;
	int idx;		/* within its role and buffer */
	int buf;		/* the buffer it works on */
	pid_t pid;
	bool killed;		/* SIGKILL sent: that is how it may end */
	unsigned long gen;	/* respawns */
};

struct run {
	struct ctl *ctl;
	int nr_bufs;		/* buffers in use, the first of ctl->bufs */
	unsigned int roles;	/* 1 << role for each role that runs */
	int nr_slots;		/* slots in use, the first of @slots */
	struct slot slots[NR_SLOTS];
	uint64_t words[NR_WORDS];
	int64_t stopped_at[NR_SLOTS];
	uint32_t seed;
	unsigned long sigs[4], kills, life_kills, respawns, exits;
};

/* Handler runs per thread, to tell which signal interrupted which WAIT. */
static __thread int tls_usr1, tls_usr2;

static void on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&tls_usr1, 1, __ATOMIC_SEQ_CST);
}

static void on_usr2(int sig)
{
	(void)sig;
	__atomic_add_fetch(&tls_usr2, 1, __ATOMIC_SEQ_CST);
}

static int handled(int *counter)
{
	return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

/*
 * Records the first failure of the run, after @who (a buffer's node, or
 * NULL), and stops the run; the caller then exits or stops.
 */
static __printf(3, 0) void vfail(struct ctl *ctl, const char *who,
				 const char *fmt, va_list ap)
{
	int n = 0;

	if (__atomic_exchange_n(&ctl->failed, 1, __ATOMIC_SEQ_CST))
		return;
	if (who)
		n = snprintf(ctl->msg, sizeof(ctl->msg), "%s: ", who);
	vsnprintf(ctl->msg + n, sizeof(ctl->msg) - n, fmt, ap);
	__atomic_store_n(&ctl->stop, 1, __ATOMIC_SEQ_CST);
}

/* A failure of the run as a whole. */
static __printf(2, 3) void ctl_fail(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ctl, NULL, fmt, ap);
	va_end(ap);
}

/* A failure on the buffer of @sh. */
static __printf(2, 3) void fail(struct shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(sh->ctl, sh->path, fmt, ap);
	va_end(ap);
}

static bool ctl_stopping(struct ctl *ctl)
{
	return __atomic_load_n(&ctl->stop, __ATOMIC_SEQ_CST);
}

static bool stopping(struct shared *sh)
{
	return ctl_stopping(sh->ctl);
}

/* A child's open of its buffer, close-on-exec. */
static int dev_open(struct shared *sh, int flags)
{
	return open(sh->path, flags | O_CLOEXEC);
}

static void count(unsigned long *c, unsigned long n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* A child's own open and mapping of the word pages. */
static uint8_t *map_words(struct shared *sh, int *fd)
{
	uint8_t *p;

	*fd = dev_open(sh, O_RDWR);
	if (*fd < 0) {
		fail(sh, "open: %s", strerror(errno));
		_exit(1);
	}
	p = mmap(NULL, WORD_PAGES * sh->page, PROT_READ | PROT_WRITE,
		 MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED) {
		fail(sh, "mmap of the words: %s", strerror(errno));
		_exit(1);
	}
	return p;
}

/* Mappers */

static uint32_t *tag(uint8_t *p, size_t i, size_t page)
{
	return (uint32_t *)(p + i * page);
}

/*
 * Each mapper page starts with a tag, so a window that maps the wrong
 * frame shows. Checks the tags of a window, then writes new ones. A
 * predecessor killed at any point leaves a tag that is either the
 * expected one or the pending one, hence the order of the stores.
 */
static void mapper_retag(struct shared *sh, int m, uint8_t *p, size_t first,
			 size_t n, uint32_t *seq)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t *exp = &sh->expect[m][first + i];
		uint32_t *pend = &sh->pending[m][first + i];
		uint32_t v = __atomic_load_n(tag(p, i, sh->page), __ATOMIC_SEQ_CST);

		if (v != *exp && v != *pend) {
			fail(sh, "mapper %d: page %zu holds %#x, not %#x or %#x",
			     m, MAPPER_FIRST + m * MAPPER_PAGES + first + i,
			     v, *exp, *pend);
			_exit(1);
		}
		__atomic_store_n(exp, v, __ATOMIC_SEQ_CST);
		__atomic_store_n(pend, ++*seq, __ATOMIC_SEQ_CST);
		__atomic_store_n(tag(p, i, sh->page), *seq, __ATOMIC_SEQ_CST);
		__atomic_store_n(exp, *seq, __ATOMIC_SEQ_CST);
	}
}

/* A forked child sees the window and leaves its pid in it. */
static void mapper_fork(struct shared *sh, int m, uint8_t *p, size_t n,
			uint32_t want)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		fail(sh, "mapper %d: fork: %s", m, strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		if (*tag(p, n - 1, sh->page) != want)
			_exit(2);
		((uint32_t *)p)[1] = getpid();
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    ((uint32_t *)p)[1] != (uint32_t)pid) {
		fail(sh, "mapper %d: forked child status %#x", m, status);
		_exit(1);
	}
	count(&sh->forks, 1);
}

static void mapper_once(struct shared *sh, int m, uint32_t *seed,
			uint32_t *seq)
{
	const size_t page = sh->page;
	size_t n = 1 + xorshift(seed) % MAX_WINDOW, first, k;
	uint8_t *p, *q, *target;
	int fd;

	first = xorshift(seed) % (MAPPER_PAGES - n + 1);
	fd = dev_open(sh, O_RDWR);
	if (fd < 0) {
		fail(sh, "mapper %d: open: %s", m, strerror(errno));
		_exit(1);
	}
	p = mmap(NULL, n * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (MAPPER_FIRST + m * MAPPER_PAGES + first) * page);
	if (p == MAP_FAILED) {
		fail(sh, "mapper %d: mmap: %s", m, strerror(errno));
		_exit(1);
	}
	count(&sh->maps, 1);
	mapper_retag(sh, m, p, first, n, seq);

	/* The fault handler maps the same frame back. */
	if (xorshift(seed) % 4 == 0) {
		madvise(p, page, MADV_DONTNEED);
		mapper_retag(sh, m, p, first, 1, seq);
	}

	if (n > 1) {
		k = 1 + xorshift(seed) % (n - 1);
		q = mremap(p, n * page, k * page, 0);
		if (q != p) {
			fail(sh, "mapper %d: mremap shrink: %s", m, strerror(errno));
			_exit(1);
		}
		n = k;
		count(&sh->mremaps, 1);
	}
	q = mremap(p, n * page, (n + 1) * page, MREMAP_MAYMOVE);
	if (q != MAP_FAILED) {
		fail(sh, "mapper %d: mremap grew a mapping", m);
		_exit(1);
	}
	target = mmap(NULL, n * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (target != MAP_FAILED) {
		q = mremap(p, n * page, n * page, MREMAP_MAYMOVE | MREMAP_FIXED,
			   target);
		if (q != target) {
			fail(sh, "mapper %d: mremap move: %s", m, strerror(errno));
			_exit(1);
		}
		p = q;
		count(&sh->mremaps, 1);
		mapper_retag(sh, m, p, first, n, seq);
	}

	if (xorshift(seed) % 4 == 0)
		mapper_fork(sh, m, p, n, sh->expect[m][first + n - 1]);

	/* Exit with everything in place: the exit path must clean up. */
	if (xorshift(seed) % 64 == 0)
		_exit(0);
	if (xorshift(seed) % 2) {
		close(fd);
		fd = -1;
	}
	if (n > 1 && xorshift(seed) % 2) {
		munmap(p + page, (n - 1) * page);
		n = 1;
	}
	munmap(p, n * page);
	if (fd >= 0)
		close(fd);
}

static void mapper_main(struct shared *sh, int m, uint32_t seed)
{
	uint32_t seq = seed << 8;
	unsigned long i, life = 20 + xorshift(&seed) % 200;

	for (i = 0; i < life && !stopping(sh); i++)
		mapper_once(sh, m, &seed, &seq);
	_exit(0);
}

/* Waiters */

struct waiter_ctx {
	struct shared *sh;
	const uint64_t *words;
	uint8_t *map;
	int fd;
	int slot;
	uint32_t seed;
};

static int result_index(int ret)
{
	switch (ret) {
	case 0: return R_WOKEN;
	case -EAGAIN: return R_EAGAIN;
	case -ETIMEDOUT: return R_TIMEDOUT;
	default: return R_EINTR;
	}
}

/*
 * One WAIT with a random timeout. The result must fit what happened: a
 * timeout no sooner than asked and never without one; EINTR only after a
 * handler ran in this thread (one without SA_RESTART, unless the wait was
 * relative) or, for a relative wait, around a SIGSTOP. False: stop.
 */
static bool waiter_once(struct waiter_ctx *w)
{
	struct shared *sh = w->sh;
	uint32_t r = xorshift(&w->seed), flags = 0, val;
	uint64_t off = w->words[r % NR_WORDS];
	int usr1, usr2, ret;
	uint32_t stops;
	int64_t to, t0;
	bool relative, stopped;

	val = __atomic_load_n((uint32_t *)(w->map + off), __ATOMIC_SEQ_CST);
	/* After the load: a stop sets the flag, then changes every word. */
	if (stopping(sh))
		return false;
	if (r % 8 == 0)
		val++;
	switch ((r >> 8) % 8) {
	case 0:
		to = 0;
		break;
	case 1: case 2:
		to = 1 + xorshift(&w->seed) % MAX_WAIT_NS;
		break;
	case 3:
		flags = SHMRING_WAIT_ABSTIME;
		to = now_ns() + 1 + xorshift(&w->seed) % MAX_WAIT_NS;
		break;
	case 4:
		flags = SHMRING_WAIT_ABSTIME;
		to = now_ns() - xorshift(&w->seed) % MAX_WAIT_NS;
		break;
	case 5:
		flags = SHMRING_WAIT_ABSTIME;
		to = -1;
		break;
	default:
		to = (r >> 16) % 2 ? -1 : INT64_MIN;
		break;
	}
	relative = !flags && to > 0;

	usr1 = handled(&tls_usr1);
	usr2 = handled(&tls_usr2);
	stops = __atomic_load_n(&sh->ctl->stops[w->slot], __ATOMIC_SEQ_CST);
	t0 = now_ns();
	ret = shmring_wait(w->fd, off, val, flags, to);

	switch (ret) {
	case 0:
	case -EAGAIN:
		break;
	case -ETIMEDOUT:
		if (to < 0 || (flags ? now_ns() < to : now_ns() - t0 < to))
			fail(sh, "waiter: ETIMEDOUT too early or with no timeout (flags %#x timeout %lld after %lld ns)",
			     flags, (long long)to, (long long)(now_ns() - t0));
		break;
	case -EINTR:
		stopped = stops % 2 ||
			  __atomic_load_n(&sh->ctl->stops[w->slot], __ATOMIC_SEQ_CST) != stops;
		if (handled(&tls_usr1) != usr1 ||
		    (relative && (handled(&tls_usr2) != usr2 || stopped)))
			break;
		fail(sh, "waiter: EINTR with no signal that explains it (flags %#x timeout %lld, after %lld ns, stops %u to %u)",
		     flags, (long long)to, (long long)(now_ns() - t0), stops,
		     __atomic_load_n(&sh->ctl->stops[w->slot], __ATOMIC_SEQ_CST));
		break;
	default:
		fail(sh, "waiter: WAIT(%#llx, flags %#x, timeout %lld) = %d",
		     (unsigned long long)off, flags, (long long)to, ret);
		break;
	}
	count(&sh->waits[result_index(ret)], 1);
	return !sh->ctl->failed;
}

static void *waiter_thread(void *arg)
{
	struct waiter_ctx *w = arg;

	while (waiter_once(w))
		;
	return NULL;
}

static void waiter_main(struct shared *sh, const uint64_t *words, int slot,
			uint32_t seed)
{
	struct waiter_ctx w[WAITER_THREADS];
	unsigned long i, life;
	pthread_t tid;
	sigset_t usr;
	uint8_t *map;
	int fd, t;

	map = map_words(sh, &fd);
	for (t = 0; t < WAITER_THREADS; t++)
		w[t] = (struct waiter_ctx){ .sh = sh, .words = words, .map = map,
					    .fd = fd, .slot = slot,
					    .seed = seed * (t + 3) | 1 };
	/*
	 * Only the main thread takes SIGUSR1/2. Otherwise a signal could
	 * interrupt one thread's relative WAIT while another thread dequeues
	 * it and runs the handler, and nothing would explain the EINTR.
	 */
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr, NULL);
	for (t = 1; t < WAITER_THREADS; t++) {
		if (pthread_create(&tid, NULL, waiter_thread, &w[t])) {
			fail(sh, "waiter: pthread_create");
			_exit(1);
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &usr, NULL);
	/* Exit now and then with the other threads still asleep. */
	life = 50 + xorshift(&seed) % 500;
	for (i = 0; i < life && waiter_once(&w[0]); i++)
		;
	_exit(0);
}

/* Wakers and the churner */

static void waker_main(struct shared *sh, const uint64_t *words,
		       uint32_t seed)
{
	static const uint32_t counts[] = {
		0, 1, 1, 2, 3, MAX_ASLEEP, INT_MAX, UINT32_MAX,
	};
	uint32_t r, n, max;
	uint8_t *map;
	uint64_t off;
	int fd, ret;

	map = map_words(sh, &fd);
	while (!stopping(sh)) {
		r = xorshift(&seed);
		off = words[r % NR_WORDS];
		if ((r >> 8) % 2)
			__atomic_add_fetch((uint32_t *)(map + off), 1,
					   __ATOMIC_SEQ_CST);
		n = counts[(r >> 12) % ARRAY_SIZE(counts)];
		ret = shmring_wake(fd, off, n);
		max = n < MAX_ASLEEP ? n : MAX_ASLEEP;
		if (ret < 0 || (uint32_t)ret > max) {
			fail(sh, "waker: WAKE(%#llx, %u) = %d",
			     (unsigned long long)off, n, ret);
			_exit(1);
		}
		count(&sh->wakes, 1);
		count(&sh->woken, ret);
		usleep(xorshift(&seed) % 2000);
	}
	_exit(0);
}

static void churner_main(struct shared *sh, uint32_t seed)
{
	struct shmring_info info;
	uint32_t r;
	uint8_t *p;
	int fd, fd2;

	while (!stopping(sh)) {
		r = xorshift(&seed);
		fd = dev_open(sh, r % 2 ? O_RDWR : O_RDONLY);
		if (fd < 0 || shmring_get_info(fd, &info)) {
			fail(sh, "churner: open or INFO: %s", strerror(errno));
			_exit(1);
		}
		/*
		 * INFO sums per-bucket counts without the locks, bucket by
		 * bucket: a waiter that moves on to another word during the
		 * sum may be counted once in each bucket it passes through,
		 * and the waiters only use NR_WORDS words; the isolator has
		 * one more on each of its words.
		 */
		if (info.size != sh->size ||
		    info.nr_waiters > MAX_ASLEEP * NR_WORDS + NR_ISO_WORDS) {
			fail(sh, "churner: INFO size %llu nr_waiters %u",
			     (unsigned long long)info.size, info.nr_waiters);
			_exit(1);
		}
		fd2 = (r >> 1) % 2 ? dup(fd) : -1;
		if ((r >> 2) % 2) {
			p = mmap(NULL, sh->page, PROT_READ, MAP_SHARED, fd,
				 (r >> 8) % (sh->size / sh->page) * sh->page);
			if (p == MAP_FAILED) {
				fail(sh, "churner: mmap: %s", strerror(errno));
				_exit(1);
			}
			close(fd);
			fd = -1;
			/* The mapping outlives the fd it came from. */
			__atomic_load_n(p, __ATOMIC_RELAXED);
			munmap(p, sh->page);
		}
		if (fd >= 0)
			close(fd);
		if (fd2 >= 0)
			close(fd2);
		count(&sh->churns, 1);
	}
	_exit(0);
}

/* Watchers */

struct watcher {
	struct shared *sh;
	const uint64_t *words;
	int fd;			/* its own open, O_RDWR */
	uint32_t seed;
};

/* @n distinct words of the waiters'. */
static void pick_words(struct watcher *w, uint64_t *set, unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		do {
			set[i] = w->words[xorshift(&w->seed) % NR_WORDS];
			for (j = 0; j < i && set[j] != set[i]; j++)
				;
		} while (j < i);
	}
}

static bool in_set(const uint64_t *set, unsigned int n, uint64_t off)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (set[i] == off)
			return true;
	return false;
}

/* A WAKE like the wakers', without changing the word. */
static void watcher_wake(struct watcher *w, uint64_t off)
{
	static const uint32_t counts[] = { 0, 1, 2, UINT32_MAX };
	uint32_t n = counts[xorshift(&w->seed) % ARRAY_SIZE(counts)];
	uint32_t max = n < MAX_ASLEEP ? n : MAX_ASLEEP;
	int ret;

	ret = shmring_wake(w->fd, off, n);
	if (ret < 0 || (uint32_t)ret > max) {
		fail(w->sh, "watcher: WAKE(%#llx, %u) = %d",
		     (unsigned long long)off, n, ret);
		_exit(1);
	}
	count(&w->sh->wakes, 1);
	count(&w->sh->woken, ret);
}

/* Reads a non-blocking watch fd until nothing is left. */
static void watcher_drain(struct watcher *w, int wfd)
{
	int64_t v;

	while ((v = shmring_watch_read(wfd)) > 0)
		;
	if (v != -EAGAIN) {
		fail(w->sh, "watcher: read of a watch fd: %lld", (long long)v);
		_exit(1);
	}
}

/*
 * @wfd watches a word that was WAKEd since its last read: poll(), or
 * epoll_wait() on @ep, which holds only it, must say so, and read() give
 * at least 1. With EPOLLET too: every WAKE is a new edge.
 */
static void watcher_readable(struct watcher *w, int wfd, int ep)
{
	struct pollfd p = { .fd = wfd, .events = POLLIN };
	struct epoll_event ev[2];
	bool by_poll = xorshift(&w->seed) % 2;
	int n;
	int64_t v;

	if (by_poll) {
		do {
			n = poll(&p, 1, 0);
		} while (n < 0 && errno == EINTR);
		n = n == 1 && p.revents == POLLIN;
	} else {
		n = epoll_wait(ep, ev, 2, 0);
		n = n == 1 && ev[0].events & EPOLLIN;
	}
	v = shmring_watch_read(wfd);
	if (!n || v < 1) {
		fail(w->sh, "watcher: watch fd not readable after a WAKE of its word: %s said %s, read %lld",
		     by_poll ? "poll" : "epoll_wait", n ? "yes" : "no",
		     (long long)v);
		_exit(1);
	}
	count(&w->sh->watch_checks, 1);
}

/*
 * @wfd watches nothing: once drained, no WAKE of any word may make it
 * readable, whoever sends it. A DEL that has returned has unlinked the
 * word under its bucket lock, so no WAKE still on its way can reach it.
 */
static void watcher_quiet(struct watcher *w, int wfd, int ep)
{
	struct pollfd p = { .fd = wfd, .events = POLLIN };
	struct epoll_event ev[2];
	int i, n, e;
	int64_t v;

	watcher_drain(w, wfd);
	for (i = 0; i < 4; i++)
		watcher_wake(w, w->words[xorshift(&w->seed) % NR_WORDS]);
	do {
		n = poll(&p, 1, 0);
	} while (n < 0 && errno == EINTR);
	e = epoll_wait(ep, ev, 2, 0);
	v = shmring_watch_read(wfd);
	if (n || e || v != -EAGAIN) {
		fail(w->sh, "watcher: a watch fd that watches nothing became readable: poll %d, epoll_wait %d, read %lld",
		     n, e, (long long)v);
		_exit(1);
	}
}

/*
 * A non-blocking watch fd of its own, in an epoll: ADD and DEL words, one
 * at a time, with the errors a word watched or not gives; after an ADD or
 * now and then, a WAKE of a watched word must make it readable. At the
 * end, with every word deleted, it must stay unreadable.
 */
static void watcher_own(struct watcher *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t set[NR_WORDS], off;
	unsigned int n, i, k, steps;
	int wfd, ep, ret;

	n = 1 + xorshift(&w->seed) % 4;
	pick_words(w, set, n);
	wfd = shmring_watch_new(w->fd, set, n, SHMRING_WATCH_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (xorshift(&w->seed) % 2)
		ev.events |= EPOLLET;
	if (wfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev)) {
		fail(w->sh, "watcher: WATCH %d, epoll: %s", wfd, strerror(errno));
		_exit(1);
	}
	steps = 4 + xorshift(&w->seed) % 8;
	for (k = 0; k < steps; k++) {
		switch (xorshift(&w->seed) % 4) {
		case 0:
			if (n == NR_WORDS)
				break;
			do {
				off = w->words[xorshift(&w->seed) % NR_WORDS];
			} while (in_set(set, n, off));
			ret = shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, &off, 1);
			if (ret) {
				fail(w->sh, "watcher: ADD of a new word: %d", ret);
				_exit(1);
			}
			set[n++] = off;
			/* Watched from the ADD's return on. */
			watcher_drain(w, wfd);
			watcher_wake(w, off);
			watcher_readable(w, wfd, ep);
			off = set[xorshift(&w->seed) % n];
			ret = shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, &off, 1);
			if (ret != -EINVAL) {
				fail(w->sh, "watcher: ADD of a watched word: %d", ret);
				_exit(1);
			}
			break;
		case 1:
			if (!n)
				break;
			i = xorshift(&w->seed) % n;
			off = set[i];
			ret = shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, &off, 1);
			if (ret) {
				fail(w->sh, "watcher: DEL of a watched word: %d", ret);
				_exit(1);
			}
			set[i] = set[--n];
			ret = shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, &off, 1);
			if (ret != -ENOENT) {
				fail(w->sh, "watcher: DEL of a word no longer watched: %d", ret);
				_exit(1);
			}
			break;
		default:
			if (!n) {
				watcher_quiet(w, wfd, ep);
				break;
			}
			watcher_drain(w, wfd);
			watcher_wake(w, set[xorshift(&w->seed) % n]);
			watcher_readable(w, wfd, ep);
			break;
		}
	}
	ret = shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, set, n);
	if (ret) {
		fail(w->sh, "watcher: DEL of all %u words: %d", n, ret);
		_exit(1);
	}
	watcher_quiet(w, wfd, ep);
	close(ep);
	close(wfd);
}

/* A blocking watch fd, and the threads blocked on it. */
struct blocked {
	int wfd, ep;
	int64_t read_ret;
	int read_done;
	int epoll_ret, epoll_err;
	struct epoll_event ev[2];
};

static void *blocked_read(void *arg)
{
	struct blocked *b = arg;

	b->read_ret = shmring_watch_read(b->wfd);
	__atomic_store_n(&b->read_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *blocked_epoll(void *arg)
{
	struct blocked *b = arg;

	b->epoll_ret = epoll_wait(b->ep, b->ev, 2, (int)(POLL_NS / NSEC_PER_MSEC));
	b->epoll_err = errno;
	return NULL;
}

/*
 * A blocking watch fd on one to three words, in an epoll with an
 * eventfd; a thread blocks in read() on it, one in epoll_wait(), or both,
 * and the watch fd is closed under them. The reader holds the file: WAKEs
 * of its words keep reaching it until its read() returns, with a count,
 * or EBADF if it came after the close (nothing opens meanwhile, so the
 * number is not reused). epoll_wait() returns on the eventfd at the
 * latest; EINTR is its answer to a SIGSTOP and SIGCONT.
 */
static void watcher_blocked(struct watcher *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct blocked b = { .read_ret = 0 };
	uint32_t r = xorshift(&w->seed);
	bool reader = (r >> 4) % 3 != 2, epoller = (r >> 4) % 3 != 1;
	uint64_t set[3], one = 1;
	unsigned int n = 1 + r % 3;
	sigset_t usr, old;
	pthread_t rt, et;
	int64_t start;
	int efd, i;

	pick_words(w, set, n);
	b.wfd = shmring_watch_new(w->fd, set, n, 0);
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	if (b.wfd < 0 || b.ep < 0 || efd < 0) {
		fail(w->sh, "watcher: WATCH %d, epoll, eventfd: %s", b.wfd,
		     strerror(errno));
		_exit(1);
	}
	ev.events = EPOLLIN | ((r >> 8) % 2 ? EPOLLET : 0);
	ev.data.u32 = 1;
	if (epoll_ctl(b.ep, EPOLL_CTL_ADD, b.wfd, &ev)) {
		fail(w->sh, "watcher: epoll_ctl: %s", strerror(errno));
		_exit(1);
	}
	ev.events = EPOLLIN;
	ev.data.u32 = 2;
	if (epoll_ctl(b.ep, EPOLL_CTL_ADD, efd, &ev)) {
		fail(w->sh, "watcher: epoll_ctl: %s", strerror(errno));
		_exit(1);
	}
	/* Only the main thread takes SIGUSR1/2, as in the waiters. */
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr, &old);
	if ((reader && pthread_create(&rt, NULL, blocked_read, &b)) ||
	    (epoller && pthread_create(&et, NULL, blocked_epoll, &b))) {
		fail(w->sh, "watcher: pthread_create");
		_exit(1);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	usleep(xorshift(&w->seed) % 2000);
	/* Now and then the process ends here, with the threads blocked. */
	if ((r >> 12) % 32 == 0)
		_exit(0);
	if ((r >> 9) % 2)
		watcher_wake(w, set[0]);
	close(b.wfd);

	if (reader) {
		start = now_ns();
		while (!__atomic_load_n(&b.read_done, __ATOMIC_SEQ_CST)) {
			watcher_wake(w, set[xorshift(&w->seed) % n]);
			if (!poll_again(start)) {
				fail(w->sh, "watcher: read() of a closed watch fd never returned");
				_exit(1);
			}
		}
		pthread_join(rt, NULL);
		if (b.read_ret < 1 && b.read_ret != -EBADF) {
			fail(w->sh, "watcher: read() of a watch fd closed under it: %lld",
			     (long long)b.read_ret);
			_exit(1);
		}
		count(&w->sh->blocked_closes, 1);
	}
	if (epoller) {
		if (write(efd, &one, sizeof(one)) != sizeof(one)) {
			fail(w->sh, "watcher: write of the eventfd: %s", strerror(errno));
			_exit(1);
		}
		pthread_join(et, NULL);
		if (b.epoll_ret < 0 ? b.epoll_err != EINTR : !b.epoll_ret) {
			fail(w->sh, "watcher: epoll_wait() with its watch fd closed: %d (%s)",
			     b.epoll_ret, strerror(b.epoll_err));
			_exit(1);
		}
		for (i = 0; i < b.epoll_ret; i++) {
			if (!(b.ev[i].events & EPOLLIN) ||
			    (b.ev[i].data.u32 != 1 && b.ev[i].data.u32 != 2)) {
				fail(w->sh, "watcher: epoll_wait() reported %#x for %u",
				     b.ev[i].events, b.ev[i].data.u32);
				_exit(1);
			}
		}
		count(&w->sh->blocked_closes, 1);
	}
	close(b.ep);
	close(efd);
}

static void watcher_main(struct shared *sh, const uint64_t *words,
			 uint32_t seed)
{
	struct watcher w = { .sh = sh, .words = words, .seed = seed };
	unsigned long i, life = 10 + xorshift(&seed) % 100;
	int nfds;

	w.fd = dev_open(sh, O_RDWR);
	if (w.fd < 0) {
		fail(sh, "watcher: open: %s", strerror(errno));
		_exit(1);
	}
	nfds = count_fds();
	for (i = 0; i < life && !stopping(sh); i++) {
		watcher_own(&w);
		watcher_blocked(&w);
		if (count_fds() != nfds) {
			fail(sh, "watcher: %d fds open after a round, %d before",
			     count_fds(), nfds);
			_exit(1);
		}
		count(&sh->watch_rounds, 1);
		usleep(xorshift(&w.seed) % 2000);
	}
	_exit(0);
}

/* Releasers */

/* The words of a releaser: tallies of what its actions did. */
enum { T_CLOSE, T_CHILD, T_STORE, T_OR, NR_TALLIES };

struct releaser {
	struct shared *sh;
	const uint64_t *words;
	int fd;			/* mapped and watched through: never an action */
	int wfd;		/* watches the tallies, non-blocking */
	uint32_t *tally;	/* in the mapping */
	uint64_t base;		/* offset of tally[0] */
	uint32_t seed, seq;
};

static uint64_t tally_off(struct releaser *r, int t)
{
	return r->base + 4 * t;
}

static int rel_open(struct releaser *r, int mode)
{
	int fd = dev_open(r->sh, mode);

	if (fd < 0) {
		fail(r->sh, "releaser: open: %s", strerror(errno));
		_exit(1);
	}
	return fd;
}

static uint32_t rel_add(struct releaser *r, int fd, uint64_t off, uint32_t op,
			uint32_t value)
{
	int64_t id = shmring_release_add(fd, off, op, value);

	if (id <= 0) {
		fail(r->sh, "releaser: RELEASE_ADD(%#llx, %u, %#x) = %lld",
		     (unsigned long long)off, op, value, (long long)id);
		_exit(1);
	}
	return id;
}

/*
 * Traffic on the waiters' words: small ADDs only, so that no word ever
 * comes back to a value a waiter read before the stop changed it.
 */
static void rel_add_shared(struct releaser *r, int fd)
{
	unsigned int i, n = xorshift(&r->seed) % 3;

	for (i = 0; i < n; i++)
		rel_add(r, fd, r->words[xorshift(&r->seed) % NR_WORDS],
			SHMRING_RELEASE_ADD, 1 + xorshift(&r->seed) % 15);
}

static void rel_snapshot(struct releaser *r, uint32_t *want)
{
	int t;

	for (t = 0; t < NR_TALLIES; t++)
		want[t] = __atomic_load_n(&r->tally[t], __ATOMIC_SEQ_CST);
}

/*
 * The tallies hold @want: at once if @wait is false (the release ran in
 * this process's close(), munmap() or nowhere yet), else within POLL_NS.
 * Nobody else writes them, and nothing of theirs is still to run.
 */
static void rel_check(struct releaser *r, const uint32_t *want, bool wait,
		      const char *what)
{
	int64_t start = now_ns();
	uint32_t got[NR_TALLIES];
	int t;

	for (;;) {
		rel_snapshot(r, got);
		for (t = 0; t < NR_TALLIES && got[t] == want[t]; t++)
			;
		if (t == NR_TALLIES)
			return;
		if (!wait || !poll_again(start))
			break;
	}
	fail(r->sh, "releaser: %s: word %#llx holds %#x, not %#x", what,
	     (unsigned long long)tally_off(r, t), got[t], want[t]);
	_exit(1);
}

/*
 * Every action on a tally notifies the watch fd once, and nothing else
 * does: reads until @want came, within POLL_NS, and not one more.
 */
static void rel_owed(struct releaser *r, uint64_t want, const char *what)
{
	int64_t start = now_ns(), v;
	uint64_t got = 0;

	for (;;) {
		v = shmring_watch_read(r->wfd);
		if (v > 0) {
			got += v;
		} else if (v != -EAGAIN) {
			fail(r->sh, "releaser: read of its watch fd: %lld", (long long)v);
			_exit(1);
		}
		if (got >= want || !poll_again(start))
			break;
	}
	if (got != want) {
		fail(r->sh, "releaser: %s: %llu notifications of its words, not %llu",
		     what, (unsigned long long)got, (unsigned long long)want);
		_exit(1);
	}
}

static void rel_reap(struct releaser *r, pid_t pid, bool killed)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fail(r->sh, "releaser: waitpid: %s", strerror(errno));
			_exit(1);
		}
	}
	if (killed ? !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL :
		     !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail(r->sh, "releaser: child ended with status %#x", status);
		_exit(1);
	}
}

/* Actions, some deleted again; maybe a dup; then the last close runs them. */
static void rel_direct(struct releaser *r)
{
	uint32_t want[NR_TALLIES], ids[4], k, kept = 0, i;
	int fd, fd2;

	rel_snapshot(r, want);
	fd = rel_open(r, xorshift(&r->seed) % 2 ? O_RDWR : O_WRONLY);
	k = 1 + xorshift(&r->seed) % 4;
	for (i = 0; i < k; i++)
		ids[i] = rel_add(r, fd, tally_off(r, T_CLOSE), SHMRING_RELEASE_ADD, 1);
	rel_add_shared(r, fd);
	for (i = 0; i < k; i++) {
		if (xorshift(&r->seed) % 3) {
			kept++;
			continue;
		}
		if (shmring_release_del(fd, ids[i])) {
			fail(r->sh, "releaser: RELEASE_DEL of id %u", ids[i]);
			_exit(1);
		}
	}
	if (xorshift(&r->seed) % 2) {
		fd2 = dup(fd);
		if (fd2 < 0) {
			fail(r->sh, "releaser: dup: %s", strerror(errno));
			_exit(1);
		}
		close(fd);
		rel_check(r, want, false, "ran with a dup still open");
		fd = fd2;
	}
	close(fd);
	want[T_CLOSE] += kept;
	rel_check(r, want, false, "the last close");
	rel_owed(r, kept, "the last close");
	count(&r->sh->releases, 1);
}

/* A mapping holds the open file, and its munmap() releases it. */
static void rel_mapping(struct releaser *r)
{
	uint32_t want[NR_TALLIES];
	uint8_t *p;
	int fd;

	rel_snapshot(r, want);
	fd = rel_open(r, O_RDWR);
	rel_add(r, fd, tally_off(r, T_CLOSE), SHMRING_RELEASE_ADD, 1);
	rel_add_shared(r, fd);
	p = mmap(NULL, r->sh->page, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fail(r->sh, "releaser: mmap: %s", strerror(errno));
		_exit(1);
	}
	close(fd);
	rel_check(r, want, false, "ran with a mapping left");
	munmap(p, r->sh->page);
	want[T_CLOSE]++;
	rel_check(r, want, false, "the munmap");
	rel_owed(r, 1, "the munmap");
	count(&r->sh->releases, 1);
}

/*
 * A watch fd made from the open file holds it, and still works once the
 * fd it came from is closed; its close releases the open file.
 */
static void rel_watch_holds(struct releaser *r)
{
	uint64_t off = r->words[xorshift(&r->seed) % NR_WORDS];
	uint32_t want[NR_TALLIES];
	int64_t v;
	int fd, wfd, ret;

	rel_snapshot(r, want);
	fd = rel_open(r, O_RDWR);
	rel_add(r, fd, tally_off(r, T_CLOSE), SHMRING_RELEASE_ADD, 1);
	rel_add_shared(r, fd);
	wfd = shmring_watch_new(fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	if (wfd < 0) {
		fail(r->sh, "releaser: WATCH: %d", wfd);
		_exit(1);
	}
	close(fd);
	rel_check(r, want, false, "ran with a watch fd left");
	while (shmring_watch_read(wfd) > 0)
		;
	ret = shmring_wake(r->fd, off, 0);
	v = shmring_watch_read(wfd);
	if (ret || v < 1) {
		fail(r->sh, "releaser: WAKE(%#llx, 0) = %d, then its watch fd read %lld",
		     (unsigned long long)off, ret, (long long)v);
		_exit(1);
	}
	close(wfd);
	want[T_CLOSE]++;
	rel_check(r, want, false, "the close of the watch fd");
	rel_owed(r, 1, "the close of the watch fd");
	count(&r->sh->releases, 1);
}

/* A forked child shares the open file; its exit or death releases it. */
static void rel_fork_shares(struct releaser *r)
{
	uint32_t want[NR_TALLIES], k = 1 + xorshift(&r->seed) % 3, i;
	bool kill_it = xorshift(&r->seed) % 2;
	int fd, go[2];
	pid_t pid;
	char c;

	rel_snapshot(r, want);
	fd = rel_open(r, xorshift(&r->seed) % 2 ? O_RDWR : O_WRONLY);
	for (i = 0; i < k; i++)
		rel_add(r, fd, tally_off(r, T_CLOSE), SHMRING_RELEASE_ADD, 1);
	rel_add_shared(r, fd);
	if (pipe2(go, O_CLOEXEC)) {
		fail(r->sh, "releaser: pipe2: %s", strerror(errno));
		_exit(1);
	}
	pid = spawn();
	if (pid < 0) {
		fail(r->sh, "releaser: fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		close(go[1]);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(go[0]);
	close(fd);
	usleep(xorshift(&r->seed) % 1000);
	rel_check(r, want, false, "ran while a forked child holds it");
	/* A child the write does not reach is killed instead. */
	if (!kill_it && write(go[1], "x", 1) != 1)
		kill_it = true;
	if (kill_it)
		kill(pid, SIGKILL);
	close(go[1]);
	rel_reap(r, pid, kill_it);
	want[T_CLOSE] += k;
	rel_check(r, want, true, "the forked child's end");
	rel_owed(r, k, "the forked child's end");
	count(&r->sh->releases, 1);
	count(&r->sh->release_kills, kill_it);
}

/*
 * A child opens the device, adds actions and says so; then it is
 * SIGKILLed, or closes the fd and exits, or exits with it open. Nothing
 * may run before, and then all of it, in order: the STORE before the ADD
 * on the same word.
 */
static void rel_child(struct releaser *r)
{
	uint32_t want[NR_TALLIES], seq = ++r->seq, bit = 1U << (seq % 32);
	uint32_t how = xorshift(&r->seed) % 3;
	int ready[2], go[2], fd;
	ssize_t n;
	pid_t pid;
	char c;

	__atomic_store_n(&r->tally[T_STORE], 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->tally[T_OR], 0, __ATOMIC_SEQ_CST);
	rel_snapshot(r, want);
	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC)) {
		fail(r->sh, "releaser: pipe2: %s", strerror(errno));
		_exit(1);
	}
	pid = spawn();
	if (pid < 0) {
		fail(r->sh, "releaser: fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		fd = rel_open(r, xorshift(&r->seed) % 2 ? O_RDWR : O_WRONLY);
		rel_add(r, fd, tally_off(r, T_CHILD), SHMRING_RELEASE_ADD, 1);
		rel_add(r, fd, tally_off(r, T_STORE), SHMRING_RELEASE_STORE, seq);
		rel_add(r, fd, tally_off(r, T_STORE), SHMRING_RELEASE_ADD, 1);
		rel_add(r, fd, tally_off(r, T_OR), SHMRING_RELEASE_OR, bit);
		rel_add_shared(r, fd);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		while ((n = read(go[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n == 1 && c == 'c')
			close(fd);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(ready[0]);
	if (n != 1) {
		rel_reap(r, pid, false);
		fail(r->sh, "releaser: the child did not get its actions added");
		_exit(1);
	}
	usleep(xorshift(&r->seed) % 1000);
	rel_check(r, want, false, "ran while the child holds them");
	if (how && write(go[1], how == 1 ? "c" : "x", 1) != 1)
		how = 0;
	if (!how)
		kill(pid, SIGKILL);
	close(go[1]);
	rel_reap(r, pid, !how);
	want[T_CHILD]++;
	want[T_STORE] = seq + 1;
	want[T_OR] = bit;
	rel_check(r, want, true, "the child's end");
	rel_owed(r, 4, "the child's end");
	count(&r->sh->releases, 1);
	count(&r->sh->release_kills, !how);
}

static void releaser_main(struct shared *sh, const uint64_t *words, int idx,
			  unsigned long gen, uint32_t seed)
{
	struct releaser r = { .sh = sh, .words = words, .seed = seed };
	uint64_t page_off = (WORD_PAGES + idx) * sh->page, offs[NR_TALLIES];
	unsigned long i, life = 20 + xorshift(&seed) % 100;
	size_t group = RELEASER_WORDS * sizeof(uint32_t);
	uint8_t *p;
	int t, nfds;

	r.fd = rel_open(&r, O_RDWR);
	p = mmap(NULL, sh->page, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd,
		 page_off);
	if (p == MAP_FAILED) {
		fail(sh, "releaser: mmap: %s", strerror(errno));
		_exit(1);
	}
	r.base = page_off + gen % (sh->page / group) * group;
	r.tally = (uint32_t *)(p + (r.base - page_off));
	for (t = 0; t < NR_TALLIES; t++)
		offs[t] = tally_off(&r, t);
	r.wfd = shmring_watch_new(r.fd, offs, NR_TALLIES, SHMRING_WATCH_NONBLOCK);
	if (r.wfd < 0) {
		fail(sh, "releaser: WATCH: %d", r.wfd);
		_exit(1);
	}
	nfds = count_fds();
	for (i = 0; i < life && !stopping(sh); i++) {
		/* Every notification so far was accounted for. */
		rel_owed(&r, 0, "between rounds");
		switch (xorshift(&r.seed) % 6) {
		case 0:
			rel_direct(&r);
			break;
		case 1:
			rel_mapping(&r);
			break;
		case 2:
			rel_watch_holds(&r);
			break;
		case 3:
			rel_fork_shares(&r);
			break;
		default:
			rel_child(&r);
			break;
		}
		if (count_fds() != nfds) {
			fail(sh, "releaser: %d fds open after a round, %d before",
			     count_fds(), nfds);
			_exit(1);
		}
		usleep(xorshift(&r.seed) % 2000);
	}
	_exit(0);
}

/*
 * Lifecycles: one instance name through create, destroy while in use, and
 * create again, a life per life_round(). The instance is the process's
 * own, so every count is exact:
 *  1. CREATE; open, map: all zeros.
 *  2. A second open holds release actions, STORE, ADD and OR, each on a
 *     word of its own; a watch fd watches the waiters' word and the
 *     STORE's.
 *  3. One to LIFE_MAX_WAITERS threads WAIT on their word: INFO counts
 *     them all queued.
 *  4. DESTROY while they sleep, mapped, watched, with the actions
 *     pending: the node, the name and the sysfs entry go at once (stat
 *     and open ENOENT); the waiters sleep on, the fd and the mapping are
 *     still the same bytes, no action has run. Now and then one more
 *     action comes after DESTROY, or the process exits right there.
 *  5. A store and a WAKE through an open file of the destroyed instance
 *     wake exactly the waiters; the watch fd reads 1.
 *  6. The last close of the actions' file runs them on the destroyed
 *     instance's pages, as the mapping shows; the watch fd reads 1 (the
 *     STORE's WAKE of its word), then nothing.
 *  7. CREATE the name again, at a size of its own: all zeros. A store of
 *     every byte of it shows nowhere in the old pages, which hold what
 *     they held. Waiters on the same offset of each: a WAKE of the new
 *     one wakes its own and not the old one's, nor the old watch fd; a
 *     WAKE of the old one wakes the old one's.
 *  8. Everything closed and unmapped, in a random order, and the name
 *     destroyed: the process holds the fds it held before, and no
 *     mapping of the name.
 * Harassment brings SIGKILL, as to every process but the waiters, at any
 * of these steps; the successor destroys what its predecessor left.
 */

enum { L_WAIT, L_STORE, L_ADD, L_OR, L_RW, L_WORDS };

struct life {
	struct ctl *ctl;
	const char *name;
	size_t page;
	uint32_t seed;
};

struct life_waiter {
	int fd;
	uint64_t off;
	uint32_t val;
	int ret;
	int done;
	pthread_t tid;
};

/* Records a failure of the life, after its name, and ends the process. */
static __printf(2, 3) __noreturn void life_fail(struct life *l,
						const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(l->ctl, l->name, fmt, ap);
	va_end(ap);
	_exit(1);
}

static int life_open(struct life *l)
{
	int fd = shmring_inst_open(l->name, O_RDWR);

	if (fd < 0)
		life_fail(l, "open: %s", strerror(errno));
	return fd;
}

/* An instance of @size bytes through @fd, mapped; INFO agrees. */
static uint32_t *life_map(struct life *l, int fd, size_t size)
{
	struct shmring_info info;
	uint32_t *p;
	int ret;

	ret = shmring_get_info(fd, &info);
	if (ret || info.size != size || info.nr_waiters)
		life_fail(l, "INFO %d: size %llu, not %zu; nr_waiters %u", ret,
			  (unsigned long long)info.size, size, info.nr_waiters);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		life_fail(l, "mmap of %zu bytes: %s", size, strerror(errno));
	return p;
}

/* Every word of @p holds 0, but those at @off (byte offsets) @want. */
static void life_holds(struct life *l, const uint32_t *p, size_t size,
		       const uint64_t *off, const uint32_t *want,
		       const char *what)
{
	size_t i, k;
	uint32_t v;

	for (i = 0; i < size / 4; i++) {
		v = 0;
		for (k = 0; k < L_WORDS; k++)
			if (off && off[k] == 4 * i)
				v = want[k];
		if (__atomic_load_n(&p[i], __ATOMIC_SEQ_CST) != v)
			life_fail(l, "%s: word %#zx holds %#x, not %#x", what,
				  4 * i, p[i], v);
	}
}

static void life_action(struct life *l, int fd, uint64_t off, uint32_t op,
			uint32_t value)
{
	int64_t id = shmring_release_add(fd, off, op, value);

	if (id <= 0)
		life_fail(l, "RELEASE_ADD(%#llx, %u, %#x) = %lld",
			  (unsigned long long)off, op, value, (long long)id);
}

static void *life_wait_thread(void *arg)
{
	struct life_waiter *w = arg;

	/* Absolute: the deadline bounds the test, should a WAKE be lost. */
	w->ret = shmring_wait(w->fd, w->off, w->val, SHMRING_WAIT_ABSTIME,
			      now_ns() + POLL_NS);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void life_wait_start(struct life *l, struct life_waiter *w, int fd,
			    uint64_t off, uint32_t val)
{
	*w = (struct life_waiter){ .fd = fd, .off = off, .val = val };
	if (pthread_create(&w->tid, NULL, life_wait_thread, w))
		life_fail(l, "pthread_create");
}

static bool life_wait_done(struct life_waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
}

/* @w was woken: its WAIT returned 0. */
static void life_wait_end(struct life *l, struct life_waiter *w,
			  const char *what)
{
	pthread_join(w->tid, NULL);
	if (w->ret)
		life_fail(l, "%s: WAIT(%#llx) = %d, not woken", what,
			  (unsigned long long)w->off, w->ret);
	count(&l->ctl->life_woken, 1);
}

static void life_queued(struct life *l, int fd, int n, const char *what)
{
	int got = await_nr_waiters(fd, n);

	if (got != n)
		life_fail(l, "%s: INFO counts %d waiters, not %d", what, got, n);
}

/* The watch fd's count is @want (or -EAGAIN for nothing), then nothing. */
static void life_watch(struct life *l, int wfd, int64_t want,
		       const char *what)
{
	int64_t v = shmring_watch_read(wfd), v2 = shmring_watch_read(wfd);

	if (v != want || v2 != -EAGAIN)
		life_fail(l, "%s: the watch fd read %lld then %lld, not %lld",
			  what, (long long)v, (long long)v2, (long long)want);
}

/* Whether this process maps the node of @name still: 1, 0, or -1. */
static int life_mapped(const char *name)
{
	char line[512], path[64], *p;
	size_t len;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), SHMRING_INST_DIR "%s", name);
	len = strlen(path);
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	/* "... /dev/shmrings/NAME (deleted)" once the node is gone. */
	while (fgets(line, sizeof(line), f)) {
		p = strchr(line, '/');
		if (p && !strncmp(p, path, len) &&
		    (p[len] == '\n' || p[len] == ' '))
			found = 1;
	}
	fclose(f);
	return found;
}

/* L_WORDS distinct words of @size bytes; L_WAIT's in the first page. */
static void life_words(struct life *l, uint64_t *off, size_t size)
{
	size_t i, j;

	for (i = 0; i < L_WORDS; i++) {
		do {
			off[i] = 4 * (xorshift(&l->seed) %
				      ((i == L_WAIT ? l->page : size) / 4));
			for (j = 0; j < i && off[j] != off[i]; j++)
				;
		} while (j < i);
	}
}

static void life_round(struct life *l)
{
	const size_t page = l->page;
	size_t size = (1 + xorshift(&l->seed) % LIFE_MAX_PAGES) * page;
	size_t size2 = (1 + xorshift(&l->seed) % LIFE_MAX_PAGES) * page;
	int n = 1 + xorshift(&l->seed) % LIFE_MAX_WAITERS, nfds = count_fds();
	uint32_t seq = xorshift(&l->seed) | 1, add = 1 + seq % 1000;
	struct life_waiter w[LIFE_MAX_WAITERS], old, new;
	uint64_t off[L_WORDS], watched[2];
	uint32_t want[L_WORDS] = { 0 };
	int fd, rfd, wfd, fd2, ret, i;
	uint32_t r = xorshift(&l->seed);
	uint32_t *map, *map2;
	char sysfs[96];
	struct stat st;

	/* 1. A new instance, all zeros. */
	life_words(l, off, size);
	ret = shmring_inst_create(l->name, size, 0600);
	if (ret)
		life_fail(l, "CREATE of %zu bytes: %s", size, strerror(-ret));
	fd = life_open(l);
	map = life_map(l, fd, size);
	life_holds(l, map, size, NULL, NULL, "a new instance");

	/* 2. Actions on an open of their own; a watch fd. */
	rfd = life_open(l);
	life_action(l, rfd, off[L_STORE], SHMRING_RELEASE_STORE, seq);
	life_action(l, rfd, off[L_ADD], SHMRING_RELEASE_ADD, add);
	life_action(l, rfd, off[L_OR], SHMRING_RELEASE_OR, 1U << (seq % 32));
	watched[0] = off[L_WAIT];
	watched[1] = off[L_STORE];
	wfd = shmring_watch_new(fd, watched, 2, SHMRING_WATCH_NONBLOCK);
	if (wfd < 0)
		life_fail(l, "WATCH: %d", wfd);

	/* 3. Waiters asleep. */
	for (i = 0; i < n; i++)
		life_wait_start(l, &w[i], fd, off[L_WAIT], 0);
	life_queued(l, fd, n, "before DESTROY");

	/* 4. DESTROY: the name goes, what is open stays. */
	ret = shmring_inst_destroy(l->name);
	if (ret)
		life_fail(l, "DESTROY with waiters asleep: %s", strerror(-ret));
	snprintf(sysfs, sizeof(sysfs), SHMRING_CLASS_DIR "%s", l->name);
	ret = shmring_inst_stat(l->name, &st);
	if (ret != -ENOENT)
		life_fail(l, "stat of the node after DESTROY: %d", ret);
	if (shmring_inst_open(l->name, O_RDWR) >= 0 || errno != ENOENT)
		life_fail(l, "open after DESTROY: %s", strerror(errno));
	if (!access(sysfs, F_OK) || errno != ENOENT)
		life_fail(l, "%s after DESTROY: %s", sysfs, strerror(errno));
	life_queued(l, fd, n, "after DESTROY");
	for (i = 0; i < n; i++)
		if (life_wait_done(&w[i]))
			life_fail(l, "DESTROY ended a WAIT: %d", w[i].ret);
	if (pwrite(fd, &seq, 4, off[L_RW]) != 4 || map[off[L_RW] / 4] != seq)
		life_fail(l, "pwrite after DESTROY not seen in the mapping");
	want[L_RW] = seq;
	life_holds(l, map, size, off, want, "no action may have run yet");
	want[L_STORE] = seq;
	want[L_ADD] = add;
	want[L_OR] = 1U << (seq % 32);
	if (r % 2) {
		life_action(l, rfd, off[L_ADD], SHMRING_RELEASE_ADD, add);
		want[L_ADD] += add;
	}
	/* Exit with all of it in place: the exit must clean up. */
	if (r % 16 == 1)
		_exit(0);

	/* 5. A WAKE through an open file of the destroyed instance. */
	__atomic_store_n(&map[off[L_WAIT] / 4], 1, __ATOMIC_SEQ_CST);
	want[L_WAIT] = 1;
	ret = shmring_wake((r >> 4) % 2 ? fd : rfd, off[L_WAIT], UINT32_MAX);
	if (ret != n)
		life_fail(l, "WAKE after DESTROY woke %d of %d waiters", ret, n);
	for (i = 0; i < n; i++)
		life_wait_end(l, &w[i], "after DESTROY");
	life_watch(l, wfd, 1, "a WAKE after DESTROY");

	/* 6. The actions run on the destroyed instance's pages. */
	close(rfd);
	life_holds(l, map, size, off, want, "the actions' last close");
	life_watch(l, wfd, 1, "the actions' last close");

	/* 7. The name again: a new buffer, all zeros, apart from the old. */
	ret = shmring_inst_create(l->name, size2, 0600);
	if (ret)
		life_fail(l, "CREATE again: %s", strerror(-ret));
	fd2 = life_open(l);
	map2 = life_map(l, fd2, size2);
	life_holds(l, map2, size2, NULL, NULL, "the name created again");
	memset(map2, 0xa5, size2);
	life_holds(l, map, size, off, want, "the old pages, the new ones written");
	/* The same offset of each; L_WAIT's is in the first page of both. */
	life_wait_start(l, &old, fd, off[L_WAIT], 1);
	life_wait_start(l, &new, fd2, off[L_WAIT], 0xa5a5a5a5);
	life_queued(l, fd, 1, "the old instance's waiter");
	life_queued(l, fd2, 1, "the new instance's waiter");
	ret = shmring_wake(fd2, off[L_WAIT], UINT32_MAX);
	if (ret != 1)
		life_fail(l, "WAKE of the new instance woke %d, not its 1", ret);
	life_wait_end(l, &new, "the new instance's WAKE");
	if (life_wait_done(&old) || nr_waiters(fd) != 1)
		life_fail(l, "the new instance's WAKE woke the old one's waiter: WAIT %d",
			  old.ret);
	life_watch(l, wfd, -EAGAIN, "the new instance's WAKE");
	ret = shmring_wake(fd, off[L_WAIT], UINT32_MAX);
	if (ret != 1)
		life_fail(l, "WAKE of the old instance woke %d, not its 1", ret);
	life_wait_end(l, &old, "the old instance's WAKE");
	life_watch(l, wfd, 1, "the old instance's WAKE");

	/* 8. The old one goes with the last of its fds and mapping. */
	switch ((r >> 8) % 3) {
	case 0:
		close(wfd);
		close(fd);
		munmap(map, size);
		break;
	case 1:
		munmap(map, size);
		close(fd);
		close(wfd);
		break;
	default:
		close(fd);
		munmap(map, size);
		close(wfd);
		break;
	}
	munmap(map2, size2);
	close(fd2);
	ret = shmring_inst_destroy(l->name);
	if (ret)
		life_fail(l, "DESTROY of the unused instance: %s", strerror(-ret));
	if (count_fds() != nfds)
		life_fail(l, "%d fds open after a life, %d before", count_fds(),
			  nfds);
	ret = life_mapped(l->name);
	if (ret)
		life_fail(l, "still maps the name after a life: %d", ret);
	count(&l->ctl->lives, 1);
}

static void lifecycle_main(struct ctl *ctl, const char *name, uint32_t seed)
{
	struct life l = {
		.ctl = ctl, .name = name, .page = ctl->bufs[0].page,
		.seed = seed,
	};
	unsigned long i, life = 10 + xorshift(&seed) % 50;
	int ret;

	/* What a SIGKILLed predecessor left. */
	ret = shmring_inst_destroy(name);
	if (ret && ret != -ENOENT)
		life_fail(&l, "DESTROY of what was left: %s", strerror(-ret));
	for (i = 0; i < life && !ctl_stopping(ctl); i++)
		life_round(&l);
	_exit(0);
}

/*
 * The isolator: one waiter thread on each of its words in every buffer,
 * the same offsets in all, and WAKEs of a random word of a random buffer
 * with random counts. As no other waiter sleeps on the word there, no
 * WAKE may say it woke more than one; and as a WAKE's count is exactly
 * the waiters it dequeued, each of which returns 0 from WAIT, the WAKEs
 * of each word of each buffer must add up to the 0s of that buffer's
 * waiter on it. A WAKE that reached another buffer's waiter would show
 * as one too many there and one too few here. The supervisor compares
 * the sums once the isolator is gone; harassment brings no SIGKILL, which
 * could take a waiter between its dequeue and its count.
 */

struct iso_waiter {
	struct shared *sh;
	int fd, b, w;
	uint64_t off;
	uint32_t seed;
	const int *stop;	/* the isolator's own */
	pthread_t tid;
};

static void *iso_wait_thread(void *arg)
{
	struct iso_waiter *iw = arg;
	struct ctl *ctl = iw->sh->ctl;
	int ret;

	while (!__atomic_load_n(iw->stop, __ATOMIC_SEQ_CST)) {
		ret = shmring_wait(iw->fd, iw->off, 0, 0,
				   1 + xorshift(&iw->seed) % ISO_WAIT_NS);
		if (!ret) {
			count(&ctl->iso_woken[iw->b][iw->w], 1);
		} else if (ret != -ETIMEDOUT && ret != -EINTR) {
			/* EAGAIN too: nobody writes the word. */
			fail(iw->sh, "isolator: WAIT(%#llx, 0) = %d",
			     (unsigned long long)iw->off, ret);
			break;
		}
	}
	return NULL;
}

static void isolator_main(struct ctl *ctl, int nr_bufs, uint32_t seed)
{
	static const uint32_t counts[] = { 0, 1, 2, UINT32_MAX };
	struct iso_waiter iw[MAX_BUFS][NR_ISO_WORDS];
	uint64_t off[NR_ISO_WORDS];
	int fd[MAX_BUFS], stop = 0, b, w, n;
	struct shared *sh;
	uint32_t c;

	for (w = 0; w < NR_ISO_WORDS; w++)
		off[w] = ISO_PAGE * ctl->bufs[0].page + w * ISO_WORD_STEP;
	for (b = 0; b < nr_bufs; b++) {
		fd[b] = dev_open(&ctl->bufs[b], O_RDWR);
		if (fd[b] < 0) {
			fail(&ctl->bufs[b], "isolator: open: %s", strerror(errno));
			_exit(1);
		}
	}
	for (b = 0; b < nr_bufs; b++) {
		for (w = 0; w < NR_ISO_WORDS; w++) {
			iw[b][w] = (struct iso_waiter){
				.sh = &ctl->bufs[b], .fd = fd[b], .b = b, .w = w,
				.off = off[w], .seed = seed * (b * 7 + w + 3) | 1,
				.stop = &stop,
			};
			if (pthread_create(&iw[b][w].tid, NULL, iso_wait_thread,
					   &iw[b][w])) {
				ctl_fail(ctl, "isolator: pthread_create");
				_exit(1);
			}
		}
	}
	while (!ctl_stopping(ctl)) {
		b = xorshift(&seed) % nr_bufs;
		w = xorshift(&seed) % NR_ISO_WORDS;
		c = counts[xorshift(&seed) % ARRAY_SIZE(counts)];
		sh = &ctl->bufs[b];
		n = shmring_wake(fd[b], off[w], c);
		if (n < 0 || (uint32_t)n > (c < 1 ? c : 1)) {
			fail(sh, "isolator: WAKE(%#llx, %u) = %d, with one waiter on the word here",
			     (unsigned long long)off[w], c, n);
			break;
		}
		count(&ctl->iso_wakes[b][w], n);
		usleep(xorshift(&seed) % 1000);
	}
	/* Every waiter's last WAIT ends within ISO_WAIT_NS. */
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (b = 0; b < nr_bufs; b++)
		for (w = 0; w < NR_ISO_WORDS; w++)
			pthread_join(iw[b][w].tid, NULL);
	_exit(0);
}

/* The supervisor: the test process */

/* A failure of the process of slot @s: on its buffer, if it has one. */
static __printf(3, 4) void slot_fail(struct run *run, struct slot *s,
				     const char *fmt, ...)
{
	const char *who = NULL;
	va_list ap;

	if (s->role < NR_BUF_ROLES)
		who = run->ctl->bufs[s->buf].path;
	va_start(ap, fmt);
	vfail(run->ctl, who, fmt, ap);
	va_end(ap);
}

static void start_slot(struct run *run, int i)
{
	struct slot *s = &run->slots[i];
	struct shared *sh = &run->ctl->bufs[s->buf];
	uint32_t seed = run->seed ^ (i * 0x9e3779b9U) ^ (s->gen * 0x85ebca6bU);
	pid_t pid;

	seed |= 1;
	s->killed = false;
	s->pid = 0;
	if (!(run->roles & 1U << s->role))
		return;
	pid = spawn();
	if (pid < 0) {
		slot_fail(run, s, "fork: %s", strerror(errno));
		s->pid = 0;
		return;
	}
	if (pid == 0) {
		switch (s->role) {
		case MAPPER:
			mapper_main(sh, s->idx, seed);
			break;
		case WAITER:
			waiter_main(sh, run->words, i, seed);
			break;
		case WAKER:
			waker_main(sh, run->words, seed);
			break;
		case CHURNER:
			churner_main(sh, seed);
			break;
		case WATCHER:
			watcher_main(sh, run->words, seed);
			break;
		case RELEASER:
			releaser_main(sh, run->words, s->idx, s->gen, seed);
			break;
		case LIFECYCLE:
			lifecycle_main(run->ctl, life_names[s->idx], seed);
			break;
		default:
			isolator_main(run->ctl, run->nr_bufs, seed);
			break;
		}
		_exit(0);
	}
	s->pid = pid;
	s->gen++;
}

/* Judges how a child ended; false if it ended in a way it must not. */
static bool ended_well(struct run *run, struct slot *s, int status)
{
	if (WIFEXITED(status) && !WEXITSTATUS(status)) {
		run->exits++;
		return true;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && s->killed)
		return true;
	if (WIFEXITED(status))
		slot_fail(run, s, "%s %d exited with %d",
			  role_names[s->role], s->idx, WEXITSTATUS(status));
	else
		slot_fail(run, s, "%s %d died of signal %d",
			  role_names[s->role], s->idx,
			  WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	return false;
}

/* Reaps what ended; respawns it unless the run is stopping. */
static int reap_slots(struct run *run, bool respawn)
{
	int i, status, alive = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < run->nr_slots; i++) {
			if (run->slots[i].pid != pid)
				continue;
			ended_well(run, &run->slots[i], status);
			run->slots[i].pid = 0;
			if (respawn && !ctl_stopping(run->ctl)) {
				start_slot(run, i);
				run->respawns++;
			}
		}
	}
	for (i = 0; i < run->nr_slots; i++)
		alive += run->slots[i].pid > 0;
	return alive;
}

/* A live process of one of @roles (1 << role each), or NULL. */
static struct slot *pick(struct run *run, unsigned int roles)
{
	struct slot *live[NR_SLOTS], *s;
	int i, n = 0;

	for (i = 0; i < run->nr_slots; i++) {
		s = &run->slots[i];
		if (s->pid > 0 && !s->killed && roles & 1U << s->role)
			live[n++] = s;
	}
	return n ? live[xorshift(&run->seed) % n] : NULL;
}

/* One move of the killer: a signal of some kind to someone. */
static void harass(struct run *run)
{
	uint32_t r = xorshift(&run->seed) % 100;
	struct slot *s;
	int i;

	for (i = 0; i < run->nr_slots; i++)
		if (run->ctl->stops[i] % 2 &&
		    now_ns() - run->stopped_at[i] > STOP_SETTLE_NS)
			__atomic_add_fetch(&run->ctl->stops[i], 1, __ATOMIC_SEQ_CST);
	/*
	 * Waiters get signals of every kind, the others SIGKILL only, and
	 * the lifecycles a share of their own, not to be lost among the
	 * buffers' processes. Not the isolator: a SIGKILL could take one of
	 * its waiters between its dequeue by a WAKE and its count.
	 */
	if (r < 90)
		s = pick(run, 1U << WAITER);
	else if (r < 99 || !(run->roles & 1U << LIFECYCLE))
		s = pick(run, ~(1U << WAITER | 1U << ISOLATOR));
	else
		s = pick(run, 1U << LIFECYCLE);
	if (!s)
		return;
	i = s - run->slots;
	/* One STOP at a time per process. */
	if (r >= 60 && r < 72 && run->ctl->stops[i] % 2)
		r = 0;
	if (r < 35) {
		kill(s->pid, SIGUSR1);
		run->sigs[0]++;
	} else if (r < 60) {
		kill(s->pid, SIGUSR2);
		run->sigs[1]++;
	} else if (r < 72) {
		/* Counted first, so a waiter that sees EINTR also sees this. */
		__atomic_add_fetch(&run->ctl->stops[i], 1, __ATOMIC_SEQ_CST);
		run->stopped_at[i] = now_ns();
		kill(s->pid, SIGSTOP);
		usleep(xorshift(&run->seed) % 2000);
		kill(s->pid, SIGCONT);
		run->sigs[2]++;
	} else {
		s->killed = true;
		kill(s->pid, SIGKILL);
		run->kills++;
		run->life_kills += s->role == LIFECYCLE;
	}
}

/* Reads /proc/<pid>/task/<tid>/<what> into @buf; its length or -1. */
static ssize_t read_task_file(long pid, long tid, const char *what,
			      char *buf, size_t len)
{
	char path[96];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/%s", pid, tid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, buf, len - 1);
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	return got;
}

static long proc_number(const struct dirent *de)
{
	char *end;
	long n = strtol(de->d_name, &end, 10);

	return *end || n <= 0 ? -1 : n;
}

/* Tasks (threads included) in D state right now, listed into @buf. */
static int d_state_tasks(char *buf, size_t len)
{
	char path[64], stat[512], wchan[64], *p;
	struct dirent *pe, *te;
	size_t used = 0;
	long pid, tid;
	DIR *pd, *td;
	int n = 0;

	buf[0] = '\0';
	pd = opendir("/proc");
	if (!pd)
		return -1;
	while ((pe = readdir(pd))) {
		pid = proc_number(pe);
		if (pid < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task", pid);
		td = opendir(path);
		if (!td)
			continue;
		while ((te = readdir(td))) {
			tid = proc_number(te);
			if (tid < 0 ||
			    read_task_file(pid, tid, "stat", stat, sizeof(stat)) <= 0)
				continue;
			/* "pid (comm) S ...": comm may hold anything. */
			p = strrchr(stat, ')');
			if (!p || p[1] != ' ' || p[2] != 'D')
				continue;
			n++;
			read_task_file(pid, tid, "wchan", wchan, sizeof(wchan));
			p[1] = '\0';
			if (used < len)
				used += snprintf(buf + used, len - used, " %s [%s]",
						 stat, wchan);
		}
		closedir(td);
	}
	closedir(pd);
	return n;
}

/* Fixture */

/* The test's own open and mapping of a buffer of the run. */
struct test_buf {
	int fd;
	uint8_t *map;
	size_t size;
};

FIXTURE(shmring_torture) {
	struct run run;
	int ko_fd;
	struct test_buf bufs[MAX_BUFS];
};

static void test_buf_close(struct test_buf *tb)
{
	if (tb->map != MAP_FAILED)
		munmap(tb->map, tb->size);
	if (tb->fd >= 0)
		close(tb->fd);
	tb->map = MAP_FAILED;
	tb->fd = -1;
}

static void add_slot(struct run *run, enum role role, int idx, int buf)
{
	assert(run->nr_slots < NR_SLOTS);
	run->slots[run->nr_slots++] = (struct slot){
		.role = role, .idx = idx, .buf = buf,
	};
}

/*
 * The next buffer of the run is the device node @path: the test opens and
 * maps it, zeroes it, and gives it a slot for each process of every role.
 */
static void torture_add_buffer(struct __test_metadata *_metadata,
			       FIXTURE_DATA(shmring_torture) *self,
			       const char *path)
{
	struct run *run = &self->run;
	int b = run->nr_bufs, i;
	struct test_buf *tb = &self->bufs[b];
	struct shared *sh = &run->ctl->bufs[b];
	struct shmring_info info;
	enum role role;

	ASSERT_GT(MAX_BUFS, b);
	tb->fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, tb->fd) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, shmring_get_info(tb->fd, &info));
	ASSERT_LE((MAPPER_FIRST + NR_MAPPERS * MAPPER_PAGES) * info.page_size,
		  info.size);
	tb->size = info.size;
	tb->map = shmring_map_zeroed(tb->fd, info.size);
	ASSERT_NE(MAP_FAILED, tb->map);
	ASSERT_EQ(0, await_nr_waiters(tb->fd, 0));

	sh->ctl = run->ctl;
	ASSERT_GT(sizeof(sh->path), strlen(path));
	snprintf(sh->path, sizeof(sh->path), "%s", path);
	sh->size = info.size;
	sh->page = info.page_size;
	run->nr_bufs++;
	for (role = 0; role < NR_BUF_ROLES; role++)
		for (i = 0; i < role_slots[role]; i++)
			add_slot(run, role, i, b);
}

FIXTURE_SETUP(shmring_torture)
{
	struct sigaction usr1 = { .sa_handler = on_usr1 };
	struct sigaction usr2 = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };
	const char *ko = getenv("SHMRING_KO");
	struct run *run = &self->run;
	uint64_t page;
	int i;

	memset(run, 0, sizeof(*run));
	self->ko_fd = -1;
	for (i = 0; i < MAX_BUFS; i++)
		self->bufs[i] = (struct test_buf){ .fd = -1, .map = MAP_FAILED };
	ASSERT_EQ(0, geteuid()) TH_LOG("unloading the module needs root");
	ASSERT_NE(NULL, ko) TH_LOG("SHMRING_KO must name the shmring module file");
	self->ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->ko_fd) TH_LOG("%s: %s", ko, strerror(errno));

	run->ctl = mmap(NULL, sizeof(*run->ctl), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, run->ctl);
	torture_add_buffer(_metadata, self, SHMRING_DEV);
	page = run->ctl->bufs[0].page;
	for (i = 0; i < NR_WORDS; i++)
		run->words[i] = (i / 2 + 1) * page - (i % 2 ? 4 : 0);
	run->seed = (uint32_t)now_ns() | 1;
	run->roles = ALL_ROLES;

	/* Inherited by every child, so a signal never finds one without. */
	sigemptyset(&usr1.sa_mask);
	sigemptyset(&usr2.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &usr1, NULL));
	ASSERT_EQ(0, sigaction(SIGUSR2, &usr2, NULL));
}

FIXTURE_TEARDOWN(shmring_torture)
{
	struct run *run = &self->run;
	int i;

	/* After a failure: nothing of this run may outlive it. */
	for (i = 0; i < run->nr_slots; i++) {
		if (run->slots[i].pid > 0) {
			kill(run->slots[i].pid, SIGKILL);
			waitpid(run->slots[i].pid, NULL, 0);
		}
	}
	for (i = 0; i < MAX_BUFS; i++)
		test_buf_close(&self->bufs[i]);
	/* The instances case's names, after a failure. */
	if (run->roles & INSTANCE_ROLES) {
		for (i = 0; i < NR_INSTANCES; i++)
			shmring_inst_destroy(inst_names[i]);
		for (i = 0; i < NR_LIFECYCLES; i++)
			shmring_inst_destroy(life_names[i]);
	}
	/* Later suites need the module, whatever happened here. */
	if (self->ko_fd >= 0 && !module_loaded())
		load_module(self->ko_fd, "");
	if (self->ko_fd >= 0)
		close(self->ko_fd);
	if (run->ctl && run->ctl != MAP_FAILED)
		munmap(run->ctl, sizeof(*run->ctl));
}

/* Each part of the torture that ran on the buffer of @sh did its work. */
static void torture_did_work(struct __test_metadata *_metadata,
			     struct run *run, struct shared *sh)
{
	ksft_print_msg("torture: %s: waits %lu woken, %lu EAGAIN, %lu ETIMEDOUT, %lu EINTR; wakes %lu (woke %lu)\n",
		       sh->path, sh->waits[R_WOKEN], sh->waits[R_EAGAIN],
		       sh->waits[R_TIMEDOUT], sh->waits[R_EINTR], sh->wakes,
		       sh->woken);
	ksft_print_msg("torture: %s: maps %lu, mremaps %lu, forks %lu, churns %lu\n",
		       sh->path, sh->maps, sh->mremaps, sh->forks, sh->churns);
	ksft_print_msg("torture: %s: watch rounds %lu, readable after a WAKE %lu, closed under read or epoll_wait %lu; releases %lu (%lu by SIGKILL)\n",
		       sh->path, sh->watch_rounds, sh->watch_checks,
		       sh->blocked_closes, sh->releases, sh->release_kills);
	fflush(stdout);

	ASSERT_LT(0UL, sh->waits[R_WOKEN]) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->waits[R_EINTR]) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->woken) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->watch_checks) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->blocked_closes) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->releases) TH_LOG("%s", sh->path);
	ASSERT_LT(0UL, sh->release_kills) TH_LOG("%s", sh->path);
	if (run->roles & 1U << MAPPER) {
		ASSERT_LT(0UL, sh->mremaps) TH_LOG("%s", sh->path);
		ASSERT_LT(0UL, sh->forks) TH_LOG("%s", sh->path);
	}
	if (run->roles & 1U << CHURNER)
		ASSERT_LT(0UL, sh->churns) TH_LOG("%s", sh->path);
}

/*
 * Runs the roles of run->roles on every buffer for @secs, then stops
 * them: none may have failed, and all must be gone, each part must have
 * done its work on every buffer, and the test holds the fds it held
 * before. Prints what was done.
 */
static void torture_run(struct __test_metadata *_metadata,
			FIXTURE_DATA(shmring_torture) *self, unsigned long secs)
{
	struct run *run = &self->run;
	struct ctl *ctl = run->ctl;
	int64_t start, end;
	int b, i, alive, nfds;

	nfds = count_fds();
	ASSERT_LT(0, nfds);
	ksft_print_msg("torture: %lu s, seed %u, on", secs, run->seed);
	for (b = 0; b < run->nr_bufs; b++)
		printf(" %s", ctl->bufs[b].path);
	printf("\n");
	fflush(stdout);
	for (i = 0; i < run->nr_slots; i++)
		start_slot(run, i);
	start = now_ns();
	end = start + secs * NSEC_PER_SEC;
	while (now_ns() < end && !ctl_stopping(ctl)) {
		usleep(2000 + xorshift(&run->seed) % 8000);
		reap_slots(run, true);
		harass(run);
	}

	/*
	 * Stop: the flag first, then change every word and wake it. A waiter
	 * that read a word before the change either queued before the WAKE
	 * or finds the word changed.
	 */
	__atomic_store_n(&ctl->stop, 1, __ATOMIC_SEQ_CST);
	for (b = 0; b < run->nr_bufs; b++) {
		for (i = 0; i < NR_WORDS; i++) {
			__atomic_add_fetch((uint32_t *)(self->bufs[b].map +
							run->words[i]),
					   1, __ATOMIC_SEQ_CST);
			ASSERT_LE(0, shmring_wake(self->bufs[b].fd, run->words[i],
						  UINT32_MAX));
		}
	}
	end = now_ns() + STOP_NS;
	while ((alive = reap_slots(run, false)) && now_ns() < end)
		usleep(1000);
	ASSERT_EQ(0, ctl->failed) TH_LOG("%s", ctl->msg);
	ASSERT_EQ(0, alive) TH_LOG("processes still running after the stop and its WAKEs");

	ksft_print_msg("torture: %.1f s: signals %lu USR1, %lu USR2, %lu STOP; %lu SIGKILLs, %lu exits, %lu respawns\n",
		       (now_ns() - start) / 1e9, run->sigs[0], run->sigs[1],
		       run->sigs[2], run->kills, run->exits, run->respawns);
	ASSERT_LT(0UL, run->kills);
	for (b = 0; b < run->nr_bufs; b++)
		torture_did_work(_metadata, run, &ctl->bufs[b]);
	/* Every child is gone: the test holds what it held at the start. */
	ASSERT_EQ(nfds, count_fds());
}

/* Nobody waits on any buffer, and no task stays in D state. */
static void torture_settled(struct __test_metadata *_metadata,
			    FIXTURE_DATA(shmring_torture) *self)
{
	char tasks[512];
	int64_t end;
	int b, n;

	for (b = 0; b < self->run.nr_bufs; b++)
		ASSERT_EQ(0, await_nr_waiters(self->bufs[b].fd, 0))
			TH_LOG("%s", self->run.ctl->bufs[b].path);

	/* A task can pass through D briefly; one that stays there is stuck. */
	end = now_ns() + D_STATE_NS;
	while ((n = d_state_tasks(tasks, sizeof(tasks))) > 0 && now_ns() < end)
		usleep(100000);
	ASSERT_EQ(0, n) TH_LOG("tasks stuck in D state:%s", tasks);
}

/*
 * Every word the run watched on the device of @fd was given back: its
 * watch fds can watch SHMRING_WATCH_TOTAL_MAX words together again, and
 * not one more.
 */
static void watch_budget_whole(struct __test_metadata *_metadata, int fd)
{
	enum { NFD = SHMRING_WATCH_TOTAL_MAX / SHMRING_WATCH_MAX };
	uint64_t offs[SHMRING_WATCH_MAX];
	int wfd[NFD], i, n, extra = 0;
	int64_t start = now_ns();

	for (i = 0; i < SHMRING_WATCH_MAX; i++)
		offs[i] = 4 * i;
	/* The last closes of killed processes may still be on their way. */
	for (;;) {
		for (n = 0; n < NFD; n++) {
			wfd[n] = shmring_watch_new(fd, offs, SHMRING_WATCH_MAX,
						   SHMRING_WATCH_NONBLOCK);
			if (wfd[n] < 0)
				break;
		}
		if (n == NFD) {
			extra = shmring_watch_new(fd, offs, 1, 0);
			if (extra >= 0)
				close(extra);
		}
		for (i = 0; i < n; i++)
			close(wfd[i]);
		if (n == NFD || wfd[n] != -ENOSPC || !poll_again(start))
			break;
	}
	ASSERT_EQ(NFD, n) TH_LOG("watch fd %d of %d words: %s", n,
				 SHMRING_WATCH_MAX, strerror(-wfd[n]));
	ASSERT_EQ(-ENOSPC, extra);
}

/*
 * The module unloads, which it only does once nothing holds a file of
 * the device or of an instance, a mapping or a watch fd: each of them
 * pins it. Then it loads again with no parameters, and the device works.
 * The test's own opens and mappings go first.
 */
static void torture_reload(struct __test_metadata *_metadata,
			   FIXTURE_DATA(shmring_torture) *self)
{
	struct test_buf *tb = &self->bufs[0];
	char why[128];
	int b;

	for (b = 0; b < MAX_BUFS; b++)
		test_buf_close(&self->bufs[b]);
	/* The final fputs of killed processes may still be on their way. */
	ASSERT_EQ(0, unload_module_retry());
	ASSERT_FALSE(module_loaded());
	ASSERT_EQ(0, load_module(self->ko_fd, ""));
	tb->fd = shmring_open(O_RDWR);
	ASSERT_LE(0, tb->fd) TH_LOG("open after reload: %s", strerror(errno));
	ASSERT_EQ(0, shmring_check_usable(tb->fd, why, sizeof(why)))
		TH_LOG("after reload: %s", why);
}

static unsigned long torture_seconds(void)
{
	return env_ulong("SHMRING_TORTURE_SECONDS", DEFAULT_SECONDS, MAX_SECONDS);
}

TEST_F_TIMEOUT(shmring_torture, all_at_once, MAX_SECONDS + 120)
{
	torture_run(_metadata, self, torture_seconds());
	torture_settled(_metadata, self);
	torture_reload(_metadata, self);
}

/* Only when named: see the comment at the top. */
TEST_F_TIMEOUT(shmring_torture, events_churn, MAX_SECONDS + 120)
{
	self->run.roles = EVENT_ROLES;
	torture_run(_metadata, self, torture_seconds());
	torture_settled(_metadata, self);
	watch_budget_whole(_metadata, self->bufs[0].fd);
}

/*
 * The isolator's sums, once it is gone: on each word of each buffer, its
 * WAKEs there woke exactly as many as its waiter there saw woken, and
 * some on every buffer.
 */
static void isolation_held(struct __test_metadata *_metadata,
			   struct run *run)
{
	struct ctl *ctl = run->ctl;
	unsigned long sum;
	int b, w;

	for (b = 0; b < run->nr_bufs; b++) {
		sum = 0;
		for (w = 0; w < NR_ISO_WORDS; w++) {
			ksft_print_msg("isolation: %s: word %#llx: WAKEs woke %lu, its waiter woken %lu\n",
				       ctl->bufs[b].path,
				       (unsigned long long)(ISO_PAGE * ctl->bufs[b].page +
							    w * ISO_WORD_STEP),
				       ctl->iso_wakes[b][w], ctl->iso_woken[b][w]);
			ASSERT_EQ(ctl->iso_wakes[b][w], ctl->iso_woken[b][w])
				TH_LOG("%s: a WAKE there woke another buffer's waiter, or one of another buffer woke this one's",
				       ctl->bufs[b].path);
			sum += ctl->iso_woken[b][w];
		}
		ASSERT_LT(0UL, sum) TH_LOG("%s: no isolator's waiter woken",
					   ctl->bufs[b].path);
	}
}

/* Polls an instance's sysfs count of open files until it is @want. */
static long long await_users(const char *name, long long want)
{
	int64_t start = now_ns();
	char path[96];
	long long n;

	snprintf(path, sizeof(path), SHMRING_CLASS_DIR "%s/users", name);
	while ((n = read_num(path)) != want && poll_again(start))
		;
	return n;
}

/* Instances named INST_PREFIX* that the class lists, listed into @buf. */
static int leftover_names(char *buf, size_t len)
{
	DIR *d = opendir(SHMRING_CLASS_DIR);
	size_t used = 0;
	struct dirent *de;
	int n = 0;

	buf[0] = '\0';
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, INST_PREFIX, strlen(INST_PREFIX)))
			continue;
		n++;
		if (used < len)
			used += snprintf(buf + used, len - used, " %s", de->d_name);
	}
	closedir(d);
	return n;
}

/*
 * The whole torture on the default device and NR_INSTANCES instances at
 * once, with lifecycles and the isolator; see the comment at the top.
 */
TEST_F_TIMEOUT(shmring_torture, instances, MAX_SECONDS + 120)
{
	struct run *run = &self->run;
	struct ctl *ctl = run->ctl;
	char path[64], names[256];
	struct sched_param sp;
	int i, ret, nfds;

	run->roles = ALL_ROLES | INSTANCE_ROLES;
	nfds = count_fds();
	for (i = 0; i < NR_INSTANCES; i++) {
		/* What a run that crashed may have left. */
		shmring_inst_destroy(inst_names[i]);
		/* 1 MiB, 2 MiB: sizes of their own, none the device's. */
		ret = shmring_inst_create(inst_names[i], (i + 1) << 20, 0600);
		ASSERT_EQ(0, ret) TH_LOG("CREATE %s: %s", inst_names[i],
					 strerror(-ret));
		snprintf(path, sizeof(path), SHMRING_INST_DIR "%s",
			 inst_names[i]);
		torture_add_buffer(_metadata, self, path);
	}
	for (i = 0; i < NR_LIFECYCLES; i++)
		add_slot(run, LIFECYCLE, i, 0);
	add_slot(run, ISOLATOR, 0, 0);

	/*
	 * Three buffers' processes leave the supervisor few turns on the
	 * vCPUs: at their priority, its moves came 3 to 10 times slower
	 * than in all_at_once. Real-time, it keeps pace; it sleeps between
	 * moves, and its children start as SCHED_OTHER.
	 */
	sp.sched_priority = SUPERVISOR_PRIO;
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp));
	torture_run(_metadata, self, torture_seconds());
	sp.sched_priority = 0;
	ASSERT_EQ(0, sched_setscheduler(0, SCHED_OTHER, &sp));
	ksft_print_msg("lifecycles: %lu lives, %lu waiters woken on destroyed or recreated instances, %lu SIGKILLs\n",
		       ctl->lives, ctl->life_woken, run->life_kills);
	ASSERT_LT(0UL, ctl->lives);
	isolation_held(_metadata, run);
	torture_settled(_metadata, self);
	for (i = 0; i < run->nr_bufs; i++)
		watch_budget_whole(_metadata, self->bufs[i].fd);

	/*
	 * Of each instance, only the test's own open file is left: its
	 * mapping holds that same file. Then nothing, and DESTROY.
	 */
	for (i = 0; i < NR_INSTANCES; i++) {
		ASSERT_EQ(1, await_users(inst_names[i], 1)) TH_LOG("%s", inst_names[i]);
		test_buf_close(&self->bufs[i + 1]);
		ASSERT_EQ(0, await_users(inst_names[i], 0)) TH_LOG("%s", inst_names[i]);
		ASSERT_EQ(0, shmring_inst_destroy(inst_names[i]));
	}
	/* A lifecycle SIGKILLed as the run stopped left its name. */
	for (i = 0; i < NR_LIFECYCLES; i++) {
		ret = shmring_inst_destroy(life_names[i]);
		ASSERT_TRUE(!ret || ret == -ENOENT) TH_LOG("DESTROY %s: %s",
							   life_names[i],
							   strerror(-ret));
	}
	ASSERT_EQ(0, leftover_names(names, sizeof(names)))
		TH_LOG("%s still lists:%s", SHMRING_CLASS_DIR, names);
	/* No fd of any of them is left in the test. */
	ASSERT_EQ(nfds, count_fds());
	/* Nor anywhere: the module unloads. */
	torture_reload(_metadata, self);
}

/* A run without arguments, the kselftest runner's, leaves events_churn out. */
int main(int argc, char **argv)
{
	char *plain[] = { argv[0], "-T", "events_churn", NULL };

	if (argc > 1)
		return test_harness_run(argc, argv);
	return test_harness_run(3, plain);
}
