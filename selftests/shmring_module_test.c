// SPDX-License-Identifier: GPL-2.0
/*
 * shmring module load/unload tests. They need root and run after the other
 * suites, with the module loaded with default parameters; $SHMRING_KO names
 * the module file. Each test leaves the module loaded with its defaults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

#define MOD_PARAM_SIZE		MOD_SYSFS "/parameters/size"
#define DEFAULT_SIZE		(4ULL << 20)
#define MAX_SIZE		(1ULL << 30)

/* No module and no device node: what a failed load must leave behind. */
static bool module_gone(void)
{
	struct stat st;

	return stat(SHMRING_DEV, &st) && errno == ENOENT && !module_loaded();
}

/* The size parameter as sysfs shows it, or -errno. */
static long long sysfs_size(void)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(MOD_PARAM_SIZE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 0);
}

static long long mem_total_bytes(void)
{
	long long kb = -1;
	char line[128];
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static int send_byte(int fd)
{
	return write(fd, "x", 1) == 1 ? 0 : -1;
}

static int recv_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

/* What every test holds, so teardown can release it before reloading. */
struct modctx {
	int ko_fd;
	int fd;
	uint8_t *map;
	size_t map_len;
	pid_t child;
	size_t page;
};

static void modctx_setup(struct __test_metadata *_metadata, struct modctx *c)
{
	const char *ko = getenv("SHMRING_KO");

	c->fd = -1;
	c->map = MAP_FAILED;
	c->page = sysconf(_SC_PAGESIZE);
	c->ko_fd = -1;
	ASSERT_NE(NULL, ko) TH_LOG("SHMRING_KO must name the shmring module file");
	c->ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, c->ko_fd) TH_LOG("%s: %s", ko, strerror(errno));
	ASSERT_EQ(0, geteuid()) TH_LOG("loading modules needs root");
	/*
	 * Start from a fresh default load with no users. An earlier failure
	 * may have left the module out, and the other suites' killed
	 * processes may still be dropping their last references.
	 */
	if (module_loaded()) {
		ASSERT_EQ(0, unload_module_retry()) TH_LOG("module still busy");
	}
	ASSERT_EQ(0, load_module(c->ko_fd, "")) TH_LOG("cannot load %s", ko);
}

static void modctx_teardown(struct __test_metadata *_metadata, struct modctx *c)
{
	if (c->child > 0) {
		kill(c->child, SIGKILL);
		waitpid(c->child, NULL, 0);
	}
	if (c->map != MAP_FAILED)
		munmap(c->map, c->map_len);
	if (c->fd >= 0)
		close(c->fd);
	/* Leave the module as the suite found it: loaded, defaults, zeroed. */
	if (module_loaded()) {
		EXPECT_EQ(0, unload_module_retry());
	}
	EXPECT_EQ(0, load_module(c->ko_fd, ""));
	close(c->ko_fd);
}

/* Open the device and map all of it; returns the size. */
static size_t open_and_map(struct __test_metadata *_metadata, struct modctx *c)
{
	struct shmring_info info;

	c->fd = shmring_open(O_RDWR);
	ASSERT_LE(0, c->fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, shmring_get_info(c->fd, &info));
	c->map_len = info.size;
	c->map = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->map) TH_LOG("mmap: %s", strerror(errno));
	return info.size;
}

/* The node devtmpfs made for the module: a root-only character device. */
static void check_node(struct __test_metadata *_metadata)
{
	struct stat st;

	ASSERT_EQ(0, stat(SHMRING_DEV, &st)) TH_LOG("%s: %s", SHMRING_DEV, strerror(errno));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0600, st.st_mode & 0777);
}

/* Size from INFO, sysfs and the mapping limits all agree with @expect. */
static void check_size(struct __test_metadata *_metadata, size_t page,
		       uint64_t expect)
{
	struct shmring_info info;
	struct stat st;
	uint8_t *p;
	size_t i;
	char c;
	int fd;

	check_node(_metadata);
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, shmring_get_info(fd, &info));
	ASSERT_EQ(expect, info.size);
	ASSERT_EQ(page, info.page_size);
	ASSERT_EQ(SHMRING_ABI_VERSION, info.abi_version);
	ASSERT_EQ(0, info.nr_waiters);

	ASSERT_EQ(0, stat(MOD_PARAM_SIZE, &st)) TH_LOG("%s missing", MOD_PARAM_SIZE);
	ASSERT_EQ(0444, st.st_mode & 0777);
	ASSERT_EQ((long long)expect, sysfs_size());

	ASSERT_EQ((off_t)expect, lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, pread(fd, &c, 1, expect));
	errno = 0;
	ASSERT_EQ(-1, pwrite(fd, &c, 1, expect));
	ASSERT_EQ(ENOSPC, errno);

	p = mmap(NULL, expect + page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, expect, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* A fresh load starts zeroed, up to the last byte. */
	for (i = 0; i < expect; i += sizeof(uint64_t)) {
		ASSERT_EQ(0, *(uint64_t *)(p + i)) TH_LOG("byte %zu", i);
	}
	p[expect - 1] = 0x5a;
	ASSERT_EQ(1, pread(fd, &c, 1, expect - 1));
	ASSERT_EQ(0x5a, c);
	munmap(p, expect);
	close(fd);
}

FIXTURE(module) {
	struct modctx c;
};

FIXTURE_SETUP(module)
{
	modctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(module)
{
	modctx_teardown(_metadata, &self->c);
}

/* A second load of a live module is refused and changes nothing. */
TEST_F(module, load_twice_eexist)
{
	struct shmring_info before, after;
	size_t size;

	size = open_and_map(_metadata, &self->c);
	ASSERT_EQ(0, shmring_get_info(self->c.fd, &before));
	self->c.map[size - 1] = 0x77;

	ASSERT_EQ(-EEXIST, load_module(self->c.ko_fd, "size=64M"));
	ASSERT_EQ(-EEXIST, load_module(self->c.ko_fd, ""));

	ASSERT_EQ(0, shmring_get_info(self->c.fd, &after));
	ASSERT_EQ(before.size, after.size);
	ASSERT_EQ(0x77, self->c.map[size - 1]);
	check_node(_metadata);
}

TEST_F(module, rmmod_busy_while_open)
{
	struct shmring_info info;

	self->c.fd = shmring_open(O_RDWR);
	ASSERT_LE(0, self->c.fd);
	/* A referenced module with O_NONBLOCK: -EWOULDBLOCK from try_stop_module. */
	ASSERT_EQ(-EWOULDBLOCK, unload_module());
	ASSERT_EQ(-EWOULDBLOCK, unload_module());
	ASSERT_TRUE(module_loaded());
	check_node(_metadata);
	ASSERT_EQ(0, shmring_get_info(self->c.fd, &info));

	/* Read-only openers pin it just the same. */
	close(self->c.fd);
	self->c.fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, self->c.fd);
	ASSERT_EQ(-EWOULDBLOCK, unload_module());

	/* Our own close runs the final fput before returning to us. */
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(0, unload_module());
	ASSERT_TRUE(module_gone());
	ASSERT_EQ(-ENOENT, unload_module());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_node(_metadata);
}

/* A mapping alone keeps the file, so the module, alive. */
TEST_F(module, rmmod_busy_while_mapped)
{
	const size_t page = self->c.page;
	uint8_t *p;
	size_t size;

	size = open_and_map(_metadata, &self->c);
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, self->c.fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(-EWOULDBLOCK, unload_module());

	/* The pages are still there, and shared. */
	self->c.map[page + 3] = 0x3c;
	ASSERT_EQ(0x3c, p[page + 3]);
	p[5] = 0xc3;
	ASSERT_EQ(0xc3, self->c.map[5]);

	munmap(self->c.map, size);
	self->c.map = MAP_FAILED;
	ASSERT_EQ(-EWOULDBLOCK, unload_module());
	ASSERT_EQ(0x3c, p[page + 3]);

	/* Half of a split mapping still holds it. */
	ASSERT_EQ(0, munmap(p, page));
	ASSERT_EQ(-EWOULDBLOCK, unload_module());
	ASSERT_EQ(0x3c, p[page + 3]);
	ASSERT_EQ(0, munmap(p + page, page));

	ASSERT_EQ(0, unload_module());
	ASSERT_TRUE(module_gone());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_node(_metadata);
}

/* A forked child's inherited mapping pins the module after the parent lets go. */
TEST_F(module, rmmod_busy_while_child_maps)
{
	int p2c[2], c2p[2], status;
	size_t size;
	pid_t pid;

	size = open_and_map(_metadata, &self->c);
	self->c.map[size - 1] = 0x11;
	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(self->c.fd);
		close(p2c[1]);
		close(c2p[0]);
		if (send_byte(c2p[1]) || recv_byte(p2c[0]))
			_exit(10);
		/* The parent has unmapped and closed by now. */
		if (self->c.map[size - 1] != 0x11)
			_exit(11);
		self->c.map[size - 1] = 0x22;
		if (self->c.map[size - 1] != 0x22)
			_exit(12);
		_exit(0);
	}
	self->c.child = pid;
	close(p2c[0]);
	close(c2p[1]);
	ASSERT_EQ(0, recv_byte(c2p[0]));

	munmap(self->c.map, size);
	self->c.map = MAP_FAILED;
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(-EWOULDBLOCK, unload_module());

	ASSERT_EQ(0, send_byte(p2c[1]));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->c.child = 0;
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, unload_module_retry());
	ASSERT_TRUE(module_gone());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_node(_metadata);
	close(p2c[1]);
	close(c2p[0]);
}

/* A process killed while holding an fd and a mapping leaves no reference. */
TEST_F(module, rmmod_after_sigkill)
{
	int c2p[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(c2p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t *p;
		int fd;

		close(c2p[0]);
		fd = shmring_open(O_RDWR);
		if (fd < 0)
			_exit(10);
		p = mmap(NULL, self->c.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(11);
		p[0] = 1;
		send_byte(c2p[1]);
		for (;;)
			pause();
	}
	self->c.child = pid;
	close(c2p[1]);
	ASSERT_EQ(0, recv_byte(c2p[0]));
	ASSERT_EQ(-EWOULDBLOCK, unload_module());

	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->c.child = 0;
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));

	ASSERT_EQ(0, unload_module_retry());
	ASSERT_TRUE(module_gone());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_node(_metadata);
	close(c2p[0]);
}

/* Sizes the module must refuse at load, each with EINVAL and no leftovers. */
TEST_F(module, bad_sizes_einval)
{
	static const char * const bad[] = {
		"size=0", "size=0K", "size=2G", "size=1025M", "size=1073741825",
		"size=abc", "size=", "size=12Q", "size",
		/* 2^64 + 4096 and 2^64 + 1 GiB: they must not wrap to fit. */
		"size=18446744073709555712", "size=17179869185G",
		"size=18446744073709551616", "size=0x10000000000001000",
	};
	long long total = mem_total_bytes(), half_plus;
	size_t page = self->c.page;
	char param[64];
	size_t i;

	ASSERT_EQ(0, unload_module());
	ASSERT_TRUE(module_gone());

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(-EINVAL, load_module(self->c.ko_fd, bad[i]))
			TH_LOG("\"%s\" was not refused with EINVAL", bad[i]);
		ASSERT_TRUE(module_gone()) TH_LOG("after \"%s\"", bad[i]);
	}

	/* More than half of RAM: the smallest page count above it. */
	ASSERT_LT(0, total);
	half_plus = (total / (long long)page / 2 + 1) * (long long)page;
	if ((unsigned long long)half_plus <= MAX_SIZE) {
		snprintf(param, sizeof(param), "size=%lld", half_plus);
		ASSERT_EQ(-EINVAL, load_module(self->c.ko_fd, param))
			TH_LOG("\"%s\" (MemTotal %lld) was not refused", param, total);
		ASSERT_TRUE(module_gone());
	} else {
		TH_LOG("half of RAM (%lld) is above 1 GiB: the 2G and 1025M cases cover it",
		       total / 2);
	}

	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_size(_metadata, page, DEFAULT_SIZE);
}

/* The data outlives every close, but a fresh load starts from zeros. */
TEST_F(module, persist_then_zero_on_reload)
{
	uint8_t *buf;
	size_t size, i;

	size = open_and_map(_metadata, &self->c);
	for (i = 0; i < size; i++)
		self->c.map[i] = (i * 7 + 1) ^ (i >> 12);
	munmap(self->c.map, size);
	self->c.map = MAP_FAILED;
	close(self->c.fd);
	self->c.fd = -1;

	buf = malloc(size);
	ASSERT_NE(NULL, buf);
	self->c.fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, self->c.fd);
	ASSERT_EQ(size, pread(self->c.fd, buf, size, 0));
	for (i = 0; i < size; i++) {
		ASSERT_EQ((uint8_t)((i * 7 + 1) ^ (i >> 12)), buf[i]) TH_LOG("byte %zu", i);
	}
	close(self->c.fd);
	self->c.fd = -1;

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	self->c.fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, self->c.fd);
	ASSERT_EQ(size, pread(self->c.fd, buf, size, 0));
	for (i = 0; i < size; i++) {
		ASSERT_EQ(0, buf[i]) TH_LOG("byte %zu after reload", i);
	}
	free(buf);
}

/* Custom sizes, each checked through INFO, sysfs, mmap and read/write. */
FIXTURE(custom_size) {
	struct modctx c;
};

FIXTURE_VARIANT(custom_size) {
	const char *param;
	unsigned long long bytes;	/* before rounding up to a page */
};

FIXTURE_VARIANT_ADD(custom_size, size_64k) {
	.param = "size=64K", .bytes = 64ULL << 10,
};

FIXTURE_VARIANT_ADD(custom_size, size_5000) {
	.param = "size=5000", .bytes = 5000,
};

FIXTURE_VARIANT_ADD(custom_size, size_1m) {
	.param = "size=1M", .bytes = 1ULL << 20,
};

FIXTURE_VARIANT_ADD(custom_size, size_64m) {
	.param = "size=64M", .bytes = 64ULL << 20,
};

FIXTURE_SETUP(custom_size)
{
	modctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(custom_size)
{
	modctx_teardown(_metadata, &self->c);
}

TEST_F_TIMEOUT(custom_size, honoured, 120)
{
	size_t page = self->c.page;
	uint64_t expect = (variant->bytes + page - 1) / page * page;

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(self->c.ko_fd, variant->param)) TH_LOG("%s", variant->param);
	check_size(_metadata, page, expect);
}

/* Last: the defaults, as the suite leaves them. */
FIXTURE(defaults) {
	struct modctx c;
};

FIXTURE_SETUP(defaults)
{
	modctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(defaults)
{
	modctx_teardown(_metadata, &self->c);
}

TEST_F(defaults, reload_without_params)
{
	ASSERT_EQ(0, unload_module());
	ASSERT_TRUE(module_gone());
	ASSERT_EQ(0, load_module(self->c.ko_fd, ""));
	check_size(_metadata, self->c.page, DEFAULT_SIZE);
}

TEST_HARNESS_MAIN
