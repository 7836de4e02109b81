// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Who is alive: a process is named by its pid and its start time (field 22
 * of /proc/<pid>/stat), so that a pid reused by a new process does not pass
 * for the old one. On top of it, a robust lock in shared memory whose word
 * holds the owner, so that a holder that dies can be overtaken.
 *
 * A process that calls exec keeps its pid and start time, but loses every
 * close-on-exec file and its mapping of the buffer: it has left without
 * saying so. A participant therefore also holds a liveness lock, an open
 * file description lock (F_OFD_SETLK) on one byte of the buffer's file,
 * taken through a description of its own, opened close-on-exec. The kernel
 * drops that lock when the description closes: on close, exit, a kill, and
 * exec. Survivors test the byte (F_OFD_GETLK, which sees the locks of every
 * other description, in this process too) when the pid says the
 * participant lives. A child of fork() shares the description, so the lock
 * stays while either process keeps it; the pid still tells of the parent's
 * death.
 *
 * A survivor that checks a peer again and again (every liveness slice of a
 * blocked call, on a buffer whose peers the kernel does not watch) holds a
 * pidfd on it instead: opened once, checked once against the recorded start
 * time, then asked with one poll(), which says POLLIN once the process has
 * exited (a zombie too). No pid reuse can fool it, and it needs no /proc
 * after the first check. Where pidfd_open() is missing or refused, the /proc
 * check stands in.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* How long a live holder may keep a lock before callers give up. */
#define SR_LOCK_PATIENCE_NS	5000000000LL
/* How often a waiter for a lock checks that the holder lives. */
#define SR_LOCK_CHECK_NS	1000000LL

/*
 * Reads the state letter and start time of @pid. Returns 0, -ENOENT when the
 * process does not exist, or another negative errno when /proc can't tell.
 */
static int proc_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[32], buf[512];
	const char *p;
	ssize_t n;
	int fd, i;

#ifdef SR_TEST_HOOKS
	if (atomic_load_explicit(&sr_test_no_proc, memory_order_relaxed))
		return -ENOSYS;
#endif
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n ? -errno : -ENOENT;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	*state = p[2];
	/* Fields from 3 (state) on are space-separated; starttime is 22. */
	for (i = 3; i <= 22; i++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

pid_t sr_self(uint64_t *start)
{
	/* Cached per process; a forked child sees another pid and refreshes. */
	static _Atomic int cached_pid;
	static _Atomic uint64_t cached_start;
	pid_t pid = getpid();
	char state;

	if (atomic_load_explicit(&cached_pid, memory_order_acquire) == pid) {
		*start = atomic_load_explicit(&cached_start,
					      memory_order_relaxed);
		return pid;
	}
	if (proc_stat(pid, &state, start))
		*start = 0;	/* no /proc: pid alone */
	atomic_store_explicit(&cached_start, *start, memory_order_relaxed);
	atomic_store_explicit(&cached_pid, pid, memory_order_release);
	return pid;
}

/*
 * @start 0 means unknown, so only existence is checked. A zombie counts as
 * dead: a parent that has not reaped its killed child must still see it go.
 */
static bool alive(uint32_t pid, uint64_t start, uint64_t start_mask)
{
	uint64_t now_start;
	char state;
	int ret;

	if (!pid || pid > INT32_MAX)
		return false;
	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return false;
	ret = proc_stat((pid_t)pid, &state, &now_start);
	if (ret == -ENOENT)
		return false;
	if (ret)
		return true;	/* /proc can't tell; kill() said it exists */
	if (state == 'Z' || state == 'X' || state == 'x')
		return false;
	return !start || (now_start & start_mask) == (start & start_mask);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434	/* the same number on every architecture */
#endif

#ifdef SR_TEST_HOOKS
_Atomic bool sr_test_no_proc;
_Atomic bool sr_test_no_pidfd;
#endif

/* Set once pidfd_open() is found missing (before 5.3) or refused (seccomp). */
static _Atomic bool no_pidfd;

static int pidfd_open(uint32_t pid)
{
	long fd;

#ifdef SR_TEST_HOOKS
	if (atomic_load_explicit(&sr_test_no_pidfd, memory_order_relaxed))
		return -ENOSYS;
#endif
	if (atomic_load_explicit(&no_pidfd, memory_order_relaxed))
		return -ENOSYS;
	fd = syscall(SYS_pidfd_open, (pid_t)pid, 0U);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		atomic_store_explicit(&no_pidfd, true, memory_order_relaxed);
	return fd < 0 ? -errno : (int)fd;
}

/* Closes the pidfds of @n peers, each once. */
void sr_pidfds_drop(struct sr_pidfd *pf, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (pf[i].pid)
			close(pf[i].fd);
		pf[i] = (struct sr_pidfd){ .fd = -1 };
	}
}

/*
 * Opens a pidfd on @pid and makes sure it is the process recorded with
 * @start: the pid is looked up after the pidfd is open, so a match means
 * the pidfd holds that process (its pid cannot have come back). Returns the
 * pidfd, -ESRCH when that process is gone, or another negative errno when
 * no pidfd can tell.
 */
static int pidfd_of(uint32_t pid, uint64_t start)
{
	uint64_t now_start;
	char state;
	int fd, ret;

	fd = pidfd_open(pid);
	if (fd < 0)
		return fd;
	ret = proc_stat((pid_t)pid, &state, &now_start);
	if (ret == -ENOENT || (!ret && start && now_start != start)) {
		close(fd);
		return -ESRCH;
	}
	/* No /proc: the process that had the pid when the record was read. */
	return fd;
}

/*
 * Whether the participant recorded as @pid, @start lives, through the
 * pidfd cached in @pf (a zeroed one is empty), which is opened on first
 * use and replaced when the record names another process. Only a definite
 * answer counts as dead: an error says alive, as the /proc check does.
 * Under sr_fds_hold() (events.c) when @pf belongs to a handle: a fork() in
 * another thread must not give the child a pidfd that no handle names.
 */
bool sr_peer_alive(struct sr_pidfd *pf, uint32_t pid, uint64_t start)
{
	struct pollfd p;
	int fd;

	if (!pid || pid > INT32_MAX)
		return false;
	if (pf->pid != pid || pf->start != start) {
		sr_pidfds_drop(pf, 1);
		fd = pidfd_of(pid, start);
		if (fd >= 0)
			*pf = (struct sr_pidfd){ .pid = pid, .fd = fd,
						 .start = start };
		if (fd == -ESRCH)
			return false;
		if (fd < 0)
			return alive(pid, start, UINT64_MAX);
	}
	p = (struct pollfd){ .fd = pf->fd, .events = POLLIN };
	/* POLLIN: it has exited. */
	return poll(&p, 1, 0) != 1 || !(p.revents & POLLIN);
}

/* A lock word: pid in the low half, the low 32 bits of its start time above. */
static uint64_t self_token(void)
{
	uint64_t start;
	pid_t pid = sr_self(&start);

	return (start << 32) | (uint32_t)pid;
}

static void nap(long ns)
{
	struct timespec ts = { .tv_nsec = ns };

	nanosleep(&ts, NULL);
}

/*
 * Takes @lock. Held briefly and never across a blocking call, so waiters
 * spin, then nap; every millisecond they check the holder, and take the lock
 * over from a dead one (*@stolen tells, so that the caller can repair what
 * the holder left half done). Returns 0, or -ETIMEDOUT when a live holder
 * keeps it for SR_LOCK_PATIENCE_NS (stopped, or a corrupted word naming a
 * live process).
 */
int sr_lock(_Atomic uint64_t *lock, bool *stolen)
{
	uint64_t me = self_token(), cur;
	int64_t start = 0, checked = 0, now;
	unsigned int spins = 0;

	*stolen = false;
	for (;;) {
		cur = 0;
		if (atomic_compare_exchange_weak_explicit(lock, &cur, me,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
		if (!cur)
			continue;
		if (++spins < 64) {
			sr_cpu_relax();
			continue;
		}
		nap(20000);
		now = sr_now_ns();
		if (!start)
			start = checked = now;
		if (now - checked < SR_LOCK_CHECK_NS)
			continue;
		checked = now;
		if (!alive((uint32_t)cur, cur >> 32, UINT32_MAX)) {
			if (atomic_compare_exchange_strong_explicit(lock, &cur,
					me, memory_order_acquire,
					memory_order_relaxed)) {
				*stolen = true;
				return 0;
			}
			continue;
		}
		if (now - start > SR_LOCK_PATIENCE_NS)
			return -ETIMEDOUT;
	}
}

void sr_unlock(_Atomic uint64_t *lock)
{
	atomic_store_explicit(lock, 0, memory_order_release);
}

/* A lock of one byte at @byte, of @type, for F_OFD_SETLK or F_OFD_GETLK. */
static struct flock byte_lock(uint64_t byte, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)byte,
		.l_len = 1,
	};

	return fl;
}

/*
 * Takes the liveness lock on @byte of the file behind @fd, through a new
 * description of that file. Returns the new fd, or a negative errno (no
 * /proc, no permission to open the file again, a kernel without OFD locks):
 * the participant is then known by its pid alone. *@dev and *@ino name the
 * file, so that survivors test the same one.
 */
int sr_live_lock(int fd, uint64_t byte, uint64_t *dev, uint64_t *ino)
{
	struct flock fl = byte_lock(byte, F_RDLCK);
	char path[32];
	struct stat st;
	int lfd, err;

	if (fd < 0 || byte > INT64_MAX)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* Writable if we may: the device takes release actions on it. */
	lfd = open(path, O_RDWR | O_CLOEXEC);
	if (lfd < 0)
		lfd = open(path, O_RDONLY | O_CLOEXEC);
	if (lfd < 0)
		return -errno;
	if (fstat(lfd, &st) || fcntl(lfd, F_OFD_SETLK, &fl)) {
		err = errno;
		close(lfd);
		return -err;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return lfd;
}

/*
 * Tests, through @probe_fd (a description of the same file that holds no
 * lock on @byte itself: its own locks would not show), whether
 * anyone still holds the lock on @byte. Only a definite "nobody" counts:
 * an error says nothing.
 */
bool sr_live_lock_gone(int probe_fd, uint64_t byte)
{
	struct flock fl = byte_lock(byte, F_WRLCK);

	if (probe_fd < 0 || byte > INT64_MAX ||
	    fcntl(probe_fd, F_OFD_GETLK, &fl))
		return false;
	return fl.l_type == F_UNLCK;
}
