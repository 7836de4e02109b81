// SPDX-License-Identifier: GPL-2.0
/*
 * The eight transports of the round trip: shmring WAIT/WAKE (raw ioctls on a
 * word of the device mapping, and the same on an instance, RT_INSTANCE,
 * which roundtrip.c creates), a shared futex on a memfd (the floor the
 * module is held to), eventfd, pipe and a unix socketpair; and the two that
 * sleep in epoll_wait(2), on a shmring watch fd (SHMRING_IOC_WATCH) and on
 * an eventfd, the bound the watch fd is held to.
 *
 * The word transports use the same protocol and the same words: store the
 * new sequence, then WAKE one; the receiver WAITs while the word still
 * holds the previous one. Neither spins: each await goes straight to the
 * kernel. Timeouts are infinite (the watchdog in roundtrip.c catches
 * hangs), so neither side arms an hrtimer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/shmring.h>

#include "bench.h"
#include "transport.h"

/* The words: one per direction, on separate cache lines, away from 0. */
#define WORD_OFF	0x10000UL
#define WORD_GAP	128UL
#define MEMFD_SIZE	(4UL << 20)

static void words_at(struct link *l)
{
	int d;

	for (d = 0; d < 2; d++) {
		l->off[d] = WORD_OFF + d * WORD_GAP;
		l->word[d] = (_Atomic uint32_t *)(l->map + l->off[d]);
		atomic_store(l->word[d], 0);
	}
}

static void close_fds(struct link *l)
{
	int i;

	for (i = 0; i < 4; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
}

/* Loops over what the word transports share; @wait is the only difference. */
static int word_await(struct link *l, int dir, uint32_t seq,
		      int (*wait)(struct link *, int, uint32_t))
{
	uint32_t v;
	int r;

	for (;;) {
		v = atomic_load_explicit(l->word[dir], memory_order_acquire);
		if (v == seq)
			return 0;
		if (v != seq - 1) {
			errorf("word %d holds %u, expected %u or %u", dir, v,
			       seq - 1, seq);
			return -1;
		}
		r = wait(l, dir, seq - 1);
		if (r && r != -EAGAIN && r != -EINTR) {
			errorf("WAIT on word %d: %s", dir, strerror(-r));
			return -1;
		}
	}
}

static int word_post(struct link *l, int dir, uint32_t seq,
		     int (*wake)(struct link *, int))
{
	int n;

	atomic_store_explicit(l->word[dir], seq, memory_order_release);
	n = wake(l, dir);
	if (n < 0 || n > 1) {
		errorf("WAKE on word %d returned %d", dir, n);
		return -1;
	}
	return n;
}

/* ---- shmring ---- */

static int map_link(struct link *l, const char *path)
{
	struct shmring_map m;

	if (shmring_map_open_path(&m, path))
		return -1;
	l->devfd = m.fd;
	l->map = m.base;
	l->map_size = m.size;
	words_at(l);
	return 0;
}

static int shm_open_link(struct link *l)
{
	return map_link(l, "/dev/shmring");
}

static int inst_open_link(struct link *l)
{
	return map_link(l, SHMRING_INST_DIR RT_INSTANCE);
}

static void shm_close_link(struct link *l)
{
	struct shmring_map m = { .fd = l->devfd, .base = l->map,
				 .size = l->map_size };

	shmring_map_close(&m);
}

static int shm_wait(struct link *l, int dir, uint32_t expected)
{
	return dev_wait(l->devfd, l->off[dir], expected, -1);
}

static int shm_wake(struct link *l, int dir)
{
	return dev_wake(l->devfd, l->off[dir], 1);
}

static int shm_post(struct link *l, int dir, uint32_t seq)
{
	return word_post(l, dir, seq, shm_wake);
}

static int shm_await(struct link *l, int dir, uint32_t seq)
{
	return word_await(l, dir, seq, shm_wait);
}

const struct transport tp_shmring = {
	.name = "shmring", .open = shm_open_link, .close = shm_close_link,
	.post = shm_post, .await = shm_await, .knows_wakes = 1,
};

/* The same on an instance: its own pages, buckets and hash key. */
const struct transport tp_instance = {
	.name = "instance", .open = inst_open_link, .close = shm_close_link,
	.post = shm_post, .await = shm_await, .knows_wakes = 1,
};

/* ---- shared futex on a memfd ---- */

static int futex_open_link(struct link *l)
{
	l->devfd = memfd_create("bench-futex", MFD_CLOEXEC);
	if (l->devfd < 0 || ftruncate(l->devfd, MEMFD_SIZE)) {
		errorf("memfd: %s", strerror(errno));
		return -1;
	}
	l->map_size = MEMFD_SIZE;
	l->map = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      l->devfd, 0);
	if (l->map == MAP_FAILED) {
		errorf("mmap memfd: %s", strerror(errno));
		close(l->devfd);
		return -1;
	}
	words_at(l);
	return 0;
}

static void futex_close_link(struct link *l)
{
	munmap(l->map, l->map_size);
	close(l->devfd);
}

/* Not FUTEX_PRIVATE: the peer is another process, as with the device. */
static int futex_wait(struct link *l, int dir, uint32_t expected)
{
	if (syscall(SYS_futex, l->word[dir], FUTEX_WAIT, expected, NULL,
		    NULL, 0))
		return -errno;
	return 0;
}

static int futex_wake(struct link *l, int dir)
{
	long n = syscall(SYS_futex, l->word[dir], FUTEX_WAKE, 1, NULL, NULL,
			 0);

	return n < 0 ? -errno : (int)n;
}

static int futex_post(struct link *l, int dir, uint32_t seq)
{
	return word_post(l, dir, seq, futex_wake);
}

static int futex_await(struct link *l, int dir, uint32_t seq)
{
	return word_await(l, dir, seq, futex_wait);
}

const struct transport tp_futex = {
	.name = "futex", .open = futex_open_link, .close = futex_close_link,
	.post = futex_post, .await = futex_await, .knows_wakes = 1,
};

/* ---- descriptors: fd[dir * 2] is read, fd[dir * 2 + 1] written ---- */

static int fd_read(struct link *l, int dir, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(l->fd[dir * 2], (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errorf("read on direction %d: %s", dir,
			       n ? strerror(errno) : "end of file");
			return -1;
		}
		done += n;
	}
	return 0;
}

static int fd_write(struct link *l, int dir, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(l->fd[dir * 2 + 1], buf, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		errorf("write on direction %d: %s", dir,
		       n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

/* pipe and socketpair carry the sequence number itself. */
static int seq_post(struct link *l, int dir, uint32_t seq)
{
	return fd_write(l, dir, &seq, sizeof(seq));
}

static int seq_await(struct link *l, int dir, uint32_t seq)
{
	uint32_t v;

	if (fd_read(l, dir, &v, sizeof(v)))
		return -1;
	if (v != seq) {
		errorf("direction %d got %u, expected %u", dir, v, seq);
		return -1;
	}
	return 0;
}

static int eventfd_open_link(struct link *l)
{
	int d, fd;

	for (d = 0; d < 2; d++) {
		fd = eventfd(0, EFD_CLOEXEC);
		if (fd < 0) {
			errorf("eventfd: %s", strerror(errno));
			return -1;
		}
		l->fd[d * 2] = fd;
		l->fd[d * 2 + 1] = dup(fd);
	}
	return 0;
}

/* An eventfd counter is 8 bytes; it carries a count of one, checked. */
static int eventfd_post(struct link *l, int dir, uint32_t seq)
{
	uint64_t one = 1;

	(void)seq;
	return fd_write(l, dir, &one, sizeof(one));
}

static int eventfd_await(struct link *l, int dir, uint32_t seq)
{
	uint64_t v;

	if (fd_read(l, dir, &v, sizeof(v)))
		return -1;
	if (v != 1) {
		errorf("eventfd %d read %llu before %u", dir,
		       (unsigned long long)v, seq);
		return -1;
	}
	return 0;
}

const struct transport tp_eventfd = {
	.name = "eventfd", .open = eventfd_open_link, .close = close_fds,
	.post = eventfd_post, .await = eventfd_await,
};

static int pipe_open_link(struct link *l)
{
	int d;

	for (d = 0; d < 2; d++) {
		if (pipe2(&l->fd[d * 2], O_CLOEXEC)) {
			errorf("pipe: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

const struct transport tp_pipe = {
	.name = "pipe", .open = pipe_open_link, .close = close_fds,
	.post = seq_post, .await = seq_await,
};

/*
 * One socketpair, both directions: A writes sv[0] and reads sv[0] (what B
 * wrote to sv[1]), so fd[] holds sv[1], sv[0], sv[0], sv[1].
 */
static int socketpair_open_link(struct link *l)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		errorf("socketpair: %s", strerror(errno));
		return -1;
	}
	l->fd[0] = sv[1];	/* A->B: B reads sv[1] */
	l->fd[1] = sv[0];	/* A writes sv[0] */
	l->fd[2] = dup(sv[0]);	/* B->A: A reads sv[0] */
	l->fd[3] = dup(sv[1]);	/* B writes sv[1] */
	return 0;
}

const struct transport tp_socketpair = {
	.name = "socketpair", .open = socketpair_open_link,
	.close = close_fds, .post = seq_post, .await = seq_await,
};

/*
 * ---- epoll: each side sleeps in epoll_wait on a descriptor of its own ----
 *
 * fd[dir * 2] is what the receiver of @dir reads: a watch fd on the word of
 * @dir, or an eventfd; fd[dir * 2 + 1] is an epoll instance that holds it
 * alone and that only that receiver waits on (both sides inherit both, so
 * neither may share one). Both are blocking, and every wait is infinite:
 * no hrtimer. A hand-off is three system calls either way: WAKE or write(2)
 * to signal, epoll_wait(2) and read(2) of the count to take it; the count
 * must be 1. The watch transport also carries the sequence in its word, a
 * store without a system call, and checks it.
 */

static int epoll_of(struct link *l, int dir)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		errorf("epoll_create1: %s", strerror(errno));
		return -1;
	}
	l->fd[dir * 2 + 1] = ep;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, l->fd[dir * 2], &ev)) {
		errorf("epoll_ctl on direction %d: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Sleeps in epoll_wait until fd[dir * 2] is readable, then reads 1. */
static int epoll_take(struct link *l, int dir, uint32_t seq)
{
	struct epoll_event ev;
	uint64_t v;
	int n;

	do
		n = epoll_wait(l->fd[dir * 2 + 1], &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		errorf("epoll_wait on direction %d: %s", dir,
		       n < 0 ? strerror(errno) : "no event");
		return -1;
	}
	if (fd_read(l, dir, &v, sizeof(v)))
		return -1;
	if (v != 1) {
		errorf("direction %d counted %llu before %u", dir,
		       (unsigned long long)v, seq);
		return -1;
	}
	return 0;
}

/* ---- watch fd: WAKE on the word, epoll_wait on a watch fd of it ---- */

static void watch_close_link(struct link *l)
{
	close_fds(l);		/* the watch fds hold the device file */
	shm_close_link(l);
}

static int watch_open_link(struct link *l)
{
	struct shmring_watch w = { .nr = 1 };
	int d, fd;

	if (shm_open_link(l))
		return -1;
	for (d = 0; d < 2; d++) {
		w.offsets = (uintptr_t)&l->off[d];
		fd = ioctl(l->devfd, SHMRING_IOC_WATCH, &w);
		if (fd < 0) {
			errorf("SHMRING_IOC_WATCH on word %d: %s", d,
			       strerror(errno));
			watch_close_link(l);
			return -1;
		}
		l->fd[d * 2] = fd;
		if (epoll_of(l, d)) {
			watch_close_link(l);
			return -1;
		}
	}
	return 0;
}

/* Nobody sleeps in WAIT on the word: the WAKE must find no waiter. */
static int watch_post(struct link *l, int dir, uint32_t seq)
{
	int n;

	atomic_store_explicit(l->word[dir], seq, memory_order_release);
	n = dev_wake(l->devfd, l->off[dir], 1);
	if (n) {
		errorf("WAKE on word %d returned %d", dir, n);
		return -1;
	}
	return 0;
}

static int watch_await(struct link *l, int dir, uint32_t seq)
{
	uint32_t v;

	if (epoll_take(l, dir, seq))
		return -1;
	v = atomic_load_explicit(l->word[dir], memory_order_acquire);
	if (v != seq) {
		errorf("word %d holds %u after its WAKE, expected %u", dir, v,
		       seq);
		return -1;
	}
	return 0;
}

const struct transport tp_watch_epoll = {
	.name = "watch_epoll", .open = watch_open_link,
	.close = watch_close_link, .post = watch_post,
	.await = watch_await,
};

/* ---- eventfd: write(2) on it, epoll_wait on it ---- */

static int efd_epoll_open_link(struct link *l)
{
	int d;

	for (d = 0; d < 2; d++) {
		l->fd[d * 2] = eventfd(0, EFD_CLOEXEC);
		if (l->fd[d * 2] < 0) {
			errorf("eventfd: %s", strerror(errno));
			close_fds(l);
			return -1;
		}
		if (epoll_of(l, d)) {
			close_fds(l);
			return -1;
		}
	}
	return 0;
}

/* The eventfd itself is written: fd[dir * 2 + 1] is the epoll instance. */
static int efd_epoll_post(struct link *l, int dir, uint32_t seq)
{
	uint64_t one = 1;
	ssize_t n;

	(void)seq;
	do
		n = write(l->fd[dir * 2], &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(one)) {
		errorf("write on eventfd %d: %s", dir,
		       n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

static int efd_epoll_await(struct link *l, int dir, uint32_t seq)
{
	return epoll_take(l, dir, seq);
}

const struct transport tp_eventfd_epoll = {
	.name = "eventfd_epoll", .open = efd_epoll_open_link,
	.close = close_fds, .post = efd_epoll_post,
	.await = efd_epoll_await,
};
