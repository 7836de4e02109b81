// SPDX-License-Identifier: GPL-2.0
/*
 * Watch fds and release actions of /dev/shmring (ABI version 2): every
 * rule and errno of SHMRING_IOC_WATCH, _WATCH_ADD, _WATCH_DEL,
 * _RELEASE_ADD and _RELEASE_DEL; read, poll, select and epoll (level and
 * edge) on watch fds; closing a watch fd under a reader and an epoll
 * waiter; release actions run by close, dup, mappings, fork, exec with
 * close-on-exec, SIGKILL and a pid namespace's end; fdinfo of both fds.
 *
 * Environment:
 *   SHMRING_EVENTS_RACES  rounds of the close-versus-wait races (default 300)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

/* Time a sleeper that should stay asleep gets to (wrongly) return. */
#define SETTLE_US		100000
#define LONG_NS			(20 * NSEC_PER_SEC)
#define MIN_PAGES		16
#define DEFAULT_RACES		300

struct ctx {
	int fd;			/* O_RDWR, mapped */
	uint64_t size;
	uint64_t page;
	uint8_t *buf;
};

static uint32_t *word(struct ctx *c, uint64_t off)
{
	return (uint32_t *)(c->buf + off);
}

static uint32_t get_word(struct ctx *c, uint64_t off)
{
	return __atomic_load_n(word(c, off), __ATOMIC_SEQ_CST);
}

static void set_word(struct ctx *c, uint64_t off, uint32_t v)
{
	__atomic_store_n(word(c, off), v, __ATOMIC_SEQ_CST);
}

/* The pending count, without resetting it, from fdinfo; or -1. */
static int64_t fdinfo_count(int wfd)
{
	char path[64], line[512];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", wfd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "shmring-watch-count: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Number of offsets fdinfo lists for a watch fd; or -1. */
static int fdinfo_nr_offsets(int wfd)
{
	char buf[4096], *p;
	int n = 0;

	if (fdinfo_lines(wfd, "shmring-watch-offsets:", buf, sizeof(buf)))
		return -1;
	for (p = buf; (p = strstr(p, " 0x")); p++)
		n++;
	return n;
}

/* The state letter of a thread, from /proc: 'S' while it sleeps. */
static char thread_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* Polls until thread @tid sleeps; false after POLL_NS. */
static bool await_sleeping(pid_t *tidp)
{
	int64_t start = now_ns();
	pid_t tid;

	do {
		tid = __atomic_load_n(tidp, __ATOMIC_SEQ_CST);
		if (tid && thread_state(tid) == 'S')
			return true;
	} while (poll_again(start));
	return false;
}

static int await_int_eq(int *p, int want)
{
	int64_t start = now_ns();
	int v;

	while ((v = __atomic_load_n(p, __ATOMIC_SEQ_CST)) != want &&
	       poll_again(start))
		;
	return v;
}

static void ctx_setup(struct __test_metadata *_metadata, struct ctx *c)
{
	struct shmring_info info;

	c->fd = shmring_open(O_RDWR);
	if (c->fd < 0 && errno == ENOENT)
		SKIP(return, "%s is missing: shmring is not loaded", SHMRING_DEV);
	ASSERT_LE(0, c->fd) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
	ASSERT_EQ(0, shmring_get_info(c->fd, &info));
	ASSERT_EQ(SHMRING_ABI_VERSION, info.abi_version);
	ASSERT_EQ(SHMRING_FEATURES, info.features);
	c->size = info.size;
	c->page = info.page_size;
	ASSERT_LE(MIN_PAGES * c->page, c->size);
	c->buf = shmring_map_zeroed(c->fd, c->size);
	ASSERT_NE(MAP_FAILED, c->buf);
	ASSERT_EQ(0, await_nr_waiters(c->fd, 0));
}

static void ctx_teardown(struct __test_metadata *_metadata, struct ctx *c)
{
	if (_metadata->exit_code == KSFT_PASS) {
		EXPECT_EQ(0, await_nr_waiters(c->fd, 0));
	}
	if (c->buf && c->buf != MAP_FAILED)
		munmap(c->buf, c->size);
	if (c->fd >= 0)
		close(c->fd);
}

FIXTURE(events) {
	struct ctx c;
};

FIXTURE_SETUP(events)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(events)
{
	ctx_teardown(_metadata, &self->c);
}

/* Waiter and reader threads */

struct sleeper {
	pthread_t thr;
	int fd;
	uint64_t off;
	uint32_t val;
	pid_t tid;
	int64_t ret;
	int done;
};

static void *wait_fn(void *arg)
{
	struct sleeper *s = arg;

	__atomic_store_n(&s->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	s->ret = shmring_wait(s->fd, s->off, s->val, 0, LONG_NS);
	__atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *read_fn(void *arg)
{
	struct sleeper *s = arg;

	__atomic_store_n(&s->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	s->ret = shmring_watch_read(s->fd);
	__atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* INFO, and which fds take which ioctls */

TEST_F(events, info_features)
{
	struct shmring_info info;

	ASSERT_EQ(0, shmring_get_info(self->c.fd, &info));
	EXPECT_EQ(2, SHMRING_ABI_VERSION);
	EXPECT_EQ(2, info.abi_version);
	EXPECT_EQ(SHMRING_FEATURE_WATCH | SHMRING_FEATURE_RELEASE |
		  SHMRING_FEATURE_INSTANCES, info.features);
	EXPECT_EQ(0, info.reserved0);
}

TEST_F(events, watch_needs_read_access)
{
	uint64_t off = 0;
	int fd, wfd;

	fd = shmring_open(O_WRONLY);
	ASSERT_LE(0, fd);
	/* EBADF before the argument is looked at: NULL would be EFAULT. */
	ASSERT_EQ(-EBADF, shmring_watch_new(fd, &off, 1, 0));
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_WATCH, NULL));
	ASSERT_EQ(EBADF, errno);
	close(fd);

	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	wfd = shmring_watch_new(fd, &off, 1, 0);
	ASSERT_LE(0, wfd);
	close(wfd);
	close(fd);
}

TEST_F(events, watch_fd_flags)
{
	char path[64], target[128];
	uint64_t off = 0;
	int wfd, n;

	wfd = shmring_watch_new(self->c.fd, &off, 1, 0);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(O_RDONLY, fcntl(wfd, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	EXPECT_EQ(FD_CLOEXEC, fcntl(wfd, F_GETFD));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", wfd);
	n = readlink(path, target, sizeof(target) - 1);
	ASSERT_LT(0, n);
	target[n] = '\0';
	EXPECT_STREQ("anon_inode:[shmring-watch]", target);
	/* Not a device: no mmap, no write. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->c.page, PROT_READ, MAP_SHARED, wfd, 0));
	EXPECT_EQ(-1, write(wfd, &off, sizeof(off)));
	EXPECT_EQ(EBADF, errno);
	close(wfd);

	wfd = shmring_watch_new(self->c.fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(O_RDONLY | O_NONBLOCK,
		  fcntl(wfd, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	EXPECT_EQ(FD_CLOEXEC, fcntl(wfd, F_GETFD));
	close(wfd);
}

TEST_F(events, watch_bad_arguments)
{
	struct ctx *c = &self->c;
	uint64_t offs[SHMRING_WATCH_MAX + 1];
	struct shmring_watch w;
	void *none;
	int i, wfd;

	for (i = 0; i <= SHMRING_WATCH_MAX; i++)
		offs[i] = 4 * i;
	none = mmap(NULL, c->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);

	ASSERT_EQ(-1, ioctl(c->fd, SHMRING_IOC_WATCH, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(c->fd, SHMRING_IOC_WATCH, none));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-EINVAL, shmring_watch_new(c->fd, offs, 1, 1U << 1));
	ASSERT_EQ(-EINVAL, shmring_watch_new(c->fd, offs, 1, 1U << 31));

	w = (struct shmring_watch){ .offsets = (uintptr_t)offs, .nr = 1 };
	w.reserved[0] = 1;
	ASSERT_EQ(-1, ioctl(c->fd, SHMRING_IOC_WATCH, &w));
	ASSERT_EQ(EINVAL, errno);
	w.reserved[0] = 0;
	w.reserved[1] = 1ULL << 63;
	ASSERT_EQ(-1, ioctl(c->fd, SHMRING_IOC_WATCH, &w));
	ASSERT_EQ(EINVAL, errno);

	ASSERT_EQ(-ENOSPC, shmring_watch_new(c->fd, offs, SHMRING_WATCH_MAX + 1, 0));
	ASSERT_EQ(-ENOSPC, shmring_watch_new(c->fd, offs, UINT32_MAX, 0));
	ASSERT_EQ(-EFAULT, shmring_watch_new(c->fd, NULL, 1, 0));
	ASSERT_EQ(-EFAULT, shmring_watch_new(c->fd, none, 1, 0));
	/* The last offset lies beyond a readable array. */
	ASSERT_EQ(-EFAULT, shmring_watch_new(c->fd, (uint64_t *)none - 1, 2, 0));

	{
		const uint64_t bad[] = {
			1, 2, 3, c->size, c->size - 2, c->size + 4,
			UINT64_MAX - 3, UINT64_MAX, 1ULL << 63,
		};

		for (i = 0; i < (int)ARRAY_SIZE(bad); i++) {
			uint64_t two[2] = { 0, bad[i] };

			ASSERT_EQ(-EINVAL, shmring_watch_new(c->fd, two, 2, 0))
				TH_LOG("offset %#llx", (unsigned long long)bad[i]);
		}
	}
	offs[5] = offs[2];
	ASSERT_EQ(-EINVAL, shmring_watch_new(c->fd, offs, 6, 0));
	offs[5] = 20;

	/* Nothing to watch is fine, and does not read the pointer. */
	wfd = shmring_watch_new(c->fd, NULL, 0, 0);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, fdinfo_nr_offsets(wfd));
	close(wfd);
	wfd = shmring_watch_new(c->fd, offs, SHMRING_WATCH_MAX, 0);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(SHMRING_WATCH_MAX, fdinfo_nr_offsets(wfd));
	close(wfd);
	/* The last word is a word too. */
	offs[0] = c->size - 4;
	wfd = shmring_watch_new(c->fd, offs, 1, 0);
	ASSERT_LE(0, wfd);
	close(wfd);
	munmap(none, c->page);
}

TEST_F(events, ioctls_on_the_wrong_fd)
{
	struct ctx *c = &self->c;
	uint64_t off = 0;
	struct shmring_info info;
	struct shmring_wait wt = { .offset = 0, .timeout_ns = 0 };
	struct shmring_wake wk = { .offset = 0, .count = 1 };
	struct shmring_release r = { .offset = 0 };
	struct shmring_watch w = { .offsets = (uintptr_t)&off, .nr = 1 };
	int wfd;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_INFO, &info));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WAIT, &wt));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WAKE, &wk));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH, &w));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_RELEASE_ADD, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_RELEASE_DEL, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(wfd, _IOW(SHMRING_IOC_MAGIC, 4, struct shmring_wake), &w));
	EXPECT_EQ(ENOTTY, errno);

	off = 4;
	EXPECT_EQ(-ENOTTY, shmring_watch_ctl(c->fd, SHMRING_IOC_WATCH_ADD, &off, 1));
	EXPECT_EQ(-ENOTTY, shmring_watch_ctl(c->fd, SHMRING_IOC_WATCH_DEL, &off, 1));
	/* Nothing was watched or unwatched by them. */
	EXPECT_EQ(1, fdinfo_nr_offsets(wfd));
	close(wfd);
}

/* read() */

TEST_F(events, read_counts_and_resets)
{
	struct ctx *c = &self->c;
	uint64_t off = c->page + 8, big[2];
	uint8_t small[7];
	void *ro;
	int wfd;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));

	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(1, shmring_watch_read(wfd));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));

	/* Every WAKE counts, whatever its count, 0 included. */
	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
	ASSERT_EQ(3, fdinfo_count(wfd));
	/* Short buffers fail and consume nothing; long ones get 8 bytes. */
	ASSERT_EQ(-1, read(wfd, small, sizeof(small)));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, read(wfd, small, 0));
	ASSERT_EQ(EINVAL, errno);
	/* A buffer the kernel cannot write consumes nothing either. */
	ro = mmap(NULL, c->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-1, read(wfd, ro, 8));
	ASSERT_EQ(EFAULT, errno);
	munmap(ro, c->page);
	ASSERT_EQ(8, read(wfd, big, sizeof(big)));
	ASSERT_EQ(3, big[0]);
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));

	/* Other words, even neighbours, do not count. */
	ASSERT_EQ(0, shmring_wake(c->fd, off - 4, 1));
	ASSERT_EQ(0, shmring_wake(c->fd, off + 4, 1));
	ASSERT_EQ(0, shmring_wake(c->fd, 0, 1));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));
	/* Nor do failed WAKEs. */
	ASSERT_EQ(-EINVAL, shmring_wake(c->fd, off + 1, 1));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));
	close(wfd);
}

/* WAKE counts the WAIT sleepers it woke, never the watchers. */
TEST_F(events, wake_return_excludes_watchers)
{
	struct ctx *c = &self->c;
	struct sleeper s = { .fd = c->fd, .off = 64, .val = 0 };
	uint64_t off = 64;
	int wfd[3], i;

	for (i = 0; i < 3; i++) {
		wfd[i] = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
		ASSERT_LE(0, wfd[i]);
	}
	ASSERT_EQ(0, shmring_wake(c->fd, off, UINT32_MAX));
	ASSERT_EQ(0, pthread_create(&s.thr, NULL, wait_fn, &s));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	set_word(c, off, 1);
	ASSERT_EQ(1, shmring_wake(c->fd, off, UINT32_MAX));
	pthread_join(s.thr, NULL);
	ASSERT_EQ(0, s.ret);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(2, shmring_watch_read(wfd[i]));
		close(wfd[i]);
	}
	/* INFO's nr_waiters does not count watchers either. */
	ASSERT_EQ(0, nr_waiters(c->fd));
}

TEST_F(events, blocking_read_woken_by_wake)
{
	struct ctx *c = &self->c;
	struct sleeper s = { 0 };
	uint64_t off = 128;

	s.fd = shmring_watch_new(c->fd, &off, 1, 0);
	ASSERT_LE(0, s.fd);
	ASSERT_EQ(0, pthread_create(&s.thr, NULL, read_fn, &s));
	ASSERT_TRUE(await_sleeping(&s.tid));
	usleep(SETTLE_US);
	ASSERT_EQ(0, __atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
	/* Another word wakes nobody. */
	ASSERT_EQ(0, shmring_wake(c->fd, off + 4, 1));
	usleep(SETTLE_US);
	ASSERT_EQ(0, __atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	pthread_join(s.thr, NULL);
	ASSERT_EQ(1, s.ret);
	close(s.fd);
}

static int signals_seen;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(&signals_seen, 1, __ATOMIC_SEQ_CST);
}

/* A signal ends a blocking read with EINTR, or restarts it with SA_RESTART. */
TEST_F(events, blocking_read_interrupted)
{
	struct ctx *c = &self->c;
	struct sigaction sa = { .sa_handler = on_signal };
	struct sleeper s = { 0 };
	uint64_t off = 132;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	s.fd = shmring_watch_new(c->fd, &off, 1, 0);
	ASSERT_LE(0, s.fd);

	ASSERT_EQ(0, pthread_create(&s.thr, NULL, read_fn, &s));
	ASSERT_TRUE(await_sleeping(&s.tid));
	ASSERT_EQ(0, pthread_kill(s.thr, SIGUSR1));
	pthread_join(s.thr, NULL);
	ASSERT_EQ(-EINTR, s.ret);
	ASSERT_EQ(1, __atomic_load_n(&signals_seen, __ATOMIC_SEQ_CST));

	sa.sa_flags = SA_RESTART;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	s.tid = 0;
	s.done = 0;
	ASSERT_EQ(0, pthread_create(&s.thr, NULL, read_fn, &s));
	ASSERT_TRUE(await_sleeping(&s.tid));
	ASSERT_EQ(0, pthread_kill(s.thr, SIGUSR1));
	ASSERT_EQ(2, await_int_eq(&signals_seen, 2));
	/* Restarted: asleep again, until the WAKE. */
	usleep(SETTLE_US);
	ASSERT_EQ(0, __atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	pthread_join(s.thr, NULL);
	ASSERT_EQ(1, s.ret);
	signal(SIGUSR1, SIG_DFL);
	close(s.fd);
}

/* poll, select, epoll */

TEST_F(events, poll_and_select)
{
	struct ctx *c = &self->c;
	uint64_t off = 256;
	struct pollfd p;
	struct timeval tv = { 0 };
	fd_set rd;
	int wfd;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	p = (struct pollfd){ .fd = wfd, .events = POLLIN | POLLOUT | POLLPRI };
	ASSERT_EQ(0, poll(&p, 1, 0));
	FD_ZERO(&rd);
	FD_SET(wfd, &rd);
	ASSERT_EQ(0, select(wfd + 1, &rd, NULL, NULL, &tv));

	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(POLLIN, p.revents);
	FD_ZERO(&rd);
	FD_SET(wfd, &rd);
	tv = (struct timeval){ 0 };
	ASSERT_EQ(1, select(wfd + 1, &rd, NULL, NULL, &tv));
	ASSERT_TRUE(FD_ISSET(wfd, &rd));
	/* Level: still readable until read. */
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(1, shmring_watch_read(wfd));
	ASSERT_EQ(0, poll(&p, 1, 0));
	close(wfd);
}

struct poller {
	pthread_t thr;
	int wfd;
	pid_t tid;
	int ret;
	short revents;
};

static void *poll_fn(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->wfd, .events = POLLIN };

	__atomic_store_n(&p->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	p->ret = poll(&pfd, 1, (int)(LONG_NS / NSEC_PER_MSEC));
	p->revents = pfd.revents;
	return NULL;
}

/* A poll() asleep on the fd is woken by the WAKE. */
TEST_F(events, poll_woken_by_wake)
{
	struct ctx *c = &self->c;
	struct poller p = { 0 };
	uint64_t off = 260;

	p.wfd = shmring_watch_new(c->fd, &off, 1, 0);
	ASSERT_LE(0, p.wfd);
	ASSERT_EQ(0, pthread_create(&p.thr, NULL, poll_fn, &p));
	ASSERT_TRUE(await_sleeping(&p.tid));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	pthread_join(p.thr, NULL);
	ASSERT_EQ(1, p.ret);
	ASSERT_EQ(POLLIN, p.revents);
	close(p.wfd);
}

TEST_F(events, epoll_level_triggered)
{
	struct ctx *c = &self->c;
	struct epoll_event ev = { .events = EPOLLIN }, out[2];
	uint64_t off = 264;
	int ep, wfd;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ev.data.u64 = 0x1234;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));

	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(EPOLLIN, out[0].events);
	ASSERT_EQ(0x1234, out[0].data.u64);
	/* Level triggered: reported again and again until read. */
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 100));
	ASSERT_EQ(1, shmring_watch_read(wfd));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
	close(wfd);
}

TEST_F(events, epoll_edge_triggered)
{
	struct ctx *c = &self->c;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[2];
	uint64_t off = 268;
	int ep, wfd;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));

	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(EPOLLIN, out[0].events);
	/* One edge, one report, although the counter is still 1. */
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(1, fdinfo_count(wfd));
	/* Every WAKE is a new edge, read or not. */
	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(2, shmring_watch_read(wfd));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, 0));
	ASSERT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
	close(wfd);
}

/*
 * io_uring's poll: IORING_OP_POLL_ADD on a watch fd completes with POLLIN
 * once a WAKE comes, and not before; raw system calls, one SQE at a time.
 */
struct uring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	struct io_uring_params p;
};

static int uring_setup(struct uring *u)
{
	memset(u, 0, sizeof(*u));
	u->fd = syscall(__NR_io_uring_setup, 4, &u->p);
	if (u->fd < 0)
		return -errno;
	u->sq_len = u->p.sq_off.array + u->p.sq_entries * sizeof(__u32);
	u->cq_len = u->p.cq_off.cqes +
		    u->p.cq_entries * sizeof(struct io_uring_cqe);
	u->sq = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     u->fd, IORING_OFF_SQ_RING);
	u->cq = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     u->fd, IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, u->p.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED, u->fd,
		       IORING_OFF_SQES);
	if (u->sq == MAP_FAILED || u->cq == MAP_FAILED ||
	    u->sqes == MAP_FAILED)
		return -ENOMEM;
	return 0;
}

#define URING_U32(base, off)	((_Atomic __u32 *)((char *)(base) + (off)))

/* Queues and submits a POLL_ADD for POLLIN on @fd; 0 or -errno. */
static int uring_poll_add(struct uring *u, int fd, __u64 tag)
{
	_Atomic __u32 *tail = URING_U32(u->sq, u->p.sq_off.tail);
	__u32 mask = *URING_U32(u->sq, u->p.sq_off.ring_mask);
	__u32 t = atomic_load_explicit(tail, memory_order_relaxed);
	__u32 *array = (__u32 *)((char *)u->sq + u->p.sq_off.array);
	struct io_uring_sqe *sqe = &u->sqes[t & mask];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->user_data = tag;
	array[t & mask] = t & mask;
	atomic_store_explicit(tail, t + 1, memory_order_release);
	return syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0) == 1 ?
	       0 : -errno;
}

/* The next completion, waiting for it if @wait; 0 when none. */
static int uring_reap(struct uring *u, bool wait, struct io_uring_cqe *out)
{
	_Atomic __u32 *head = URING_U32(u->cq, u->p.cq_off.head);
	_Atomic __u32 *tail = URING_U32(u->cq, u->p.cq_off.tail);
	__u32 mask = *URING_U32(u->cq, u->p.cq_off.ring_mask);
	struct io_uring_cqe *cqes =
		(struct io_uring_cqe *)((char *)u->cq + u->p.cq_off.cqes);
	__u32 h = atomic_load_explicit(head, memory_order_relaxed);

	if (wait && h == atomic_load_explicit(tail, memory_order_acquire) &&
	    syscall(__NR_io_uring_enter, u->fd, 0, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return -errno;
	if (h == atomic_load_explicit(tail, memory_order_acquire))
		return 0;
	*out = cqes[h & mask];
	atomic_store_explicit(head, h + 1, memory_order_release);
	return 1;
}

static void uring_close(struct uring *u)
{
	munmap(u->sqes, u->p.sq_entries * sizeof(struct io_uring_sqe));
	munmap(u->cq, u->cq_len);
	munmap(u->sq, u->sq_len);
	close(u->fd);
}

TEST_F(events, io_uring_poll)
{
	struct ctx *c = &self->c;
	struct io_uring_cqe cqe;
	uint64_t off = 276;
	struct uring u;
	int wfd, ret;

	ret = uring_setup(&u);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(return, "no io_uring here: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	wfd = shmring_watch_new(c->fd, &off, 1, 0);
	ASSERT_LE(0, wfd);

	ASSERT_EQ(0, uring_poll_add(&u, wfd, 17));
	usleep(20000);
	ASSERT_EQ(0, uring_reap(&u, false, &cqe));	/* nothing yet */
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(1, uring_reap(&u, true, &cqe));
	ASSERT_EQ(17, cqe.user_data);
	ASSERT_TRUE(cqe.res > 0 && (cqe.res & POLLIN)) TH_LOG("res %d", cqe.res);
	ASSERT_EQ(1, shmring_watch_read(wfd));

	/* Readable already: the poll completes at once. */
	ASSERT_EQ(0, shmring_wake(c->fd, off, 0));
	ASSERT_EQ(0, uring_poll_add(&u, wfd, 18));
	ASSERT_EQ(1, uring_reap(&u, true, &cqe));
	ASSERT_EQ(18, cqe.user_data);
	ASSERT_TRUE(cqe.res & POLLIN);
	ASSERT_EQ(1, shmring_watch_read(wfd));
	uring_close(&u);
	close(wfd);
}

/* Many watchers, many words */

#define MANY_FDS	100

TEST_F(events, many_watch_fds_on_one_word)
{
	struct ctx *c = &self->c;
	uint64_t off = 512;
	int wfd[MANY_FDS], i, ep, n;
	struct epoll_event ev = { .events = EPOLLIN }, out[MANY_FDS];

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	for (i = 0; i < MANY_FDS; i++) {
		wfd[i] = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
		ASSERT_LE(0, wfd[i]);
		ev.data.u32 = i;
		ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, wfd[i], &ev));
	}
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	n = epoll_wait(ep, out, MANY_FDS, 0);
	ASSERT_EQ(MANY_FDS, n);
	for (i = 0; i < MANY_FDS; i++)
		ASSERT_EQ(2, shmring_watch_read(wfd[i])) TH_LOG("watch fd %d", i);
	/* Half of them gone: the rest still count. */
	for (i = 0; i < MANY_FDS; i += 2)
		close(wfd[i]);
	ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
	for (i = 1; i < MANY_FDS; i += 2) {
		ASSERT_EQ(1, shmring_watch_read(wfd[i]));
		close(wfd[i]);
	}
	close(ep);
}

/*
 * All watch fds of the device watch at most SHMRING_WATCH_TOTAL_MAX words
 * together, which bounds what a WAKE walks: WATCH and ADD past it fail
 * with ENOSPC and add nothing; a close or a DEL makes room again.
 */
TEST_F(events, watch_total_limit)
{
	enum { NFD = SHMRING_WATCH_TOTAL_MAX / SHMRING_WATCH_MAX };
	struct ctx *c = &self->c;
	uint64_t offs[SHMRING_WATCH_MAX];
	int wfd[NFD], extra, i;

	for (i = 0; i < SHMRING_WATCH_MAX; i++)
		offs[i] = 4 * i;
	for (i = 0; i < NFD; i++) {
		wfd[i] = shmring_watch_new(c->fd, offs, SHMRING_WATCH_MAX,
					   SHMRING_WATCH_NONBLOCK);
		ASSERT_LE(0, wfd[i]) TH_LOG("watch fd %d: %s", i, strerror(-wfd[i]));
	}
	ASSERT_EQ(-ENOSPC, shmring_watch_new(c->fd, offs, 1, 0));
	extra = shmring_watch_new(c->fd, NULL, 0, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, extra);
	ASSERT_EQ(-ENOSPC, shmring_watch_ctl(extra, SHMRING_IOC_WATCH_ADD, offs, 1));
	ASSERT_EQ(0, fdinfo_nr_offsets(extra));
	/* Every watcher still counts; one WAKE reaches them all. */
	ASSERT_EQ(0, shmring_wake(c->fd, offs[5], 1));
	for (i = 0; i < NFD; i++)
		ASSERT_EQ(1, shmring_watch_read(wfd[i]));
	/* A DEL frees its words for another fd, a close all of its own. */
	ASSERT_EQ(0, shmring_watch_ctl(wfd[0], SHMRING_IOC_WATCH_DEL, offs, 1));
	ASSERT_EQ(0, shmring_watch_ctl(extra, SHMRING_IOC_WATCH_ADD, offs, 1));
	ASSERT_EQ(-ENOSPC, shmring_watch_ctl(extra, SHMRING_IOC_WATCH_ADD, offs + 1, 1));
	close(wfd[1]);
	ASSERT_EQ(0, shmring_watch_ctl(extra, SHMRING_IOC_WATCH_ADD, offs + 1,
				       SHMRING_WATCH_MAX - 1));
	/* One word left. */
	ASSERT_EQ(-ENOSPC, shmring_watch_new(c->fd, offs, 2, 0));
	i = shmring_watch_new(c->fd, offs, 1, 0);
	ASSERT_LE(0, i);
	close(i);
	for (i = 0; i < NFD; i++)
		if (i != 1)
			close(wfd[i]);
	close(extra);
	/* All of it back. */
	for (i = 0; i < 2; i++) {
		wfd[i] = shmring_watch_new(c->fd, offs, SHMRING_WATCH_MAX, 0);
		ASSERT_LE(0, wfd[i]);
	}
	close(wfd[0]);
	close(wfd[1]);
}

/* 64 words on one fd; the 65th is ENOSPC; ADD and DEL are all or nothing. */
TEST_F(events, one_watch_fd_on_many_words)
{
	struct ctx *c = &self->c;
	uint64_t offs[SHMRING_WATCH_MAX + 2];
	int wfd, i;

	/* Spread over pages, so over many buckets. */
	for (i = 0; i < SHMRING_WATCH_MAX + 2; i++)
		offs[i] = (uint64_t)(i % MIN_PAGES) * c->page + 4 * (i / MIN_PAGES) + 1024;
	wfd = shmring_watch_new(c->fd, NULL, 0, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs, 10));
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 10, 53));
	ASSERT_EQ(63, fdinfo_nr_offsets(wfd));
	/* Two more would make 65: neither is added. */
	ASSERT_EQ(-ENOSPC, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 63, 2));
	ASSERT_EQ(63, fdinfo_nr_offsets(wfd));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[63], 1));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 63, 1));
	ASSERT_EQ(SHMRING_WATCH_MAX, fdinfo_nr_offsets(wfd));
	ASSERT_EQ(-ENOSPC, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 64, 1));
	ASSERT_EQ(-ENOSPC, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 64,
					     SHMRING_WATCH_MAX + 1));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[64], 1));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));

	for (i = 0; i < SHMRING_WATCH_MAX; i++)
		ASSERT_EQ(0, shmring_wake(c->fd, offs[i], i % 3));
	ASSERT_EQ(SHMRING_WATCH_MAX, shmring_watch_read(wfd));

	/* DEL of a watched and an unwatched word: ENOENT, neither removed. */
	{
		uint64_t two[2] = { offs[5], offs[64] };

		ASSERT_EQ(-ENOENT, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, two, 2));
		ASSERT_EQ(SHMRING_WATCH_MAX, fdinfo_nr_offsets(wfd));
		ASSERT_EQ(0, shmring_wake(c->fd, offs[5], 1));
		ASSERT_EQ(1, shmring_watch_read(wfd));
		/* A word twice: EINVAL. */
		two[1] = offs[5];
		ASSERT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, two, 2));
		ASSERT_EQ(SHMRING_WATCH_MAX, fdinfo_nr_offsets(wfd));
	}
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, offs, 2));
	ASSERT_EQ(SHMRING_WATCH_MAX - 2, fdinfo_nr_offsets(wfd));
	ASSERT_EQ(-ENOENT, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, offs, 1));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[0], 1));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[1], 1));
	ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));

	/* ADD of a new and an already watched word: EINVAL, neither added. */
	{
		uint64_t two[2] = { offs[0], offs[2] };

		ASSERT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, two, 2));
		ASSERT_EQ(SHMRING_WATCH_MAX - 2, fdinfo_nr_offsets(wfd));
		ASSERT_EQ(0, shmring_wake(c->fd, offs[0], 1));
		ASSERT_EQ(-EAGAIN, shmring_watch_read(wfd));
		/* The same new word twice: EINVAL. */
		two[1] = offs[0];
		ASSERT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, two, 2));
		/* A bad offset among good ones: EINVAL, nothing added. */
		two[1] = c->size;
		ASSERT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, two, 2));
		ASSERT_EQ(SHMRING_WATCH_MAX - 2, fdinfo_nr_offsets(wfd));
	}
	/* Freed slots are reused. */
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, offs + 64, 2));
	ASSERT_EQ(SHMRING_WATCH_MAX, fdinfo_nr_offsets(wfd));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[65], 1));
	ASSERT_EQ(1, shmring_watch_read(wfd));
	/* DEL of nothing is fine; DEL of all of them too. */
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, NULL, 0));
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, offs + 2, 64));
	ASSERT_EQ(0, fdinfo_nr_offsets(wfd));
	close(wfd);
}

TEST_F(events, watch_add_del_bad_arguments)
{
	struct ctx *c = &self->c;
	uint64_t off = 0;
	struct shmring_watch w = { .offsets = (uintptr_t)&off, .nr = 1 };
	int wfd;

	wfd = shmring_watch_new(c->fd, NULL, 0, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	/* No flags at all for ADD and DEL, not even NONBLOCK. */
	w.flags = SHMRING_WATCH_NONBLOCK;
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH_ADD, &w));
	EXPECT_EQ(EINVAL, errno);
	w.flags = 0;
	w.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH_ADD, &w));
	EXPECT_EQ(EINVAL, errno);
	w.reserved[1] = 0;
	w.nr = SHMRING_WATCH_MAX + 1;
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH_ADD, &w));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH_ADD, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-EFAULT, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, NULL, 1));
	off = 2;
	EXPECT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_ADD, &off, 1));
	off = c->size;
	EXPECT_EQ(-EINVAL, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, &off, 1));
	w.flags = 1;
	w.nr = 0;
	EXPECT_EQ(-1, ioctl(wfd, SHMRING_IOC_WATCH_DEL, &w));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, fdinfo_nr_offsets(wfd));
	close(wfd);
}

TEST_F(events, watch_fdinfo)
{
	struct ctx *c = &self->c;
	uint64_t offs[3] = { 0, c->page + 4, c->size - 4 };
	char buf[1024], want[256];
	int wfd;

	wfd = shmring_watch_new(c->fd, offs, 3, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, fdinfo_lines(wfd, "shmring-watch", buf, sizeof(buf)));
	snprintf(want, sizeof(want),
		 "shmring-watch-count:\t0\nshmring-watch-offsets: 0x0 0x%llx 0x%llx\n",
		 (unsigned long long)offs[1], (unsigned long long)offs[2]);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(0, shmring_wake(c->fd, offs[1], 1));
	ASSERT_EQ(0, shmring_wake(c->fd, offs[2], 1));
	ASSERT_EQ(0, shmring_watch_ctl(wfd, SHMRING_IOC_WATCH_DEL, offs, 1));
	ASSERT_EQ(0, fdinfo_lines(wfd, "shmring-watch", buf, sizeof(buf)));
	snprintf(want, sizeof(want),
		 "shmring-watch-count:\t2\nshmring-watch-offsets: 0x%llx 0x%llx\n",
		 (unsigned long long)offs[1], (unsigned long long)offs[2]);
	ASSERT_STREQ(want, buf);
	close(wfd);
}

/* Closing a watch fd under a reader and an epoll waiter */

struct race {
	int wfd, ep, efd;
	int64_t read_ret;
	int epoll_ret;
	pid_t read_tid, epoll_tid;
};

/*
 * A fresh round: a blocking watch fd on @off, an epoll on it and on an
 * eventfd (which ends the epoll_wait when the watch fd is gone), both
 * added with @events. NULL, or the step that failed.
 */
static const char *race_open(struct race *r, int fd, uint64_t off,
			     uint32_t events)
{
	struct epoll_event ev = { .events = events };

	memset(r, 0, sizeof(*r));
	r->wfd = shmring_watch_new(fd, &off, 1, 0);
	if (r->wfd < 0)
		return "WATCH";
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0)
		return "epoll_create1";
	r->efd = eventfd(0, EFD_CLOEXEC);
	if (r->efd < 0)
		return "eventfd";
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->wfd, &ev) ||
	    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->efd, &ev))
		return "epoll_ctl";
	return NULL;
}

static void *race_read(void *arg)
{
	struct race *r = arg;

	__atomic_store_n(&r->read_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	r->read_ret = shmring_watch_read(r->wfd);
	return NULL;
}

static void *race_epoll(void *arg)
{
	struct race *r = arg;
	struct epoll_event out[2];

	__atomic_store_n(&r->epoll_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	r->epoll_ret = epoll_wait(r->ep, out, 2, (int)(LONG_NS / NSEC_PER_MSEC));
	return NULL;
}

/*
 * One thread blocks in read() on the watch fd, one in epoll_wait() on an
 * epoll that holds it, and the main thread closes it. The reader's
 * reference keeps the file alive: a WAKE still ends its read. Once it
 * returns, the last reference goes, the file's release runs, epoll drops
 * it, and WAKEs of the word reach nothing; an eventfd ends epoll_wait.
 * Rounds vary the timing; the kernel log must stay clean.
 */
TEST_F(events, close_races_read_and_epoll)
{
	struct ctx *c = &self->c;
	unsigned long rounds = env_ulong("SHMRING_EVENTS_RACES", DEFAULT_RACES, 100000);
	uint64_t off = 2048;
	pthread_t rt, et;
	unsigned long i;
	uint32_t seed = 1;
	struct race r;
	bool asleep;

	for (i = 0; i < rounds; i++) {
		const char *step = race_open(&r, c->fd, off,
					     EPOLLIN | (i & 1 ? EPOLLET : 0));

		ASSERT_EQ(NULL, step) TH_LOG("%s: %s", step, strerror(errno));
		ASSERT_EQ(0, pthread_create(&rt, NULL, race_read, &r));
		ASSERT_EQ(0, pthread_create(&et, NULL, race_epoll, &r));
		/*
		 * Every few rounds, wait for both to sleep; else race them,
		 * and the reader may come too late and find the fd closed.
		 */
		asleep = !(i % 8);
		if (asleep) {
			ASSERT_TRUE(await_sleeping(&r.read_tid));
			ASSERT_TRUE(await_sleeping(&r.epoll_tid));
		} else {
			usleep(xorshift(&seed) % 500);
		}
		ASSERT_EQ(0, close(r.wfd));
		/* The reader has the file still: WAKE until its read ends. */
		while (!__atomic_load_n(&r.read_ret, __ATOMIC_SEQ_CST)) {
			ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
			usleep(100);
		}
		pthread_join(rt, NULL);
		if (asleep || r.read_ret != -EBADF) {
			ASSERT_LT(0, r.read_ret);
		}
		/* Released by now or soon; more WAKEs must reach nothing freed. */
		ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
		ASSERT_EQ(8, write(r.efd, &(uint64_t){ 1 }, 8));
		pthread_join(et, NULL);
		ASSERT_LE(1, r.epoll_ret);
		ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
		close(r.ep);
		close(r.efd);
	}
}

/* Only epoll holds a watch fd's waitqueue when the fd is closed. */
TEST_F(events, close_under_epoll_wait)
{
	struct ctx *c = &self->c;
	unsigned long rounds = env_ulong("SHMRING_EVENTS_RACES", DEFAULT_RACES, 100000);
	uint64_t off = 2052;
	unsigned long i;
	uint32_t seed = 7;
	struct race r;
	pthread_t et;

	for (i = 0; i < rounds; i++) {
		const char *step = race_open(&r, c->fd, off, EPOLLIN);

		ASSERT_EQ(NULL, step) TH_LOG("%s: %s", step, strerror(errno));
		ASSERT_EQ(0, pthread_create(&et, NULL, race_epoll, &r));
		if (!(i % 8)) {
			ASSERT_TRUE(await_sleeping(&r.epoll_tid));
		} else {
			usleep(xorshift(&seed) % 300);
		}
		/* A WAKE racing the close: either reported or not, never freed. */
		if (i & 1) {
			ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
		}
		ASSERT_EQ(0, close(r.wfd));
		ASSERT_EQ(0, shmring_wake(c->fd, off, 1));
		ASSERT_EQ(8, write(r.efd, &(uint64_t){ 1 }, 8));
		pthread_join(et, NULL);
		ASSERT_LE(1, r.epoll_ret);
		close(r.ep);
		close(r.efd);
	}
}

/* Release actions: arguments */

TEST_F(events, release_needs_write_access)
{
	int fd;

	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EBADF, shmring_release_add(fd, 0, SHMRING_RELEASE_STORE, 1));
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_ADD, NULL));
	ASSERT_EQ(EBADF, errno);
	ASSERT_EQ(-EBADF, shmring_release_del(fd, 1));
	close(fd);
	fd = shmring_open(O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, 0, SHMRING_RELEASE_OR, 0));
	close(fd);
}

TEST_F(events, release_add_bad_arguments)
{
	struct ctx *c = &self->c;
	const uint64_t bad[] = {
		1, 2, 3, c->size, c->size - 2, c->size + 4, UINT64_MAX - 3,
		UINT64_MAX, 1ULL << 63,
	};
	struct shmring_release r;
	char buf[8192];
	void *ro;
	int fd, i;

	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < (int)ARRAY_SIZE(bad); i++)
		ASSERT_EQ(-EINVAL, shmring_release_add(fd, bad[i], SHMRING_RELEASE_STORE, 1));
	ASSERT_EQ(-EINVAL, shmring_release_add(fd, 0, 3, 1));
	ASSERT_EQ(-EINVAL, shmring_release_add(fd, 0, UINT32_MAX, 1));
	r = (struct shmring_release){ .flags = 1 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_ADD, &r));
	ASSERT_EQ(EINVAL, errno);
	r = (struct shmring_release){ .reserved = 1ULL << 40 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_ADD, &r));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_ADD, NULL));
	ASSERT_EQ(EFAULT, errno);
	/* Readable but not writable: the id cannot be returned, so EFAULT. */
	ro = mmap(NULL, c->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_ADD, ro));
	ASSERT_EQ(EFAULT, errno);
	munmap(ro, c->page);
	/* None of these added anything. */
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-release", buf, sizeof(buf)));
	ASSERT_STREQ("", buf);

	/* The input id is ignored; the last word is a word. */
	r = (struct shmring_release){ .offset = c->size - 4, .id = 77 };
	ASSERT_EQ(0, ioctl(fd, SHMRING_IOC_RELEASE_ADD, &r));
	ASSERT_NE(0, r.id);
	for (i = 1; i < SHMRING_RELEASE_MAX; i++)
		ASSERT_LT(0, shmring_release_add(fd, 4 * i, SHMRING_RELEASE_ADD, 1));
	ASSERT_EQ(-ENOSPC, shmring_release_add(fd, 0, SHMRING_RELEASE_ADD, 1));
	ASSERT_EQ(0, shmring_release_del(fd, r.id));
	ASSERT_LT(0, shmring_release_add(fd, 0, SHMRING_RELEASE_ADD, 1));
	ASSERT_EQ(-ENOSPC, shmring_release_add(fd, 0, SHMRING_RELEASE_ADD, 1));
	/* Other open files have their own room. */
	{
		int fd2 = shmring_open(O_RDWR);

		ASSERT_LE(0, fd2);
		ASSERT_LT(0, shmring_release_add(fd2, 0, SHMRING_RELEASE_ADD, 0));
		close(fd2);
	}
	close(fd);
}

TEST_F(events, release_ids_and_del)
{
	struct shmring_release r;
	int64_t ids[SHMRING_RELEASE_MAX];
	char buf[8192];
	int fd, i, j;

	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < SHMRING_RELEASE_MAX; i++) {
		ids[i] = shmring_release_add(fd, 4 * i, SHMRING_RELEASE_OR, 1U << (i % 32));
		ASSERT_LT(0, ids[i]);
		ASSERT_GE(UINT32_MAX, ids[i]);
		for (j = 0; j < i; j++)
			ASSERT_NE(ids[j], ids[i]);
	}
	/* Id 0 is never given out: EINVAL, as for any other field set. */
	ASSERT_EQ(-EINVAL, shmring_release_del(fd, 0));
	for (i = 0; i < 1000; i++) {
		uint32_t id = i * 2654435761U;

		for (j = 0; j < SHMRING_RELEASE_MAX && ids[j] != id; j++)
			;
		if (id && j == SHMRING_RELEASE_MAX) {
			ASSERT_EQ(-ENOENT, shmring_release_del(fd, id));
		}
	}
	/* Anything but the id set: EINVAL, and nothing removed. */
	r = (struct shmring_release){ .id = ids[0], .offset = 4 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r));
	ASSERT_EQ(EINVAL, errno);
	r = (struct shmring_release){ .id = ids[0], .op = 1 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r));
	ASSERT_EQ(EINVAL, errno);
	r = (struct shmring_release){ .id = ids[0], .value = 1 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r));
	ASSERT_EQ(EINVAL, errno);
	r = (struct shmring_release){ .id = ids[0], .flags = 1 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r));
	ASSERT_EQ(EINVAL, errno);
	r = (struct shmring_release){ .id = ids[0], .reserved = 1 };
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(fd, SHMRING_IOC_RELEASE_DEL, NULL));
	ASSERT_EQ(EFAULT, errno);

	ASSERT_EQ(0, shmring_release_del(fd, ids[0]));
	ASSERT_EQ(-ENOENT, shmring_release_del(fd, ids[0]));
	ASSERT_EQ(0, shmring_release_del(fd, ids[SHMRING_RELEASE_MAX - 1]));
	/* Ids of another open file are unknown here. */
	{
		int fd2 = shmring_open(O_RDWR);

		ASSERT_LE(0, fd2);
		ASSERT_EQ(-ENOENT, shmring_release_del(fd2, ids[1]));
		close(fd2);
	}
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-release", buf, sizeof(buf)));
	for (i = 0, j = 0; buf[i]; i++)
		j += buf[i] == '\n';
	ASSERT_EQ(SHMRING_RELEASE_MAX - 2, j);
	/* Removed actions do not run: word 0 and the last word stay 0. */
	for (i = 1; i < SHMRING_RELEASE_MAX - 1; i++)
		ASSERT_EQ(0, shmring_release_del(fd, ids[i]));
	close(fd);
	for (i = 0; i < SHMRING_RELEASE_MAX; i++)
		ASSERT_EQ(0, get_word(&self->c, 4 * i)) TH_LOG("word %d", i);
}

TEST_F(events, release_fdinfo)
{
	struct ctx *c = &self->c;
	char buf[1024], want[1024];
	int64_t a, b, d;
	int fd;

	fd = shmring_open(O_WRONLY);
	ASSERT_LE(0, fd);
	a = shmring_release_add(fd, 8, SHMRING_RELEASE_STORE, 0xdeadbeef);
	b = shmring_release_add(fd, c->size - 4, SHMRING_RELEASE_OR, 0x80);
	d = shmring_release_add(fd, c->page, SHMRING_RELEASE_ADD, UINT32_MAX);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_LT(0, d);
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-release", buf, sizeof(buf)));
	snprintf(want, sizeof(want),
		 "shmring-release:\tid=%lld offset=0x8 op=store value=0xdeadbeef\n"
		 "shmring-release:\tid=%lld offset=0x%llx op=or value=0x80\n"
		 "shmring-release:\tid=%lld offset=0x%llx op=add value=0xffffffff\n",
		 (long long)a, (long long)b, (unsigned long long)c->size - 4,
		 (long long)d, (unsigned long long)c->page);
	ASSERT_STREQ(want, buf);
	ASSERT_EQ(0, shmring_release_del(fd, b));
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-release", buf, sizeof(buf)));
	snprintf(want, sizeof(want),
		 "shmring-release:\tid=%lld offset=0x8 op=store value=0xdeadbeef\n"
		 "shmring-release:\tid=%lld offset=0x%llx op=add value=0xffffffff\n",
		 (long long)a, (long long)d, (unsigned long long)c->page);
	ASSERT_STREQ(want, buf);
	close(fd);
	ASSERT_EQ(0xdeadbeef, get_word(c, 8));
	ASSERT_EQ(UINT32_MAX, get_word(c, c->page));
	ASSERT_EQ(0, get_word(c, c->size - 4));
}

/* Release actions: what they do, and when */

TEST_F(events, release_ops_in_order)
{
	struct ctx *c = &self->c;
	int fd;

	set_word(c, 0, 0xf0);
	set_word(c, 4, 0xfffffffe);
	set_word(c, 8, 7);
	set_word(c, 12, 7);
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, 0, SHMRING_RELEASE_OR, 0x0f));
	/* Modulo 2^32. */
	ASSERT_LT(0, shmring_release_add(fd, 4, SHMRING_RELEASE_ADD, 5));
	/* In order: store then add on one word, add then store on another. */
	ASSERT_LT(0, shmring_release_add(fd, 8, SHMRING_RELEASE_STORE, 100));
	ASSERT_LT(0, shmring_release_add(fd, 8, SHMRING_RELEASE_ADD, 1));
	ASSERT_LT(0, shmring_release_add(fd, 12, SHMRING_RELEASE_ADD, 1));
	ASSERT_LT(0, shmring_release_add(fd, 12, SHMRING_RELEASE_STORE, 100));
	ASSERT_LT(0, shmring_release_add(fd, 12, SHMRING_RELEASE_OR, 0x10000));
	/* Nothing happens before the release. */
	ASSERT_EQ(0xf0, get_word(c, 0));
	ASSERT_EQ(7, get_word(c, 8));
	close(fd);
	ASSERT_EQ(0xff, get_word(c, 0));
	ASSERT_EQ(3, get_word(c, 4));
	ASSERT_EQ(101, get_word(c, 8));
	ASSERT_EQ(0x10064, get_word(c, 12));
}

/* Atomic against a peer's atomics on the same word meanwhile. */
struct adder {
	struct ctx *c;
	uint64_t off;
	int stop;
	unsigned long n;
};

static void *adder_fn(void *arg)
{
	struct adder *a = arg;

	while (!__atomic_load_n(&a->stop, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(word(a->c, a->off), 1, __ATOMIC_SEQ_CST);
		a->n++;
	}
	return NULL;
}

TEST_F(events, release_ops_are_atomic)
{
	struct ctx *c = &self->c;
	struct adder a = { .c = c, .off = 16 };
	pthread_t t;
	int i, fd;

	ASSERT_EQ(0, pthread_create(&t, NULL, adder_fn, &a));
	for (i = 0; i < 200; i++) {
		fd = shmring_open(O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_LT(0, shmring_release_add(fd, 16, SHMRING_RELEASE_ADD, 1U << 16));
		ASSERT_LT(0, shmring_release_add(fd, 16, SHMRING_RELEASE_OR, 1U << 31));
		close(fd);
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	/* Bit 31 set each time, adds of 1 and of 2^16 all kept. */
	ASSERT_EQ((uint32_t)(a.n + 200UL * (1U << 16)) | (1U << 31),
		  get_word(c, 16) | (1U << 31));
	ASSERT_NE(0, get_word(c, 16) & (1U << 31));
}

TEST_F(events, release_wakes_waiters_and_watchers)
{
	struct ctx *c = &self->c;
	struct sleeper s[3];
	uint64_t off = c->page * 2 + 12;
	int fd, wfd, i;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, off, SHMRING_RELEASE_STORE, 5));
	ASSERT_LT(0, shmring_release_add(fd, off, SHMRING_RELEASE_ADD, 1));
	for (i = 0; i < 3; i++) {
		s[i] = (struct sleeper){ .fd = c->fd, .off = off, .val = 0 };
		ASSERT_EQ(0, pthread_create(&s[i].thr, NULL, wait_fn, &s[i]));
	}
	ASSERT_EQ(3, await_nr_waiters(c->fd, 3));
	close(fd);
	for (i = 0; i < 3; i++) {
		pthread_join(s[i].thr, NULL);
		ASSERT_EQ(0, s[i].ret);
	}
	ASSERT_EQ(6, get_word(c, off));
	/* One notification per action. */
	ASSERT_EQ(2, shmring_watch_read(wfd));
	close(wfd);
}

/* dup() shares the open file, and so do mappings made through it. */
TEST_F(events, release_after_last_fd_and_mapping)
{
	struct ctx *c = &self->c;
	uint8_t *p;
	int fd, fd2;

	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, 20, SHMRING_RELEASE_STORE, 1));
	fd2 = dup(fd);
	ASSERT_LE(0, fd2);
	close(fd);
	usleep(SETTLE_US);
	ASSERT_EQ(0, get_word(c, 20));
	/* The action belongs to the open file: the dup can remove it. */
	close(fd2);
	ASSERT_EQ(1, get_word(c, 20));

	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, 24, SHMRING_RELEASE_STORE, 1));
	p = mmap(NULL, c->page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	usleep(SETTLE_US);
	ASSERT_EQ(0, get_word(c, 24));
	ASSERT_EQ(0, *(volatile uint32_t *)(p + 24));
	munmap(p, c->page);
	ASSERT_EQ(1, get_word(c, 24));

	/* A watch fd made from the open file holds it too. */
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, shmring_release_add(fd, 28, SHMRING_RELEASE_STORE, 1));
	fd2 = shmring_watch_new(fd, NULL, 0, 0);
	ASSERT_LE(0, fd2);
	close(fd);
	usleep(SETTLE_US);
	ASSERT_EQ(0, get_word(c, 28));
	close(fd2);
	ASSERT_EQ(1, get_word(c, 28));
}

/* Polls a word until it holds @want; returns the last value seen. */
static uint32_t await_word(struct ctx *c, uint64_t off, uint32_t want)
{
	int64_t start = now_ns();
	uint32_t v;

	while ((v = get_word(c, off)) != want && poll_again(start))
		;
	return v;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* After fork, the actions run only once parent and child both closed. */
TEST_F(events, release_after_fork_both_close)
{
	struct ctx *c = &self->c;
	int fd, go[2], order;
	pid_t pid;

	for (order = 0; order < 2; order++) {
		uint64_t off = 32 + 4 * order;

		fd = shmring_open(O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_LT(0, shmring_release_add(fd, off, SHMRING_RELEASE_ADD, 1));
		ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
		pid = spawn();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			char b;

			close(go[1]);
			/* Holds the fd until the parent says. */
			if (read(go[0], &b, 1) != 1)
				_exit(1);
			close(fd);
			_exit(0);
		}
		close(go[0]);
		if (order == 0) {
			/* Parent first: the child still holds it. */
			close(fd);
			usleep(SETTLE_US);
			ASSERT_EQ(0, get_word(c, off));
			ASSERT_EQ(1, write(go[1], "x", 1));
			ASSERT_EQ(0, reap(pid));
			ASSERT_EQ(1, await_word(c, off, 1));
		} else {
			/* Child first: the parent still holds it. */
			ASSERT_EQ(1, write(go[1], "x", 1));
			ASSERT_EQ(0, reap(pid));
			usleep(SETTLE_US);
			ASSERT_EQ(0, get_word(c, off));
			close(fd);
			ASSERT_EQ(1, get_word(c, off));
		}
		close(go[1]);
	}
}

/* exec() closes an O_CLOEXEC fd, and that runs the actions. */
TEST_F(events, release_on_exec_cloexec)
{
	struct ctx *c = &self->c;
	int cloexec;

	for (cloexec = 1; cloexec >= 0; cloexec--) {
		uint64_t off = 40 + 4 * cloexec;
		int ready[2];
		pid_t pid;
		char b;

		ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
		pid = spawn();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd = open(SHMRING_DEV, O_RDWR | (cloexec ? O_CLOEXEC : 0));

			close(ready[0]);
			if (fd < 0 ||
			    shmring_release_add(fd, off, SHMRING_RELEASE_STORE, 9) <= 0)
				_exit(1);
			/* The pipe closes at exec, which tells the parent. */
			execl("/bin/busybox", "sleep", "30", (char *)NULL);
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
			_exit(2);
		}
		close(ready[1]);
		ASSERT_EQ(0, read(ready[0], &b, 1));
		close(ready[0]);
		if (cloexec) {
			/* Still alive, sleeping in the new program. */
			ASSERT_EQ(9, await_word(c, off, 9));
		} else {
			usleep(SETTLE_US);
			ASSERT_EQ(0, get_word(c, off));
		}
		ASSERT_EQ(0, waitpid(pid, NULL, WNOHANG));
		kill(pid, SIGKILL);
		ASSERT_EQ(1000 + SIGKILL, reap(pid));
		/* Without O_CLOEXEC, the exit closed it. */
		ASSERT_EQ(9, await_word(c, off, 9));
	}
}

/*
 * A survivor blocked in WAIT on a word learns that the process holding
 * actions on it was killed: it is woken and sees the value.
 */
static void check_death_wakes(struct __test_metadata *_metadata, struct ctx *c,
			      uint64_t off, bool newpid)
{
	struct sleeper s = { .fd = c->fd, .off = off, .val = 0 };
	int ready[2], pids[2], wfd;
	pid_t pid, victim;
	char b;

	wfd = shmring_watch_new(c->fd, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	ASSERT_EQ(0, pthread_create(&s.thr, NULL, wait_fn, &s));
	ASSERT_EQ(1, await_nr_waiters(c->fd, 1));
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(pids, O_CLOEXEC));
	pid = spawn();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		close(ready[0]);
		close(pids[0]);
		if (newpid) {
			pid_t inner;

			/* The next child is pid 1 of a new namespace. */
			if (unshare(CLONE_NEWPID))
				_exit(3);
			inner = fork();
			if (inner < 0)
				_exit(4);
			if (inner > 0) {
				/* Its pid out here, for the kill. */
				if (write(pids[1], &inner, sizeof(inner)) != sizeof(inner))
					_exit(7);
				_exit(reap(inner) == 1000 + SIGKILL ? 0 : 5);
			}
			if (getpid() != 1)
				_exit(6);
		}
		fd = shmring_open(O_RDWR);
		if (fd < 0 ||
		    shmring_release_add(fd, off, SHMRING_RELEASE_STORE, 0xdead) <= 0 ||
		    shmring_release_add(fd, off + 4, SHMRING_RELEASE_ADD, 1) <= 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(pids[1]);
	ASSERT_EQ(1, read(ready[0], &b, 1));
	close(ready[0]);
	victim = pid;
	if (newpid) {
		ASSERT_EQ(sizeof(victim), read(pids[0], &victim, sizeof(victim)));
	}
	close(pids[0]);
	usleep(SETTLE_US);
	ASSERT_EQ(0, __atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
	ASSERT_EQ(0, get_word(c, off));
	/* In a namespace, its init, killed from outside: all of it dies. */
	ASSERT_EQ(0, kill(victim, SIGKILL));
	ASSERT_EQ(newpid ? 0 : 1000 + SIGKILL, reap(pid));
	pthread_join(s.thr, NULL);
	ASSERT_EQ(0, s.ret);
	ASSERT_EQ(0xdead, get_word(c, off));
	ASSERT_EQ(1, await_word(c, off + 4, 1));
	ASSERT_EQ(1, shmring_watch_read(wfd));
	close(wfd);
}

TEST_F(events, release_on_sigkill_wakes_survivor)
{
	check_death_wakes(_metadata, &self->c, 3 * self->c.page, false);
}

TEST_F(events, release_across_pid_namespace)
{
	if (geteuid())
		SKIP(return, "a new pid namespace needs root");
	check_death_wakes(_metadata, &self->c, 4 * self->c.page, true);
}

TEST_HARNESS_MAIN
