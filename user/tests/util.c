// SPDX-License-Identifier: GPL-2.0
/* The harness of tap.h and the helpers of util.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void tap_fail(const char *file, int line, const char *what, long got)
{
	printf("# %s:%d: failed: %s (got %ld, errno %d %s)\n", file, line,
	       what, got, errno, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int run_one(const struct tap_test *t)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int ret;

		alarm(t->timeout_s ? t->timeout_s : 60);
		ret = t->fn();
		fflush(stdout);
		exit(ret);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFSIGNALED(st)) {
		printf("# %s: killed by signal %d%s\n", t->name, WTERMSIG(st),
		       WTERMSIG(st) == SIGALRM ? " (time limit)" : "");
		return 1;
	}
	return WEXITSTATUS(st);
}

int tap_main(const struct tap_test *tests, size_t n, int argc, char **argv)
{
	size_t i, num = 0;
	int failed = 0, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	for (i = 0; i < n; i++)
		if (argc < 2 || !strcmp(argv[1], tests[i].name))
			num++;
	printf("1..%zu\n", num);
	num = 0;
	for (i = 0; i < n; i++) {
		if (argc >= 2 && strcmp(argv[1], tests[i].name))
			continue;
		ret = run_one(&tests[i]);
		num++;
		if (ret == TAP_SKIP) {
			printf("ok %zu %s # SKIP\n", num, tests[i].name);
		} else {
			printf("%sok %zu %s\n", ret ? "not " : "", num,
			       tests[i].name);
			failed |= !!ret;
		}
	}
	return failed;
}

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	v = strtoull(s, &end, 0);
	return *end ? def : v;
}

/*
 * With SHMRING_TEST_DEVICE set (to /dev/shmring), buffers are the first
 * @size bytes of the device, zeroed, with the device's WAIT/WAKE; otherwise
 * a memfd with futex. The kselftest build sets the default to the device;
 * SHMRING_TEST_DEVICE= (empty) selects the memfd there too. A device smaller
 * than @size skips the test.
 */
#ifndef TEST_DEVICE
#define TEST_DEVICE ""
#endif

static const char *test_device(void)
{
	const char *dev = getenv("SHMRING_TEST_DEVICE");

	return dev ? dev : TEST_DEVICE;
}

bool on_device(void)
{
	return *test_device();
}

struct shmring *buffer_new(size_t size)
{
	struct shmring_info info;
	struct shmring *sh;
	void *base;
	int fd;

	if (!on_device()) {
		CHECK_OK(shmring_open_memfd(size, &sh));
		return sh;
	}
	/* Left open and mapped: forked children use them too. */
	fd = open(test_device(), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_OK(ioctl(fd, SHMRING_IOC_INFO, &info));
	if (info.size < size) {
		printf("# device has %llu bytes, the test wants %zu\n",
		       (unsigned long long)info.size, size);
		exit(TAP_SKIP);
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(base != MAP_FAILED);
	memset(base, 0, size);
	CHECK_OK(shmring_attach(base, size, SHMRING_BACKEND_DEVICE, fd, &sh));
	return sh;
}

struct shmring_channel *chan(struct shmring *sh, const char *name, int role,
			     uint32_t kind, uint64_t cap, uint32_t slot)
{
	struct shmring_channel_attr a = {
		.kind = kind, .capacity = cap, .slot_size = slot,
	};
	struct shmring_channel *ch;

	CHECK_OK(shmring_channel_open(sh, name, role, SHMRING_CREATE, &a, &ch));
	return ch;
}

uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * The table repeats with period PATTERN_SPAN, so pattern(off)[k] is the byte
 * at offset off + k of one endless stream, whatever the chunking.
 */
#define TABLE_SIZE	(2 * PATTERN_SPAN)
static unsigned char table[TABLE_SIZE];
static _Atomic int table_ready;

const unsigned char *pattern(uint64_t off)
{
	if (!atomic_load(&table_ready)) {
		/* Not thread-safe: call once before starting threads. */
		uint64_t i;

		for (i = 0; i < PATTERN_SPAN / 8; i++) {
			uint64_t v = mix64(i);

			memcpy(table + 8 * i, &v, 8);
		}
		memcpy(table + PATTERN_SPAN, table, PATTERN_SPAN);
		atomic_store(&table_ready, 1);
	}
	return table + off % PATTERN_SPAN;
}

/* FNV-1a style over 64-bit words, then the tail bytes, folded to 32 bits. */
uint32_t checksum(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	for (; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return (uint32_t)(h ^ h >> 32);
}

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		/* exit(), not _exit(): the sanitizers report at exit */
		exit(fn(arg));
	}
	return pid;
}

int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

void barrier_wait(struct barrier *b)
{
	atomic_fetch_add(&b->count, 1);
	while (atomic_load(&b->count) < b->n)
		sched_yield();
}
