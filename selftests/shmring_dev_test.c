// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/shmring device tests: INFO, mmap rules, read/write/llseek and a
 * mmap/munmap/close race. WAIT/WAKE and module loading have their own
 * suites.
 *
 * The buffer persists across tests and suites, so every test starts from a
 * zeroed buffer (FIXTURE_SETUP) and leaves nothing mapped or open.
 */
#define _GNU_SOURCE
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
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* A byte that depends on its buffer offset, so a wrong page shows up. */
static inline uint8_t pat(uint64_t off, uint32_t seed)
{
	return ((off ^ ((uint64_t)seed << 32)) * 0x9e3779b97f4a7c15ULL) >> 56;
}

static void fill_pat(void *p, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pat(off + i, seed);
}

/* Index of the first byte that differs from the pattern, or -1. */
static ssize_t bad_pat(const void *p, uint64_t off, size_t len, uint32_t seed)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pat(off + i, seed))
			return i;
	return -1;
}

static ssize_t first_nonzero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return i;
	return -1;
}

/* /proc/self/pagemap entries of @n pages from @addr; -errno on failure. */
static int read_pagemap(const void *addr, uint64_t *ent, size_t n)
{
	size_t page = sysconf(_SC_PAGESIZE);
	off_t off = (uintptr_t)addr / page * sizeof(*ent);
	ssize_t len = n * sizeof(*ent);
	int fd, ret = 0;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (pread(fd, ent, len, off) != len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

static bool page_present(const void *addr)
{
	uint64_t ent = 0;

	return !read_pagemap(addr, &ent, 1) && (ent & PM_PRESENT);
}

/* Page frame behind @addr; 0 when absent or hidden from this caller. */
static uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0;

	if (read_pagemap(addr, &ent, 1) || !(ent & PM_PRESENT))
		return 0;
	return ent & PM_PFN_MASK;
}

/* pagemap shows frame numbers only to CAP_SYS_ADMIN; the guest runs as root. */
static bool can_see_pfns(void)
{
	return geteuid() == 0 && access("/proc/self/pagemap", R_OK) == 0;
}

/* Both addresses must be backed by the very same physical page. */
#define ASSERT_SAME_FRAME(a, b) do {					\
	if (can_see_pfns()) {						\
		uint64_t fa_ = pfn_of(a), fb_ = pfn_of(b);		\
		ASSERT_NE(0ULL, fa_) TH_LOG("no frame behind %p", (void *)(a)); \
		ASSERT_EQ(fa_, fb_) TH_LOG("%p and %p differ", (void *)(a), (void *)(b)); \
	} else {							\
		TH_LOG("not root: frame numbers not checked");		\
	}								\
} while (0)

/* mmap() that reports -errno and undoes a success. */
static int try_mmap(int fd, size_t len, int prot, int flags, uint64_t off)
{
	/* The raw syscall, so libc cannot reject an offset before the kernel. */
	long p = syscall(__NR_mmap, 0UL, (unsigned long)len, (unsigned long)prot,
			 (unsigned long)flags, (unsigned long)fd, (unsigned long)off);

	if (p == -1)
		return -errno;
	munmap((void *)p, len);
	return 0;
}

/*
 * Touch @addr in a child and return its wait status, so an expected
 * SIGSEGV does not take the test down. No core dump for it either.
 */
static int touch_in_child(volatile uint8_t *addr, bool write)
{
	struct rlimit no_core = { 0, 0 };
	int status = -1;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		if (write)
			*addr = 0x5a;
		else
			(void)*addr;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool died_of(int status, int sig)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

static int send_u64(int fd, uint64_t v)
{
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static int recv_u64(int fd, uint64_t *v)
{
	return read(fd, v, sizeof(*v)) == sizeof(*v) ? 0 : -1;
}

FIXTURE(dev) {
	int fd;
	size_t size;
	size_t page;
	size_t nr_pages;
	uint8_t *map;		/* the whole buffer, shared and writable */
};

FIXTURE_SETUP(dev)
{
	struct shmring_info info;

	self->map = MAP_FAILED;
	self->fd = shmring_open(O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
	ASSERT_EQ(0, shmring_get_info(self->fd, &info));
	self->page = sysconf(_SC_PAGESIZE);
	self->size = info.size;
	ASSERT_LT(0, self->size);
	ASSERT_EQ(0, self->size % self->page);
	self->nr_pages = self->size / self->page;
	/* Enough pages for the fixed offsets used below. */
	ASSERT_LE(16, self->nr_pages);
	self->map = shmring_map_zeroed(self->fd, self->size);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- INFO and ioctl dispatch ---- */

TEST_F(dev, info)
{
	struct shmring_info info, info2;
	size_t i;
	int fd2;

	ASSERT_EQ(0, shmring_get_info(self->fd, &info));
	EXPECT_EQ(self->size, info.size);
	EXPECT_EQ(0, info.size % info.page_size);
	EXPECT_EQ(self->page, info.page_size);
	EXPECT_EQ(SHMRING_ABI_VERSION, info.abi_version);
	EXPECT_EQ(0, info.nr_waiters);
	EXPECT_EQ(0, info.reserved0);
	EXPECT_EQ(SHMRING_FEATURES, info.features);
	for (i = 0; i < ARRAY_SIZE(info.reserved); i++) {
		EXPECT_EQ(0, info.reserved[i]) TH_LOG("reserved[%zu]", i);
	}

	/* Every opener, read-only ones too, sees the same figures. */
	fd2 = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, shmring_get_info(fd2, &info2));
	close(fd2);
	EXPECT_EQ(0, memcmp(&info, &info2, sizeof(info)));
}

TEST_F(dev, info_bad_pointer)
{
	uint8_t *ro, *rw;

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, SHMRING_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);

	ro = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, SHMRING_IOC_INFO, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, self->page);

	/* The struct runs off the end of a writable page into a hole. */
	rw = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rw);
	ASSERT_EQ(0, mprotect(rw + self->page, self->page, PROT_NONE));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, SHMRING_IOC_INFO, rw + self->page - 8));
	EXPECT_EQ(EFAULT, errno);
	munmap(rw, 2 * self->page);
}

TEST_F(dev, ioctl_unknown)
{
	const unsigned long cmds[] = {
		_IO(SHMRING_IOC_MAGIC, 3),
		_IOWR(SHMRING_IOC_MAGIC, 0x7f, struct shmring_info),
		_IO(SHMRING_IOC_MAGIC, 0),
		TCGETS,
	};
	uint64_t arg[16] = { 0 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], arg)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
	EXPECT_EQ(0, isatty(self->fd));
}

/* Right magic and number, wrong size or direction: not the same command. */
TEST_F(dev, ioctl_wrong_size)
{
	const unsigned long cmds[] = {
		_IOR(SHMRING_IOC_MAGIC, 0, __u64),
		_IOC(_IOC_READ, SHMRING_IOC_MAGIC, 0, sizeof(struct shmring_info) + 8),
		_IOW(SHMRING_IOC_MAGIC, 0, struct shmring_info),
		_IOW(SHMRING_IOC_MAGIC, 1, __u64),
		_IOWR(SHMRING_IOC_MAGIC, 1, struct shmring_wait),
		_IOW(SHMRING_IOC_MAGIC, 2, struct shmring_wait),
		_IOR(SHMRING_IOC_MAGIC, 2, struct shmring_wake),
	};
	/*
	 * A valid-looking WAIT argument that could never block (the word is 0,
	 * expected is 1, no timeout), in case the number alone were matched.
	 */
	union {
		struct shmring_wait w;
		uint8_t raw[128];
	} arg;
	size_t i;

	memset(&arg, 0, sizeof(arg));
	arg.w.expected = 1;
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &arg)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

/* ---- mmap ---- */

/* The spec inserts every page at mmap time: present before any touch. */
TEST_F(dev, mmap_prefaulted)
{
	uint64_t *ent;
	uint8_t *p;
	size_t i;

	p = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ent = calloc(self->nr_pages, sizeof(*ent));
	ASSERT_NE(NULL, ent);
	ASSERT_EQ(0, read_pagemap(p, ent, self->nr_pages));
	for (i = 0; i < self->nr_pages; i++) {
		ASSERT_TRUE(ent[i] & PM_PRESENT) TH_LOG("page %zu not mapped", i);
	}
	free(ent);
	munmap(p, self->size);
}

TEST_F(dev, mmap_two_fds_share)
{
	size_t i, step = self->nr_pages / 7 + 1;
	uint8_t *p2, buf[64];
	int fd2;

	fd2 = shmring_open(O_RDWR);
	ASSERT_LE(0, fd2);
	p2 = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, p2);

	/* Each write is visible through the other mapping at once. */
	fill_pat(self->map, 0, self->size, 1);
	ASSERT_EQ(-1, bad_pat(p2, 0, self->size, 1));
	fill_pat(p2 + self->page, self->page, self->page, 2);
	ASSERT_EQ(-1, bad_pat(self->map + self->page, self->page, self->page, 2));
	ASSERT_EQ(sizeof(buf), pread(fd2, buf, sizeof(buf), self->page + 100));
	ASSERT_EQ(-1, bad_pat(buf, self->page + 100, sizeof(buf), 2));

	for (i = 0; i < self->nr_pages; i += step) {
		ASSERT_SAME_FRAME(self->map + i * self->page, p2 + i * self->page);
	}
	ASSERT_SAME_FRAME(self->map + self->size - 1, p2 + self->size - 1);

	munmap(p2, self->size);
	close(fd2);
}

/* Page 3 alone in one mapping is page 3 of the whole buffer in the other. */
TEST_F(dev, mmap_page_offset)
{
	size_t last = self->size - self->page;
	uint8_t *p3, *pl;
	int fd2;

	fd2 = shmring_open(O_RDWR);
	ASSERT_LE(0, fd2);
	p3 = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd2,
		  3 * self->page);
	ASSERT_NE(MAP_FAILED, p3);
	pl = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, last);
	ASSERT_NE(MAP_FAILED, pl);

	fill_pat(self->map, 0, self->size, 3);
	ASSERT_EQ(-1, bad_pat(p3, 3 * self->page, self->page, 3));
	ASSERT_EQ(-1, bad_pat(pl, last, self->page, 3));
	ASSERT_SAME_FRAME(p3, self->map + 3 * self->page);
	ASSERT_SAME_FRAME(pl, self->map + last);

	fill_pat(p3, 3 * self->page, self->page, 4);
	fill_pat(pl, last, self->page, 5);
	ASSERT_EQ(-1, bad_pat(self->map + 3 * self->page, 3 * self->page,
			      self->page, 4));
	ASSERT_EQ(-1, bad_pat(self->map + last, last, self->page, 5));
	/* Neighbours untouched. */
	ASSERT_EQ(-1, bad_pat(self->map + 2 * self->page, 2 * self->page,
			      self->page, 3));
	ASSERT_EQ(-1, bad_pat(self->map + 4 * self->page, 4 * self->page,
			      self->page, 3));

	munmap(p3, self->page);
	munmap(pl, self->page);
	close(fd2);
}

/*
 * Two processes, each opening the device itself: one maps the whole buffer,
 * the other only page 3, and they see each other's writes in the same frame.
 */
TEST_F(dev, mmap_two_processes)
{
	const size_t off = 3 * self->page;
	int p2c[2], c2p[2], status;
	uint64_t msg;
	pid_t pid;

	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));
	fill_pat(self->map + off, off, self->page, 6);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t *p;
		int fd;

		/* Drop everything inherited: this process opens on its own. */
		munmap(self->map, self->size);
		close(self->fd);
		close(p2c[1]);
		close(c2p[0]);
		fd = shmring_open(O_RDWR);
		if (fd < 0)
			_exit(10);
		p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
		if (p == MAP_FAILED)
			_exit(11);
		if (bad_pat(p, off, self->page, 6) != -1)
			_exit(12);
		if (send_u64(c2p[1], pfn_of(p)))
			_exit(13);
		fill_pat(p, off, self->page, 7);
		if (send_u64(c2p[1], 1) || recv_u64(p2c[0], &msg))
			_exit(14);
		if (bad_pat(p, off, self->page, 8) != -1)
			_exit(15);
		_exit(0);
	}
	close(p2c[0]);
	close(c2p[1]);

	ASSERT_EQ(0, recv_u64(c2p[0], &msg));
	if (can_see_pfns()) {
		ASSERT_EQ(pfn_of(self->map + off), msg);
	}
	ASSERT_EQ(0, recv_u64(c2p[0], &msg));
	ASSERT_EQ(-1, bad_pat(self->map + off, off, self->page, 7));
	fill_pat(self->map + off, off, self->page, 8);
	ASSERT_EQ(0, send_u64(p2c[1], 2));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* Neighbours untouched by the child. */
	ASSERT_EQ(-1, first_nonzero(self->map, off));
	ASSERT_EQ(-1, first_nonzero(self->map + off + self->page,
				    self->size - off - self->page));
	close(p2c[1]);
	close(c2p[0]);
}

TEST_F(dev, mmap_fork_inherits)
{
	int p2c[2], c2p[2], status;
	uint64_t msg;
	pid_t pid;

	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));
	fill_pat(self->map, 0, self->size, 9);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		if (bad_pat(self->map, 0, self->size, 9) != -1)
			_exit(10);
		if (send_u64(c2p[1], pfn_of(self->map + self->page)))
			_exit(11);
		fill_pat(self->map + self->page, self->page, self->page, 10);
		if (send_u64(c2p[1], 1) || recv_u64(p2c[0], &msg))
			_exit(12);
		/* Written by the parent after the fork. */
		if (bad_pat(self->map + 2 * self->page, 2 * self->page,
			    self->page, 11) != -1)
			_exit(13);
		_exit(0);
	}
	close(p2c[0]);
	close(c2p[1]);

	ASSERT_EQ(0, recv_u64(c2p[0], &msg));
	if (can_see_pfns()) {
		ASSERT_EQ(pfn_of(self->map + self->page), msg);
	}
	ASSERT_EQ(0, recv_u64(c2p[0], &msg));
	ASSERT_EQ(-1, bad_pat(self->map + self->page, self->page, self->page, 10));
	fill_pat(self->map + 2 * self->page, 2 * self->page, self->page, 11);
	ASSERT_EQ(0, send_u64(p2c[1], 2));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	close(p2c[1]);
	close(c2p[0]);
}

TEST_F(dev, mmap_partial_munmap)
{
	const size_t off = 5 * self->page;
	unsigned char vec;
	uint8_t *p;

	p = mmap(NULL, 3 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, off);
	ASSERT_NE(MAP_FAILED, p);
	fill_pat(self->map, 0, self->size, 12);
	ASSERT_EQ(0, munmap(p + self->page, self->page));

	/* The hole is gone, both sides still map their pages. */
	errno = 0;
	EXPECT_EQ(-1, mincore(p + self->page, self->page, &vec));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_TRUE(died_of(touch_in_child(p + self->page, false), SIGSEGV));
	ASSERT_EQ(-1, bad_pat(p, off, self->page, 12));
	ASSERT_EQ(-1, bad_pat(p + 2 * self->page, off + 2 * self->page,
			      self->page, 12));
	fill_pat(p, off, self->page, 13);
	fill_pat(p + 2 * self->page, off + 2 * self->page, self->page, 14);
	ASSERT_EQ(-1, bad_pat(self->map + off, off, self->page, 13));
	ASSERT_EQ(-1, bad_pat(self->map + off + self->page, off + self->page,
			      self->page, 12));
	ASSERT_EQ(-1, bad_pat(self->map + off + 2 * self->page,
			      off + 2 * self->page, self->page, 14));
	ASSERT_SAME_FRAME(p + 2 * self->page, self->map + off + 2 * self->page);

	ASSERT_EQ(0, munmap(p, self->page));
	ASSERT_EQ(0, munmap(p + 2 * self->page, self->page));
}

TEST_F(dev, mmap_private_einval)
{
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, self->page, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE, 0));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, self->page, PROT_READ, MAP_PRIVATE, 0));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, self->size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE, 0));
	/* The control: the same request shared is fine. */
	EXPECT_EQ(0, try_mmap(self->fd, self->page, PROT_READ | PROT_WRITE,
			      MAP_SHARED, 0));
}

TEST_F(dev, mmap_out_of_range)
{
	const int rw = PROT_READ | PROT_WRITE;
	const size_t size = self->size, page = self->page;
	int ret;

	EXPECT_EQ(-EINVAL, try_mmap(self->fd, page, rw, MAP_SHARED, size));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, size + page, rw, MAP_SHARED, 0));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, 2 * page, rw, MAP_SHARED, size - page));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, page, rw, MAP_SHARED, size + 7 * page));
	/* Offsets whose page index would overflow a careless offset + length. */
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, 2 * page, rw, MAP_SHARED,
				    0x7fffffffffffffffULL & ~(uint64_t)(page - 1)));
	EXPECT_EQ(-EINVAL, try_mmap(self->fd, 2 * page, rw, MAP_SHARED, 1ULL << 63));
	/* So close to 2^64 that the core may refuse first, with EOVERFLOW. */
	ret = try_mmap(self->fd, page, rw, MAP_SHARED, UINT64_MAX & ~(uint64_t)(page - 1));
	EXPECT_TRUE(ret == -EINVAL || ret == -EOVERFLOW) TH_LOG("got %d", ret);

	/* The edges that fit. */
	EXPECT_EQ(0, try_mmap(self->fd, page, rw, MAP_SHARED, size - page));
	EXPECT_EQ(0, try_mmap(self->fd, size, rw, MAP_SHARED, 0));
}

TEST_F(dev, mmap_no_exec)
{
	int ret;

	ret = try_mmap(self->fd, self->page, PROT_READ | PROT_EXEC, MAP_SHARED, 0);
	EXPECT_TRUE(ret == -EPERM || ret == -EINVAL) TH_LOG("got %d", ret);
	ret = try_mmap(self->fd, self->page, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_SHARED, 0);
	EXPECT_TRUE(ret == -EPERM || ret == -EINVAL) TH_LOG("got %d", ret);
	ret = try_mmap(self->fd, self->page, PROT_EXEC, MAP_SHARED, 0);
	EXPECT_TRUE(ret == -EPERM || ret == -EINVAL) TH_LOG("got %d", ret);
}

/* VM_MAYEXEC is cleared, so mprotect cannot add PROT_EXEC later. */
TEST_F(dev, mprotect_no_exec)
{
	uint8_t *p;
	int ret;

	p = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	ret = mprotect(p, 2 * self->page, PROT_READ | PROT_EXEC);
	ASSERT_EQ(-1, ret);
	EXPECT_TRUE(errno == EACCES || errno == EPERM || errno == EINVAL)
		TH_LOG("errno %d", errno);
	ret = mprotect(p, self->page, PROT_EXEC);
	ASSERT_EQ(-1, ret);
	EXPECT_TRUE(errno == EACCES || errno == EPERM || errno == EINVAL)
		TH_LOG("errno %d", errno);

	/* Still an ordinary read-write mapping. */
	p[1] = 0x42;
	EXPECT_EQ(0x42, self->map[1]);
	/* Dropping permissions is fine, only gaining exec is not. */
	EXPECT_EQ(0, mprotect(p, 2 * self->page, PROT_READ));
	EXPECT_EQ(0x42, p[1]);
	munmap(p, 2 * self->page);
}

/* VM_DONTEXPAND: the core refuses to grow the mapping, with EFAULT. */
TEST_F(dev, mremap_grow)
{
	uint8_t *p;
	void *q;

	p = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	errno = 0;
	q = mremap(p, 2 * self->page, 3 * self->page, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	q = mremap(p, 2 * self->page, 3 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	/* Growing one page of a larger mapping is no different. */
	errno = 0;
	q = mremap(p, self->page, 2 * self->page, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);

	/* The old mapping is intact. */
	fill_pat(p, 0, 2 * self->page, 15);
	ASSERT_EQ(-1, bad_pat(self->map, 0, 2 * self->page, 15));
	ASSERT_EQ(-1, first_nonzero(self->map + 2 * self->page, self->page));
	munmap(p, 2 * self->page);
}

TEST_F(dev, mremap_shrink_and_move)
{
	const size_t off = 2 * self->page;
	unsigned char vec[2];
	uint8_t *p, *target;
	void *q;

	fill_pat(self->map, 0, self->size, 16);
	p = mmap(NULL, 4 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, off);
	ASSERT_NE(MAP_FAILED, p);

	q = mremap(p, 4 * self->page, 2 * self->page, 0);
	ASSERT_EQ((void *)p, q);
	errno = 0;
	EXPECT_EQ(-1, mincore(p + 2 * self->page, self->page, vec));
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(-1, bad_pat(p, off, 2 * self->page, 16));

	/* Move it over a reserved range elsewhere. */
	target = mmap(NULL, 2 * self->page, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);
	q = mremap(p, 2 * self->page, 2 * self->page,
		   MREMAP_MAYMOVE | MREMAP_FIXED, target);
	ASSERT_EQ((void *)target, q);
	errno = 0;
	EXPECT_EQ(-1, mincore(p, self->page, vec));
	EXPECT_EQ(ENOMEM, errno);

	ASSERT_EQ(-1, bad_pat(target, off, 2 * self->page, 16));
	ASSERT_SAME_FRAME(target, self->map + off);
	ASSERT_SAME_FRAME(target + self->page, self->map + off + self->page);
	fill_pat(target, off, 2 * self->page, 17);
	ASSERT_EQ(-1, bad_pat(self->map + off, off, 2 * self->page, 17));
	fill_pat(self->map + off, off, self->page, 18);
	ASSERT_EQ(-1, bad_pat(target, off, self->page, 18));
	munmap(target, 2 * self->page);
}

/* ---- an O_RDONLY opener ---- */

TEST_F(dev, rdonly_map_read)
{
	uint8_t *ro;
	int fd;

	fill_pat(self->map, 0, self->size, 19);
	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	ro = mmap(NULL, self->size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ro) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(-1, bad_pat(ro, 0, self->size, 19));
	ASSERT_SAME_FRAME(ro + 5 * self->page, self->map + 5 * self->page);

	/* Later writes by a writer show up at once: the same frames. */
	fill_pat(self->map + self->page, self->page, self->page, 20);
	ASSERT_EQ(-1, bad_pat(ro + self->page, self->page, self->page, 20));

	/* Still MAP_SHARED only. */
	EXPECT_EQ(-EINVAL, try_mmap(fd, self->page, PROT_READ, MAP_PRIVATE, 0));
	munmap(ro, self->size);
	close(fd);
}

TEST_F(dev, rdonly_no_write_access)
{
	uint8_t *ro;
	int fd;

	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EACCES, try_mmap(fd, self->page, PROT_READ | PROT_WRITE,
				    MAP_SHARED, 0));
	EXPECT_EQ(-EACCES, try_mmap(fd, self->page, PROT_WRITE, MAP_SHARED, 0));

	ro = mmap(NULL, 2 * self->page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ro);
	/* VM_MAYWRITE is gone: the mapping can never become writable. */
	errno = 0;
	EXPECT_EQ(-1, mprotect(ro, 2 * self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mprotect(ro, self->page, PROT_WRITE));
	EXPECT_EQ(EACCES, errno);

	/* Closing the fd changes nothing. */
	close(fd);
	errno = 0;
	EXPECT_EQ(-1, mprotect(ro, 2 * self->page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(ro, 2 * self->page);
}

TEST_F(dev, rdonly_write_segv)
{
	uint8_t *ro;
	int fd, status;

	fill_pat(self->map, 0, 2 * self->page, 21);
	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	ro = mmap(NULL, 2 * self->page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ro);

	status = touch_in_child(ro + 10, false);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("reading a read-only mapping failed: %#x", status);
	status = touch_in_child(ro + 10, true);
	ASSERT_TRUE(died_of(status, SIGSEGV)) TH_LOG("status %#x", status);
	status = touch_in_child(ro + self->page + 20, true);
	ASSERT_TRUE(died_of(status, SIGSEGV)) TH_LOG("status %#x", status);

	/* Nothing got through. */
	ASSERT_EQ(-1, bad_pat(self->map, 0, 2 * self->page, 21));
	munmap(ro, 2 * self->page);
	close(fd);
}

TEST_F(dev, rdonly_write_ebadf)
{
	uint8_t buf[16] = { 1, 2, 3 };
	int fd;

	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, buf, sizeof(buf), 100));
	EXPECT_EQ(EBADF, errno);
	/* Reading is what it is for. */
	EXPECT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, first_nonzero(buf, sizeof(buf)));
	EXPECT_EQ(-1, first_nonzero(self->map, self->page));
	close(fd);
}

/* ---- MADV_DONTNEED, then touch: the fault handler maps the same frame ---- */

TEST_F(dev, madv_dontneed)
{
	const size_t len = 4 * self->page;
	uint8_t *m, *buf;
	size_t i;
	int fd2;

	fd2 = shmring_open(O_RDWR);
	ASSERT_LE(0, fd2);
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	fill_pat(buf, 0, len, 22);
	ASSERT_EQ(len, pwrite(fd2, buf, len, 0));

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_TRUE(page_present(m));
	ASSERT_EQ(0, madvise(m, len, MADV_DONTNEED));
	/* The PTEs are really gone, so the touches below take a fault. */
	for (i = 0; i < 4; i++) {
		ASSERT_FALSE(page_present(m + i * self->page)) TH_LOG("page %zu", i);
	}

	/* Read faults: the data, not SIGBUS or a zero page. */
	ASSERT_EQ(-1, bad_pat(m, 0, 2 * self->page, 22));
	/* Write fault: the rest of the page keeps its data. */
	m[2 * self->page + 100] = 0xee;
	buf[2 * self->page + 100] = 0xee;
	ASSERT_EQ(0, memcmp(m + 2 * self->page, buf + 2 * self->page, self->page));
	ASSERT_EQ(0xee, self->map[2 * self->page + 100]);

	/* Written elsewhere while zapped, seen after the fault. */
	fill_pat(self->map + 3 * self->page, 3 * self->page, self->page, 23);
	ASSERT_EQ(-1, bad_pat(m + 3 * self->page, 3 * self->page, self->page, 23));

	for (i = 0; i < 4; i++) {
		ASSERT_SAME_FRAME(m + i * self->page, self->map + i * self->page);
	}

	/* Writes after the fault land in the shared frame. */
	fill_pat(m, 0, self->page, 24);
	ASSERT_EQ(-1, bad_pat(self->map, 0, self->page, 24));
	ASSERT_EQ(self->page, pread(fd2, buf, self->page, 0));
	ASSERT_EQ(-1, bad_pat(buf, 0, self->page, 24));

	/* And once more, on the fixture's own whole-buffer mapping. */
	ASSERT_EQ(0, madvise(self->map, self->size, MADV_DONTNEED));
	ASSERT_EQ(-1, bad_pat(self->map, 0, self->page, 24));
	ASSERT_EQ(-1, first_nonzero(self->map + 4 * self->page,
				    self->size - 4 * self->page));

	free(buf);
	munmap(m, len);
	close(fd2);
}

/* ---- lifetime ---- */

TEST_F(dev, persists_across_reopen)
{
	uint8_t *p, *buf;
	int fd;

	fill_pat(self->map, 0, self->size, 25);
	munmap(self->map, self->size);
	self->map = MAP_FAILED;
	close(self->fd);
	self->fd = -1;

	/* Nothing is open or mapped now; the data must still be there. */
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	buf = malloc(self->size);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(self->size, pread(fd, buf, self->size, 0));
	ASSERT_EQ(-1, bad_pat(buf, 0, self->size, 25));
	p = mmap(NULL, self->size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(-1, bad_pat(p, 0, self->size, 25));
	munmap(p, self->size);
	close(fd);
	free(buf);
}

/* A mapping keeps its pages after every fd is closed. */
TEST_F(dev, mapping_outlives_fd)
{
	uint8_t *p, buf[64];
	int fd2, fd3;

	fd2 = shmring_open(O_RDWR);
	ASSERT_LE(0, fd2);
	p = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd2));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	fill_pat(p, 0, self->size, 26);
	ASSERT_EQ(-1, bad_pat(p, 0, self->size, 26));
	ASSERT_EQ(-1, bad_pat(self->map, 0, self->size, 26));

	fd3 = shmring_open(O_RDWR);
	ASSERT_LE(0, fd3);
	ASSERT_EQ(sizeof(buf), pread(fd3, buf, sizeof(buf), self->size - sizeof(buf)));
	ASSERT_EQ(-1, bad_pat(buf, self->size - sizeof(buf), sizeof(buf), 26));
	fill_pat(buf, 7 * self->page, sizeof(buf), 27);
	ASSERT_EQ(sizeof(buf), pwrite(fd3, buf, sizeof(buf), 7 * self->page));
	ASSERT_EQ(-1, bad_pat(p + 7 * self->page, 7 * self->page, sizeof(buf), 27));
	ASSERT_SAME_FRAME(p + 7 * self->page, self->map + 7 * self->page);
	close(fd3);
	munmap(p, self->size);
}

/* ---- read / write / llseek ---- */

TEST_F(dev, rw_matches_mmap)
{
	const size_t page = self->page, size = self->size;
	const struct { size_t off, len; } io[] = {
		{ 0, 1 },
		{ 1, 100 },
		{ page - 1, 2 },
		{ page - 7, page + 14 },
		{ 3 * page + 5, 3 * page },
		{ size / 2 - 3, 4099 },
		{ size - 100, 100 },
		{ size - 1, 1 },
	};
	uint8_t *buf;
	size_t i;

	buf = malloc(4 * page);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < ARRAY_SIZE(io); i++) {
		uint32_t seed = 100 + i;

		size_t end = io[i].off + io[i].len;
		uint8_t before = 0, after = 0;

		/* Mark the bytes around the range, which must not change. */
		if (io[i].off)
			before = self->map[io[i].off - 1] ^= 0x5a;
		if (end < size)
			after = self->map[end] ^= 0xa5;
		fill_pat(buf, io[i].off, io[i].len, seed);
		ASSERT_EQ(io[i].len, pwrite(self->fd, buf, io[i].len, io[i].off))
			TH_LOG("pwrite %zu@%zu", io[i].len, io[i].off);
		ASSERT_EQ(-1, bad_pat(self->map + io[i].off, io[i].off, io[i].len, seed));
		if (io[i].off) {
			ASSERT_EQ(before, self->map[io[i].off - 1]);
		}
		if (end < size) {
			ASSERT_EQ(after, self->map[end]);
		}

		/* And the other way round. */
		fill_pat(self->map + io[i].off, io[i].off, io[i].len, seed + 50);
		memset(buf, 0, io[i].len);
		ASSERT_EQ(io[i].len, pread(self->fd, buf, io[i].len, io[i].off));
		ASSERT_EQ(-1, bad_pat(buf, io[i].off, io[i].len, seed + 50));
	}
	/* pread/pwrite leave the file position alone. */
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_CUR));

	/* read()/write() advance it. */
	ASSERT_EQ(10, lseek(self->fd, 10, SEEK_SET));
	fill_pat(buf, 10, 300, 200);
	ASSERT_EQ(300, write(self->fd, buf, 300));
	ASSERT_EQ(310, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(-1, bad_pat(self->map + 10, 10, 300, 200));
	fill_pat(self->map + 310, 310, 50, 201);
	ASSERT_EQ(50, read(self->fd, buf, 50));
	ASSERT_EQ(-1, bad_pat(buf, 310, 50, 201));
	ASSERT_EQ(360, lseek(self->fd, 0, SEEK_CUR));
	free(buf);
}

TEST_F(dev, read_eof)
{
	uint8_t buf[64];

	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), self->size));
	EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), self->size + self->page));
	EXPECT_EQ(0, pread(self->fd, buf, 1, self->size));
	ASSERT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_EQ(0, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_EQ(0x77, buf[0]);
	/* A negative offset is the core's EINVAL. */
	errno = 0;
	EXPECT_EQ(-1, pread(self->fd, buf, sizeof(buf), -1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, read_straddle_short)
{
	uint8_t buf[100];

	fill_pat(self->map, 0, self->size, 28);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(40, pread(self->fd, buf, sizeof(buf), self->size - 40));
	ASSERT_EQ(-1, bad_pat(buf, self->size - 40, 40, 28));
	ASSERT_EQ(-1, first_nonzero(buf + 40, sizeof(buf) - 40));

	ASSERT_EQ((off_t)self->size - 1, lseek(self->fd, -1, SEEK_END));
	ASSERT_EQ(1, read(self->fd, buf, sizeof(buf)));
	ASSERT_EQ(pat(self->size - 1, 28), buf[0]);
	ASSERT_EQ(0, read(self->fd, buf, sizeof(buf)));
}

TEST_F(dev, write_at_end_enospc)
{
	uint8_t buf[64];

	memset(buf, 0x33, sizeof(buf));
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), self->size));
	EXPECT_EQ(ENOSPC, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf, 1, self->size));
	EXPECT_EQ(ENOSPC, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), self->size + self->page));
	EXPECT_EQ(ENOSPC, errno);

	ASSERT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_END));
	errno = 0;
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_CUR));
	/* Nothing was written anywhere. */
	EXPECT_EQ(-1, first_nonzero(self->map, self->size));
	/* A negative offset is the core's EINVAL. */
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), -1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, write_straddle_short)
{
	uint8_t buf[100];

	fill_pat(buf, self->size - 40, sizeof(buf), 29);
	ASSERT_EQ(40, pwrite(self->fd, buf, sizeof(buf), self->size - 40));
	ASSERT_EQ(-1, bad_pat(self->map + self->size - 40, self->size - 40, 40, 29));
	ASSERT_EQ(-1, first_nonzero(self->map, self->size - 40));

	/* write() moves to the end, and the next one has no room. */
	ASSERT_EQ((off_t)self->size - 10, lseek(self->fd, -10, SEEK_END));
	memset(buf, 0x44, sizeof(buf));
	ASSERT_EQ(10, write(self->fd, buf, sizeof(buf)));
	ASSERT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(0x44, self->map[self->size - 1]);
	ASSERT_EQ(0x44, self->map[self->size - 10]);
	ASSERT_EQ(pat(self->size - 11, 29), self->map[self->size - 11]);
	errno = 0;
	ASSERT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	ASSERT_EQ(ENOSPC, errno);
}

TEST_F(dev, llseek)
{
	const off_t size = self->size;
	uint8_t c;

	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	ASSERT_EQ(123, lseek(self->fd, 123, SEEK_SET));
	ASSERT_EQ(133, lseek(self->fd, 10, SEEK_CUR));
	ASSERT_EQ(100, lseek(self->fd, -33, SEEK_CUR));
	ASSERT_EQ(100, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(size, lseek(self->fd, 0, SEEK_END));
	ASSERT_EQ(size - 1, lseek(self->fd, -1, SEEK_END));
	ASSERT_EQ(0, lseek(self->fd, -size, SEEK_END));
	ASSERT_EQ(size, lseek(self->fd, size, SEEK_SET));

	/* Beyond the size, or before 0: EINVAL, position unchanged. */
	ASSERT_EQ(50, lseek(self->fd, 50, SEEK_SET));
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, size + 1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, size + self->page, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, 1, SEEK_END));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, size, SEEK_CUR));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, -1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, -51, SEEK_CUR));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, -size - 1, SEEK_END));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, LLONG_MAX, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, 0, 42));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(50, lseek(self->fd, 0, SEEK_CUR));

	/* The position is where read() starts. */
	self->map[size - 1] = 0xab;
	ASSERT_EQ(size - 1, lseek(self->fd, -1, SEEK_END));
	ASSERT_EQ(1, read(self->fd, &c, 1));
	ASSERT_EQ(0xab, c);
}

TEST_F(dev, sequential_odd_chunks)
{
	const size_t chunk = 4093;
	size_t total = 0;
	uint8_t *buf;
	ssize_t n;

	buf = malloc(self->size + chunk);
	ASSERT_NE(NULL, buf);

	/* read() the whole buffer back in odd-sized pieces. */
	fill_pat(self->map, 0, self->size, 30);
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	while ((n = read(self->fd, buf + total, chunk)) > 0) {
		ASSERT_GE(chunk, (size_t)n);
		total += n;
		ASSERT_GE(self->size, total);
	}
	ASSERT_EQ(0, n) TH_LOG("read: %s", strerror(errno));
	ASSERT_EQ(self->size, total);
	ASSERT_EQ(-1, bad_pat(buf, 0, self->size, 30));

	/* And write() it in the same pieces: the last one is short. */
	fill_pat(buf, 0, self->size, 31);
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	total = 0;
	while (total < self->size) {
		n = write(self->fd, buf + total, chunk);
		ASSERT_LT(0, n) TH_LOG("write at %zu: %s", total, strerror(errno));
		total += n;
		if ((size_t)n < chunk)
			break;
	}
	/* Overshooting would mean a write past the end was accepted. */
	ASSERT_EQ(self->size, total);
	errno = 0;
	ASSERT_EQ(-1, write(self->fd, buf, chunk));
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_EQ(-1, bad_pat(self->map, 0, self->size, 31));
	free(buf);
}

/*
 * A bad user buffer gets EFAULT and leaves the device alone: no bytes
 * changed (copy_from_user() zero-fills what it could not copy, so that must
 * never land in the buffer itself) and no position moved.
 */
TEST_F(dev, rw_bad_pointer)
{
	/* volatile, so the compiler cannot see (and refuse) the NULL. */
	uint8_t *volatile null = NULL;
	uint8_t *ro, *none;
	ssize_t ret;
	size_t i;

	ro = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	none = mmap(NULL, self->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	fill_pat(self->map, 0, self->size, 32);

	for (i = 0; i < 8; i++) {
		const char *what;

		errno = 0;
		switch (i) {
		case 0:
			what = "read(NULL)";
			ret = read(self->fd, null, 16);
			break;
		case 1:
			what = "pread(NULL)";
			ret = pread(self->fd, null, 16, 100);
			break;
		case 2:
			what = "read(read-only page)";
			ret = read(self->fd, ro, 64);
			break;
		case 3:
			what = "pread(read-only page)";
			ret = pread(self->fd, ro, 64, self->page - 10);
			break;
		case 4:
			what = "write(NULL)";
			ret = write(self->fd, null, 16);
			break;
		case 5:
			what = "pwrite(NULL)";
			ret = pwrite(self->fd, null, 16, 100);
			break;
		case 6:
			what = "write(PROT_NONE page)";
			ret = write(self->fd, none, 64);
			break;
		default:
			what = "pwrite(PROT_NONE page)";
			ret = pwrite(self->fd, none, 64, self->page - 10);
			break;
		}
		EXPECT_EQ(-1, ret) TH_LOG("%s", what);
		EXPECT_EQ(EFAULT, errno) TH_LOG("%s", what);
		EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR)) TH_LOG("%s moved the position", what);
		EXPECT_EQ(-1, bad_pat(self->map, 0, self->size, 32))
			TH_LOG("%s changed byte %zd of the buffer", what,
			       bad_pat(self->map, 0, self->size, 32));
		EXPECT_EQ(-1, first_nonzero(ro, self->page)) TH_LOG("%s", what);
		/* Undo any damage so the next case is judged on its own. */
		fill_pat(self->map, 0, self->size, 32);
	}
	munmap(ro, self->page);
	munmap(none, self->page);
}

/* ---- fsync, splice and sendfile ---- */

/*
 * A buffer of RAM has nothing to write back: fsync(), fdatasync() and
 * msync(MS_SYNC) succeed for every opener and mapping, and change nothing.
 */
TEST_F(dev, fsync_msync)
{
	static const int modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	const size_t page = self->page;
	uint8_t *p, *ro;
	size_t i;
	int fd;

	fill_pat(self->map, 0, self->size, 33);
	EXPECT_EQ(0, fsync(self->fd)) TH_LOG("fsync: %s", strerror(errno));
	EXPECT_EQ(0, fdatasync(self->fd)) TH_LOG("fdatasync: %s", strerror(errno));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		fd = shmring_open(modes[i]);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, fsync(fd)) TH_LOG("open mode %#x: fsync: %s",
					       modes[i], strerror(errno));
		EXPECT_EQ(0, fdatasync(fd)) TH_LOG("open mode %#x: fdatasync: %s",
						   modes[i], strerror(errno));
		close(fd);
	}

	/* The whole mapping, part of it, and either kind of msync. */
	EXPECT_EQ(0, msync(self->map, self->size, MS_SYNC))
		TH_LOG("msync(MS_SYNC): %s", strerror(errno));
	EXPECT_EQ(0, msync(self->map + 3 * page, page, MS_SYNC | MS_INVALIDATE))
		TH_LOG("msync(MS_SYNC | MS_INVALIDATE): %s", strerror(errno));
	EXPECT_EQ(0, msync(self->map, self->size, MS_ASYNC));

	/* A mapping whose fd is closed still has its file. */
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 5 * page);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	EXPECT_EQ(0, msync(p, 2 * page, MS_SYNC)) TH_LOG("%s", strerror(errno));
	munmap(p, 2 * page);

	fd = shmring_open(O_RDONLY);
	ASSERT_LE(0, fd);
	ro = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(0, msync(ro, page, MS_SYNC)) TH_LOG("%s", strerror(errno));
	munmap(ro, page);
	close(fd);

	EXPECT_EQ(-1, bad_pat(self->map, 0, self->size, 33));
}

/* sendfile() until @len bytes or a short count; the total, or -errno. */
static ssize_t sendfile_all(int out, int in, off_t *off, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = sendfile(out, in, off, len - done);
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

static int memfd(size_t size)
{
	int fd = memfd_create("shmring-splice", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(dev, sendfile_from_device)
{
	const size_t page = self->page, size = self->size;
	int mfd, pfd[2], wfd;
	uint8_t *out, *buf;
	off_t off;

	buf = malloc(4 * page);
	ASSERT_NE(NULL, buf);
	fill_pat(self->map, 0, size, 34);
	mfd = memfd(0);
	ASSERT_LE(0, mfd);

	/* All of it. With an offset, the device's position stays put. */
	off = 0;
	ASSERT_EQ((ssize_t)size, sendfile_all(mfd, self->fd, &off, size));
	ASSERT_EQ((off_t)size, off);
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	out = mmap(NULL, size, PROT_READ, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, out);
	ASSERT_EQ(-1, bad_pat(out, 0, size, 34));
	munmap(out, size);

	/* Without one, it reads at the position and moves it. */
	ASSERT_EQ(0, ftruncate(mfd, 0));
	ASSERT_EQ(0, lseek(mfd, 0, SEEK_SET));
	ASSERT_EQ((off_t)(3 * page + 5), lseek(self->fd, 3 * page + 5, SEEK_SET));
	ASSERT_EQ(1000, sendfile(mfd, self->fd, NULL, 1000));
	ASSERT_EQ((off_t)(3 * page + 1005), lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(1000, pread(mfd, buf, 1000, 0));
	ASSERT_EQ(-1, bad_pat(buf, 3 * page + 5, 1000, 34));

	/* Across the end it is short; at and after the end it is EOF. */
	ASSERT_EQ(0, ftruncate(mfd, 0));
	ASSERT_EQ(0, lseek(mfd, 0, SEEK_SET));
	off = size - 10;
	ASSERT_EQ(10, sendfile(mfd, self->fd, &off, 100));
	ASSERT_EQ((off_t)size, off);
	ASSERT_EQ(10, pread(mfd, buf, 100, 0));
	ASSERT_EQ(-1, bad_pat(buf, size - 10, 10, 34));
	ASSERT_EQ(0, sendfile(mfd, self->fd, &off, 100));
	ASSERT_EQ((off_t)size, off);
	off = size + page;
	ASSERT_EQ(0, sendfile(mfd, self->fd, &off, 100));
	off = -1;
	errno = 0;
	ASSERT_EQ(-1, sendfile(mfd, self->fd, &off, 100));
	ASSERT_EQ(EINVAL, errno);

	/* Into a pipe, which takes the splice path directly. */
	ASSERT_EQ(0, pipe(pfd));
	off = page - 3;
	ASSERT_EQ((ssize_t)(2 * page), sendfile(pfd[1], self->fd, &off, 2 * page));
	ASSERT_EQ((ssize_t)(2 * page), read(pfd[0], buf, 4 * page));
	ASSERT_EQ(-1, bad_pat(buf, page - 3, 2 * page, 34));

	/* Reading needs read access. */
	wfd = shmring_open(O_WRONLY);
	ASSERT_LE(0, wfd);
	off = 0;
	errno = 0;
	ASSERT_EQ(-1, sendfile(mfd, wfd, &off, 100));
	ASSERT_EQ(EBADF, errno);

	close(wfd);
	close(pfd[0]);
	close(pfd[1]);
	close(mfd);
	free(buf);
}

TEST_F(dev, splice_to_pipe)
{
	const size_t page = self->page, size = self->size, len = 3000;
	const off_t at = 2 * page - 7;
	int pfd[2], wfd;
	uint8_t *buf;
	off_t off;

	buf = malloc(8 * page);
	ASSERT_NE(NULL, buf);
	fill_pat(self->map, 0, size, 35);
	ASSERT_EQ(0, pipe(pfd));

	/* Across a page boundary, with an offset: the position stays. */
	off = at;
	ASSERT_EQ((ssize_t)len, splice(self->fd, &off, pfd[1], NULL, len, 0))
		TH_LOG("splice: %s", strerror(errno));
	ASSERT_EQ(at + (off_t)len, off);
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	/* The pipe holds a copy, as read() would: later stores stay out. */
	fill_pat(self->map + at, at, len, 36);
	ASSERT_EQ((ssize_t)len, read(pfd[0], buf, 8 * page));
	ASSERT_EQ(-1, bad_pat(buf, at, len, 35));

	/* Several whole pages. */
	off = 8 * page;
	ASSERT_EQ((ssize_t)(8 * page), splice(self->fd, &off, pfd[1], NULL,
					       8 * page, 0));
	ASSERT_EQ((ssize_t)(8 * page), read(pfd[0], buf, 8 * page));
	ASSERT_EQ(-1, bad_pat(buf, 8 * page, 8 * page, 35));

	/* Without an offset: from the position, which moves. */
	ASSERT_EQ(100, lseek(self->fd, 100, SEEK_SET));
	ASSERT_EQ(50, splice(self->fd, NULL, pfd[1], NULL, 50, 0));
	ASSERT_EQ(150, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(50, read(pfd[0], buf, 8 * page));
	ASSERT_EQ(-1, bad_pat(buf, 100, 50, 35));

	/* Short across the end, EOF at and after it. */
	off = size - 10;
	ASSERT_EQ(10, splice(self->fd, &off, pfd[1], NULL, 100, 0));
	ASSERT_EQ((off_t)size, off);
	ASSERT_EQ(10, read(pfd[0], buf, 8 * page));
	ASSERT_EQ(-1, bad_pat(buf, size - 10, 10, 35));
	ASSERT_EQ(0, splice(self->fd, &off, pfd[1], NULL, 100, 0));
	off = size + page;
	ASSERT_EQ(0, splice(self->fd, &off, pfd[1], NULL, 100, 0));

	/* Reading needs read access. */
	wfd = shmring_open(O_WRONLY);
	ASSERT_LE(0, wfd);
	off = 0;
	errno = 0;
	ASSERT_EQ(-1, splice(wfd, &off, pfd[1], NULL, 100, 0));
	ASSERT_EQ(EBADF, errno);

	close(wfd);
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
}

TEST_F(dev, splice_from_pipe)
{
	const size_t page = self->page, size = self->size, len = 3 * page + 11;
	const off_t at = page + 3;
	int pfd[2], mfd, rfd;
	uint8_t *buf;
	off_t off, in;

	buf = malloc(4 * page);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(pfd));

	/* Into the middle, with an offset: exactly those bytes change. */
	fill_pat(buf, at, len, 37);
	ASSERT_EQ((ssize_t)len, write(pfd[1], buf, len));
	off = at;
	ASSERT_EQ((ssize_t)len, splice(pfd[0], NULL, self->fd, &off, len, 0))
		TH_LOG("splice: %s", strerror(errno));
	ASSERT_EQ(at + (off_t)len, off);
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(-1, bad_pat(self->map + at, at, len, 37));
	ASSERT_EQ(-1, first_nonzero(self->map, at));
	ASSERT_EQ(-1, first_nonzero(self->map + at + len, size - at - len));

	/* Across the end it is short; the rest stays in the pipe. */
	fill_pat(buf, size - 10, 100, 38);
	ASSERT_EQ(100, write(pfd[1], buf, 100));
	off = size - 10;
	ASSERT_EQ(10, splice(pfd[0], NULL, self->fd, &off, 100, 0));
	ASSERT_EQ((off_t)size, off);
	ASSERT_EQ(-1, bad_pat(self->map + size - 10, size - 10, 10, 38));
	/* At the end: ENOSPC, and nothing is taken from the pipe. */
	errno = 0;
	ASSERT_EQ(-1, splice(pfd[0], NULL, self->fd, &off, 90, 0));
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_EQ(90, read(pfd[0], buf, 4 * page));
	ASSERT_EQ(-1, bad_pat(buf, size, 90, 38));

	/* sendfile() into the device writes at its position. */
	mfd = memfd(2 * page);
	ASSERT_LE(0, mfd);
	fill_pat(buf, 5 * page + 1, 2 * page, 39);
	ASSERT_EQ((ssize_t)(2 * page), pwrite(mfd, buf, 2 * page, 0));
	ASSERT_EQ((off_t)(5 * page + 1), lseek(self->fd, 5 * page + 1, SEEK_SET));
	in = 0;
	ASSERT_EQ((ssize_t)(2 * page), sendfile_all(self->fd, mfd, &in, 2 * page));
	ASSERT_EQ((off_t)(7 * page + 1), lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(-1, bad_pat(self->map + 5 * page + 1, 5 * page + 1, 2 * page, 39));
	ASSERT_EQ(0, self->map[5 * page]);
	ASSERT_EQ(0, self->map[7 * page + 1]);
	/* Short across the end, then ENOSPC. */
	ASSERT_EQ((off_t)size - 10, lseek(self->fd, -10, SEEK_END));
	in = 0;
	ASSERT_EQ(10, sendfile(self->fd, mfd, &in, 100));
	ASSERT_EQ((off_t)size, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ(-1, bad_pat(self->map + size - 10, 5 * page + 1, 10, 39));
	errno = 0;
	ASSERT_EQ(-1, sendfile(self->fd, mfd, &in, 100));
	ASSERT_EQ(ENOSPC, errno);

	/* Writing needs write access. */
	rfd = shmring_open(O_RDONLY);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(10, write(pfd[1], buf, 10));
	off = 0;
	errno = 0;
	ASSERT_EQ(-1, splice(pfd[0], NULL, rfd, &off, 10, 0));
	ASSERT_EQ(EBADF, errno);
	in = 0;
	errno = 0;
	ASSERT_EQ(-1, sendfile(rfd, mfd, &in, 10));
	ASSERT_EQ(EBADF, errno);
	ASSERT_EQ(0x00, self->map[0]);

	close(rfd);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
}

/* ---- threads racing open/mmap/munmap/close against read/write/llseek ---- */

#define RACE_SECONDS	3
#define RACE_MAPPERS	3
#define RACE_RW		2
#define RACE_OWNERS	(RACE_MAPPERS + RACE_RW)
#define RACE_MAX_PAGES	8

struct race {
	int fd;			/* shared by the read/write/llseek threads */
	size_t size, page, nr_pages;
	uint8_t *map;		/* a whole-buffer mapping that stays put */
	uint32_t *expect;	/* per page; written only by the page's owner */
	int stop;
	int errors;
	pthread_mutex_t lock;
	char msg[256];
};

struct racer {
	struct race *r;
	int id;
	unsigned int seed;
	uint32_t seq;
	unsigned long ops;
	pthread_t thread;
};

static void race_fail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->errors++) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
}

static bool race_stopped(struct race *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_RELAXED);
}

/* Page @pg belongs to one racer, which alone writes it. */
static int race_owner(size_t pg)
{
	return pg % RACE_OWNERS;
}

/* The owner fills its pages with one word: its id in the top byte. */
static uint32_t race_next(struct racer *t)
{
	t->seq = (t->seq + 1) & 0xffffff;
	if (!t->seq)
		t->seq = 1;
	return ((uint32_t)(t->id + 1) << 24) | t->seq;
}

static void fill_words(void *p, size_t len, uint32_t v)
{
	uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = v;
}

static bool holds_words(const void *p, size_t len, uint32_t v)
{
	const uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] != v)
			return false;
	return true;
}

/* A page someone else owns may be mid-update, but only by its owner. */
static bool plausible(const void *p, size_t len, int owner)
{
	const uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i += 61) {
		if (w[i] && w[i] >> 24 != (uint32_t)owner + 1)
			return false;
	}
	return true;
}

static void *race_mapper(void *arg)
{
	struct racer *t = arg;
	struct race *r = t->r;
	uint8_t *buf = malloc(r->page);

	if (!buf) {
		race_fail(r, "mapper %d: no memory", t->id);
		return NULL;
	}
	while (!race_stopped(r)) {
		size_t pg = rand_r(&t->seed) % r->nr_pages;
		size_t max = r->nr_pages - pg, n, i;
		uint8_t *p;
		int fd;

		if (max > RACE_MAX_PAGES)
			max = RACE_MAX_PAGES;
		n = 1 + rand_r(&t->seed) % max;
		fd = shmring_open(O_RDWR);
		if (fd < 0) {
			race_fail(r, "mapper %d: open: %s", t->id, strerror(errno));
			break;
		}
		p = mmap(NULL, n * r->page, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, pg * r->page);
		if (p == MAP_FAILED) {
			race_fail(r, "mapper %d: mmap %zu@%zu: %s", t->id, n, pg,
				  strerror(errno));
			close(fd);
			break;
		}
		/* Half the time the mapping has to live on without its fd. */
		if (rand_r(&t->seed) & 1) {
			close(fd);
			fd = -1;
		}
		for (i = 0; i < n; i++) {
			size_t q = pg + i;
			uint8_t *pp = p + i * r->page;
			uint32_t v;

			if (race_owner(q) != t->id) {
				if (!plausible(pp, r->page, race_owner(q)))
					race_fail(r, "mapper %d: page %zu garbled",
						  t->id, q);
				continue;
			}
			if (!holds_words(pp, r->page, r->expect[q]))
				race_fail(r, "mapper %d: page %zu lost %#x",
					  t->id, q, r->expect[q]);
			v = race_next(t);
			fill_words(pp, r->page, v);
			r->expect[q] = v;
			/* The file view sees the store at once. */
			if (pread(fd >= 0 ? fd : r->fd, buf, r->page, q * r->page) !=
			    (ssize_t)r->page || !holds_words(buf, r->page, v))
				race_fail(r, "mapper %d: pread of page %zu", t->id, q);
		}
		if (munmap(p, n * r->page))
			race_fail(r, "mapper %d: munmap: %s", t->id, strerror(errno));
		if (fd >= 0 && close(fd))
			race_fail(r, "mapper %d: close: %s", t->id, strerror(errno));
		t->ops++;
	}
	free(buf);
	return NULL;
}

static void *race_rw(void *arg)
{
	struct racer *t = arg;
	struct race *r = t->r;
	size_t per_owner = r->nr_pages / RACE_OWNERS;
	uint8_t *buf = malloc(r->page);

	if (!buf) {
		race_fail(r, "rw %d: no memory", t->id);
		return NULL;
	}
	while (!race_stopped(r)) {
		size_t q = (rand_r(&t->seed) % per_owner) * RACE_OWNERS + t->id;
		off_t off = q * r->page;
		uint32_t v;

		if (pread(r->fd, buf, r->page, off) != (ssize_t)r->page ||
		    !holds_words(buf, r->page, r->expect[q])) {
			race_fail(r, "rw %d: page %zu lost %#x", t->id, q, r->expect[q]);
			break;
		}
		v = race_next(t);
		fill_words(buf, r->page, v);
		if (pwrite(r->fd, buf, r->page, off) != (ssize_t)r->page) {
			race_fail(r, "rw %d: pwrite: %s", t->id, strerror(errno));
			break;
		}
		r->expect[q] = v;
		/* The mapping sees the write at once. */
		if (!holds_words(r->map + off, r->page, v))
			race_fail(r, "rw %d: mapping missed page %zu", t->id, q);
		t->ops++;
	}
	free(buf);
	return NULL;
}

/* The only user of the shared fd's position. */
static void *race_seek(void *arg)
{
	struct racer *t = arg;
	struct race *r = t->r;
	uint8_t *buf = malloc(r->page);

	if (!buf) {
		race_fail(r, "seek: no memory");
		return NULL;
	}
	while (!race_stopped(r)) {
		size_t q = rand_r(&t->seed) % r->nr_pages;
		off_t off = q * r->page, got;

		got = lseek(r->fd, off, SEEK_SET);
		if (got != off) {
			race_fail(r, "seek: SEEK_SET %jd gave %jd", (intmax_t)off,
				  (intmax_t)got);
			break;
		}
		if (read(r->fd, buf, r->page) != (ssize_t)r->page ||
		    !plausible(buf, r->page, race_owner(q)))
			race_fail(r, "seek: read of page %zu", q);
		if (lseek(r->fd, 0, SEEK_END) != (off_t)r->size ||
		    lseek(r->fd, -1, SEEK_CUR) != (off_t)r->size - 1)
			race_fail(r, "seek: SEEK_END/SEEK_CUR");
		if (lseek(r->fd, r->size + 1, SEEK_SET) != -1 || errno != EINVAL)
			race_fail(r, "seek: beyond the end accepted");
		t->ops++;
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(dev, race_mmap_munmap_close, 120)
{
	struct racer t[RACE_OWNERS + 1];
	struct race r = {
		.fd = self->fd, .size = self->size, .page = self->page,
		.nr_pages = self->nr_pages, .map = self->map,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct shmring_info info;
	int64_t end;
	uint8_t *buf;
	size_t q;
	int i;

	ASSERT_LE(RACE_OWNERS * 2, self->nr_pages);
	r.expect = calloc(self->nr_pages, sizeof(*r.expect));
	ASSERT_NE(NULL, r.expect);

	for (i = 0; i <= RACE_OWNERS; i++) {
		void *(*fn)(void *) = i < RACE_MAPPERS ? race_mapper :
				      i < RACE_OWNERS ? race_rw : race_seek;

		t[i] = (struct racer){ .r = &r, .id = i, .seed = 0x5eed + i };
		ASSERT_EQ(0, pthread_create(&t[i].thread, NULL, fn, &t[i]));
	}
	end = now_ns() + RACE_SECONDS * NSEC_PER_SEC;
	while (now_ns() < end && !race_stopped(&r))
		usleep(10000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i <= RACE_OWNERS; i++)
		pthread_join(t[i].thread, NULL);

	ASSERT_EQ(0, r.errors) TH_LOG("%d errors, first: %s", r.errors, r.msg);
	for (i = 0; i <= RACE_OWNERS; i++) {
		ASSERT_LT(0, t[i].ops) TH_LOG("racer %d never ran", i);
		TH_LOG("racer %d: %lu rounds", i, t[i].ops);
	}

	/* Every page ends up with exactly what its owner last wrote. */
	buf = malloc(self->page);
	ASSERT_NE(NULL, buf);
	for (q = 0; q < self->nr_pages; q++) {
		ASSERT_TRUE(holds_words(self->map + q * self->page, self->page,
					r.expect[q])) TH_LOG("page %zu", q);
		ASSERT_EQ(self->page, pread(self->fd, buf, self->page, q * self->page));
		ASSERT_TRUE(holds_words(buf, self->page, r.expect[q])) TH_LOG("page %zu", q);
	}
	ASSERT_EQ(0, shmring_get_info(self->fd, &info));
	ASSERT_EQ(self->size, info.size);
	free(buf);
	free(r.expect);
}

TEST_HARNESS_MAIN
