// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers: messages, busy work, CPU pinning that says why it failed,
 * memory shared across fork, children and commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <shmring.h>

#include "bench.h"

extern char **environ;

/* Errors and diagnostics go to stderr, outside the CSV on stdout. */
void errorf(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("# bench error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("# bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Busy work standing for what a program does with each message. */
void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;

	while (now_ns() < end)
		;
}

int pin_self(int cpu)
{
	int ret = pin_cpu(cpu);

	if (ret)
		errorf("sched_setaffinity(cpu %d): %s", cpu, strerror(-ret));
	return ret ? -1 : 0;
}

/* Anonymous shared memory: parent and children see the same bytes. */
void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		errorf("mmap of %zu shared bytes: %s", size, strerror(errno));
		return NULL;
	}
	return p;
}

void shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

/* 0 if @status is a clean exit; otherwise says how @what ended. */
static int judge(int status, const char *what)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		errorf("%s: killed by signal %d%s", what, WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (watchdog)" : "");
	else
		errorf("%s: exit status %d", what, WEXITSTATUS(status));
	return -1;
}

int wait_child(int pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			errorf("waitpid(%s): %s", what, strerror(errno));
			return -1;
		}
	}
	return judge(status, what);
}

/*
 * Waits for both sides of a test, in whatever order they end. A side that
 * fails takes the other down: alone, it would sleep until its watchdog.
 */
int wait_pair(const int pid[2], const char *const what[2])
{
	int status, left = 2, ret = 0, p, i;

	while (left) {
		p = waitpid(-1, &status, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			errorf("waitpid: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < 2 && pid[i] != p; i++)
			;
		if (i == 2)
			continue;
		left--;
		if (judge(status, what[i])) {
			ret = -1;
			if (left)
				kill(pid[!i], SIGKILL);
		}
	}
	return ret;
}

/*
 * Runs @fn in a child and waits for it, so that what a part does to its
 * process (threads by the thousand, a device mapping, a watchdog) ends with
 * it. 0 if @fn returned 0.
 */
int run_in_child(int (*fn)(void), const char *what)
{
	int pid, ret;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		errorf("fork: %m");
		return -1;
	}
	if (!pid) {
		ret = fn();
		fflush(NULL);
		_exit(ret ? 1 : 0);
	}
	return wait_child(pid, what);
}

/* Runs a command found on PATH and waits for it. */
int run_cmd(const char *const argv[])
{
	int pid, err;

	err = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv,
			   environ);
	if (err) {
		errorf("spawn %s: %s", argv[0], strerror(err));
		return -1;
	}
	return wait_child(pid, argv[0]);
}

/* Voluntary context switches of the calling process (one thread). */
long nvcsw_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

/*
 * The raw parts write words anywhere in the device: lay its channel
 * directory out afresh before a part that uses libshmring. 0 or -1.
 */
int reformat_device(void)
{
	struct shmring *sh;
	int ret = 0;

	if (shmring_open(NULL, &sh)) {
		errorf("shmring_open: %m");
		return -1;
	}
	if (shmring_format(sh, SHMRING_FORMAT_FORCE)) {
		errorf("shmring_format: %m");
		ret = -1;
	}
	shmring_close(sh);
	return ret;
}
