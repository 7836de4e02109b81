// SPDX-License-Identifier: GPL-2.0
/*
 * The device side of the event loop tests in other languages
 * (shmring_python_loops.sh, shmring_tokio.sh): makes a watch fd on one
 * word of /dev/shmring, O_NONBLOCK, lets it survive exec, and runs the
 * client program named on the command line with three more arguments:
 * the watch fd, the fd to write requests to and the fd to read replies
 * from. The client prints its own KTAP. Requests, one a line:
 *
 *   wake <n>         <n> WAKEs of the word, then the reply "ok";
 *   wake <n> <ms>    the reply "ok" first, then, <ms> milliseconds later,
 *                    <n> WAKEs: the client is asleep in its loop by then;
 *   count            the watch fd's pending count, from fdinfo: the
 *                    driver's own view, which reading it would reset.
 *
 * Exits with the client's status; 1 if the client died of a signal, made
 * no request for a WAKE, sent a request it does not know, or was still
 * running after TIMEOUT_S (then it is killed).
 *
 * With --eventfd first, an eventfd stands in for the watch fd and a WAKE
 * is a write of 1 to it: that checks a client on a machine without the
 * device (guest/lib.sh runs the Python client so to list what it loads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmring_util.h"

/* Bound on a whole client run; each of its own waits is far shorter. */
#define TIMEOUT_S	300
#define MAX_WAKES	1000
#define MAX_DELAY_MS	10000

struct driver {
	int fd;			/* the device, O_RDWR; -1 with --eventfd */
	int wfd;		/* the watch fd, or the eventfd */
	uint64_t off;		/* the watched word */
	int req, rep;		/* our ends of the pipes */
	unsigned long wakes, requests;
};

/* The pending count, from fdinfo, without reading it; or -1. */
static long long pending(struct driver *d)
{
	char line[128];
	unsigned long long v;

	if (d->fd < 0) {
		if (fdinfo_lines(d->wfd, "eventfd-count:", line, sizeof(line)) ||
		    sscanf(line, "eventfd-count: %llx", &v) != 1)
			return -1;
	} else if (fdinfo_lines(d->wfd, "shmring-watch-count:", line, sizeof(line)) ||
		   sscanf(line, "shmring-watch-count: %llu", &v) != 1) {
		return -1;
	}
	return v;
}

static int wake(struct driver *d, unsigned int n)
{
	uint64_t one = 1;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		if (d->fd < 0) {
			ret = write(d->wfd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
		} else {
			/* Nobody WAITs on the word: the watch fd is all it reaches. */
			ret = shmring_wake(d->fd, d->off, 1);
		}
		if (ret) {
			printf("# driver: WAKE %u of %u: %d\n", i + 1, n, ret);
			return -1;
		}
		d->wakes++;
	}
	return 0;
}

/* One request line into @buf: 1, or 0 at EOF, or -1 (error, timeout). */
static int read_line(int fd, char *buf, size_t len, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	int64_t left;
	ssize_t r;
	char c;

	while (n + 1 < len) {
		left = deadline - now_ns();
		if (left <= 0) {
			printf("# driver: the client still runs after %d s\n", TIMEOUT_S);
			return -1;
		}
		r = poll(&p, 1, left / NSEC_PER_MSEC + 1);
		if (r <= 0)
			continue;	/* EINTR, or the deadline: checked above */
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 && !n)
				return 0;
			printf("# driver: the request pipe broke off\n");
			return -1;
		}
		if (c == '\n') {
			buf[n] = '\0';
			return 1;
		}
		buf[n++] = c;
	}
	printf("# driver: a request over %zu bytes\n", len - 1);
	return -1;
}

static int reply(struct driver *d, const char *fmt, long long v)
{
	return dprintf(d->rep, fmt, v) > 0 ? 0 : -1;
}

/* Answers requests until the client closes its end: 0, or -1. */
static int serve(struct driver *d)
{
	int64_t deadline = now_ns() + TIMEOUT_S * NSEC_PER_SEC;
	unsigned int n, ms;
	long long count;
	char line[64];
	int r, used;

	while ((r = read_line(d->req, line, sizeof(line), deadline)) > 0) {
		d->requests++;
		used = 0;
		if (sscanf(line, "wake %u %u%n", &n, &ms, &used) == 2 &&
		    !line[used] && n <= MAX_WAKES && ms <= MAX_DELAY_MS) {
			if (reply(d, "ok\n", 0))
				return -1;
			usleep(ms * 1000);
			if (wake(d, n))
				return -1;
		} else if (sscanf(line, "wake %u%n", &n, &used) == 1 &&
			   !line[used] && n <= MAX_WAKES) {
			if (wake(d, n) || reply(d, "ok\n", 0))
				return -1;
		} else if (!strcmp(line, "count")) {
			count = pending(d);
			if (count < 0) {
				printf("# driver: no count in fdinfo of fd %d\n", d->wfd);
				return -1;
			}
			if (reply(d, "%lld\n", count))
				return -1;
		} else {
			printf("# driver: unknown request \"%s\"\n", line);
			return -1;
		}
	}
	return r;
}

/* The device, a watch fd on one word of its second page; 0 or -1. */
static int open_watch(struct driver *d)
{
	struct shmring_info info;
	int ret;

	d->fd = shmring_open(O_RDWR);
	if (d->fd < 0) {
		printf("# driver: open %s: %s\n", SHMRING_DEV, strerror(errno));
		return -1;
	}
	ret = shmring_get_info(d->fd, &info);
	if (ret || info.size < 2 * info.page_size) {
		printf("# driver: INFO: %d, size %llu\n", ret,
		       (unsigned long long)info.size);
		return -1;
	}
	d->off = info.page_size + 64;
	d->wfd = shmring_watch_new(d->fd, &d->off, 1, SHMRING_WATCH_NONBLOCK);
	if (d->wfd < 0) {
		printf("# driver: WATCH: %s\n", strerror(-d->wfd));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct driver d = { .fd = -1 };
	char **cargv, fds[3][16];
	int req[2], rep[2], status, i, first = 1, ret;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--eventfd"))
		first = 2;
	if (argc <= first) {
		fprintf(stderr, "usage: %s [--eventfd] <client> [<arg>...]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (first == 2) {
		d.wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d.wfd < 0) {
			printf("# driver: eventfd: %s\n", strerror(errno));
			return 1;
		}
	} else if (open_watch(&d)) {
		return 1;
	}
	if (pipe2(req, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
		printf("# driver: pipe2: %s\n", strerror(errno));
		return 1;
	}
	cargv = calloc(argc - first + 4, sizeof(*cargv));
	if (!cargv)
		return 1;
	for (i = first; i < argc; i++)
		cargv[i - first] = argv[i];
	snprintf(fds[0], sizeof(fds[0]), "%d", d.wfd);
	snprintf(fds[1], sizeof(fds[1]), "%d", req[1]);
	snprintf(fds[2], sizeof(fds[2]), "%d", rep[0]);
	for (i = 0; i < 3; i++)
		cargv[argc - first + i] = fds[i];

	pid = spawn();
	if (pid < 0) {
		printf("# driver: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		/* Across exec: the watch fd and the client's ends of the pipes. */
		if (fcntl(d.wfd, F_SETFD, 0) || fcntl(req[1], F_SETFD, 0) ||
		    fcntl(rep[0], F_SETFD, 0))
			_exit(127);
		execvp(cargv[0], cargv);
		printf("# driver: exec %s: %s\n", cargv[0], strerror(errno));
		_exit(127);
	}
	close(req[1]);
	close(rep[0]);
	d.req = req[0];
	d.rep = rep[1];
	signal(SIGPIPE, SIG_IGN);

	ret = serve(&d);
	if (ret)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	printf("# driver: %lu requests, %lu WAKEs; the client %s %d\n",
	       d.requests, d.wakes,
	       WIFEXITED(status) ? "exited with" : "died of signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	if (ret || !WIFEXITED(status))
		return 1;
	if (!d.wakes && !WEXITSTATUS(status)) {
		printf("# driver: the client passed without asking for a WAKE\n");
		return 1;
	}
	return WEXITSTATUS(status);
}
