// SPDX-License-Identifier: GPL-2.0
/*
 * The allocation paths of ABI 2 under injected failures: the open that
 * makes a file's state (struct shmring_file), SHMRING_IOC_WATCH (the
 * watcher, its file and fd) and SHMRING_IOC_RELEASE_ADD (the action).
 * shmring_faultinject.sh arms failslab for tasks that ask for it; this
 * program asks (/proc/self/make-it-fail) around each of those calls alone.
 *
 * Each call must either succeed fully or fail with ENOMEM (ENFILE or
 * EMFILE for a file or fd the kernel could not get) and leave nothing:
 * no descriptor, no action (fdinfo), no word watched (the device's total
 * of SHMRING_WATCH_TOTAL_MAX words is all there at the end), and an action
 * that was added runs when its file goes. Leaks of memory are the leak
 * check's to find. Not a kselftest harness program: the harness forks for
 * each test, and a fork under failslab fails.
 */
#define _GNU_SOURCE
#include <stdarg.h>

#include "shmring_util.h"

#define ROUNDS		3000
#define WORD(i)		(4096 + 4 * ((i) % 1024))

static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# failed: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures++;
}

/* Injected failures for this task on (1) or off (0). */
static int make_it_fail(int fd, int on)
{
	return pwrite(fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -errno;
}

/* Lines of /proc/self/fdinfo/@fd that start with @key, or -1. */
static int fdinfo_count(int fd, const char *key)
{
	char buf[8192], *p;
	int n = 0;

	if (fdinfo_lines(fd, key, buf, sizeof(buf)))
		return -1;
	for (p = buf; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

static bool allowed(int err)
{
	return err == -ENOMEM || err == -ENFILE || err == -EMFILE;
}

int main(void)
{
	int mif, base, nfds, fd, wfd, n, i, hit_open = 0, hit_watch = 0;
	int hit_release = 0, wfds[SHMRING_WATCH_TOTAL_MAX / SHMRING_WATCH_MAX];
	uint64_t offs[SHMRING_WATCH_MAX];
	int64_t id;
	uint32_t v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mif = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	base = shmring_open(O_RDWR);
	if (mif < 0 || base < 0) {
		printf("# setup: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < SHMRING_WATCH_MAX; i++)
		offs[i] = WORD(i);
	nfds = count_fds();

	for (i = 0; i < ROUNDS && failures < 10; i++) {
		uint32_t want = 0x5a000000U + i;

		make_it_fail(mif, 1);
		fd = shmring_open(O_RDWR);
		fd = fd < 0 ? -errno : fd;
		make_it_fail(mif, 0);
		if (fd < 0) {
			if (!allowed(fd))
				fail("open: %s", strerror(-fd));
			hit_open++;
			if (count_fds() != nfds)
				fail("a failed open left a descriptor");
			continue;
		}

		make_it_fail(mif, 1);
		id = shmring_release_add(fd, WORD(i), SHMRING_RELEASE_STORE, want);
		make_it_fail(mif, 0);
		if (id < 0 && !allowed((int)id))
			fail("RELEASE_ADD: %s", strerror((int)-id));
		hit_release += id < 0;
		n = fdinfo_count(fd, "shmring-release:");
		if (n != (id > 0))
			fail("RELEASE_ADD returned %lld, fdinfo lists %d actions",
			     (long long)id, n);

		make_it_fail(mif, 1);
		wfd = shmring_watch_new(fd, offs, 2 + i % 8, SHMRING_WATCH_NONBLOCK);
		make_it_fail(mif, 0);
		if (wfd < 0) {
			if (!allowed(wfd))
				fail("WATCH: %s", strerror(-wfd));
			hit_watch++;
		} else if (fdinfo_count(wfd, "shmring-watch-offsets:") != 1) {
			fail("a watch fd without its offsets line");
		}
		if (count_fds() != nfds + 1 + (wfd >= 0))
			fail("%d descriptors, expected %d", count_fds(),
			     nfds + 1 + (wfd >= 0));
		if (wfd >= 0)
			close(wfd);

		/* Its action, if added, runs now: the word says which. */
		if (pwrite(base, "\0\0\0\0", 4, WORD(i)) != 4)
			fail("pwrite: %s", strerror(errno));
		close(fd);
		if (pread(base, &v, sizeof(v), WORD(i)) != sizeof(v))
			fail("pread: %s", strerror(errno));
		else if (v != (id > 0 ? want : 0))
			fail("word %#x holds %#x after the close (action %lld)",
			     WORD(i), v, (long long)id);
	}

	/* No watched word was left counted: the whole total can be had. */
	for (i = 0; i < (int)(sizeof(wfds) / sizeof(wfds[0])); i++) {
		wfds[i] = shmring_watch_new(base, offs, SHMRING_WATCH_MAX, 0);
		if (wfds[i] < 0) {
			fail("watch fd %d of the total: %s", i,
			     strerror(-wfds[i]));
			break;
		}
	}
	if (i == (int)(sizeof(wfds) / sizeof(wfds[0])) &&
	    shmring_watch_new(base, offs, 1, 0) != -ENOSPC)
		fail("more than SHMRING_WATCH_TOTAL_MAX words watched");
	while (i-- > 0)
		close(wfds[i]);
	close(base);
	if (count_fds() != nfds - 1)
		fail("descriptors left open");

	printf("# %d rounds: injected failures hit %d opens, %d RELEASE_ADDs, %d WATCHes\n",
	       ROUNDS, hit_open, hit_release, hit_watch);
	/* Each path failed at least once, or it was not tested. */
	if (!hit_open || !hit_release || !hit_watch)
		fail("a path was never failed");
	return failures ? 1 : 0;
}
