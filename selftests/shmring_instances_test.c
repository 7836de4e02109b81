// SPDX-License-Identifier: GPL-2.0
/*
 * Named instances: /dev/shmring-control's CREATE and DESTROY, the nodes
 * /dev/shmrings/NAME, and every rule of the uapi header about them: names,
 * sizes, modes, owners, per-user limits, isolation, destroy while mapped,
 * memory cgroup accounting, WAIT/WAKE, watch fds and release actions per
 * instance, and rmmod with instances alive.
 *
 * Runs as root; switches to uid 1000 (shmring-user, in group 999) and
 * 65534 (nobody) in forked children. Every instance it makes is named
 * "kst-*" and destroyed by the fixture's teardown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

#define PARAM_DIR	MOD_SYSFS "/parameters/"
#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP_NAME	"shmring-kst"
#define CGROUP_TEST	CGROUP_ROOT "/" CGROUP_NAME

#define USER_UID	1000	/* shmring-user */
#define USER_GID	999	/* shmring, its supplementary group */
#define NOBODY		65534

static int create_owned(const char *name, uint64_t size, uint32_t mode,
			uint32_t uid, uint32_t gid)
{
	struct shmring_create c;

	shmring_fill_create(&c, name, size, mode);
	c.uid = uid;
	c.gid = gid;
	return shmring_inst_create_full(&c);
}

/* The first line of a sysfs file, without its newline; "" if unreadable. */
static const char *read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void set_param(const char *name, unsigned long long val)
{
	char path[128], num[32];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	snprintf(num, sizeof(num), "%llu", val);
	write_file(path, num);
}

/*
 * Forks a child that becomes @uid with primary group @gid and @gid as its
 * only supplementary group; returns its pid to the parent, 0 in the child.
 */
static pid_t as_user(uid_t uid, gid_t gid)
{
	pid_t pid = spawn();

	if (pid)
		return pid;
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		_exit(120);
	return 0;
}

/* The child's exit code, or 255 if it did not exit. */
static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 255;
	return WEXITSTATUS(st);
}

/* A child's result: 0 for success, else errno, as an exit code. */
static int code(int ret)
{
	return ret < 0 ? -ret : 0;
}

static const char * const test_names[] = {
	"kst-a", "kst-b", "kst-c", "kst-d", "kst-user", "kst-user2",
	"kst-user3", "kst-cg", "kst-mapped", "kst-node", "kst-big",
	"A-z_0.9", "kst-123456789012345678901234567",
};

FIXTURE(inst) {
	size_t page;
};

FIXTURE_SETUP(inst)
{
	size_t i;

	self->page = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, geteuid()) TH_LOG("the instance tests need root");
	if (access(SHMRING_CONTROL_DEV, F_OK))
		SKIP(return, "no %s: a module without instances", SHMRING_CONTROL_DEV);
	for (i = 0; i < ARRAY_SIZE(test_names); i++)
		shmring_inst_destroy(test_names[i]);
}

FIXTURE_TEARDOWN(inst)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(test_names); i++)
		shmring_inst_destroy(test_names[i]);
	set_param("user_instances", 16);
	set_param("user_bytes", 256ULL << 20);
}

/* The default device announces instances; ABI 2 stays ABI 2. */
TEST_F(inst, default_info)
{
	struct shmring_info info;
	struct stat st;
	int fd;

	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, shmring_get_info(fd, &info));
	EXPECT_EQ(2, info.abi_version);
	EXPECT_EQ(SHMRING_FEATURE_WATCH | SHMRING_FEATURE_RELEASE |
		  SHMRING_FEATURE_INSTANCES, info.features);
	close(fd);
	ASSERT_EQ(0, stat(SHMRING_CONTROL_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
	EXPECT_EQ(96U, sizeof(struct shmring_create));
	EXPECT_EQ(56U, sizeof(struct shmring_destroy));
}

/* Create, open, INFO, mmap zeroed pages, read/write, destroy. */
TEST_F(inst, create_open_map_destroy)
{
	struct shmring_info info;
	size_t size = 16 * self->page, i;
	uint8_t *map, buf[8];
	char line[256];
	struct stat st;
	int fd, fd2;

	ASSERT_EQ(0, shmring_inst_create("kst-a", size, 0640));
	ASSERT_EQ(0, shmring_inst_stat("kst-a", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ((long long)size, read_num("/sys/class/shmring/kst-a/size"));
	EXPECT_EQ(-1, read_num("/sys/class/shmring/kst-a/numa_node"));
	EXPECT_EQ(0, read_num("/sys/class/shmring/kst-a/creator"));
	/* Charged to this process's memory cgroup, a path in its hierarchy. */
	EXPECT_EQ('/', read_line("/sys/class/shmring/kst-a/memcg", line,
				 sizeof(line))[0]) TH_LOG("memcg '%s'", line);
	EXPECT_EQ(0, read_num("/sys/class/shmring/kst-a/users"));

	fd = shmring_inst_open("kst-a", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1, read_num("/sys/class/shmring/kst-a/users"));
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-instance:", line, sizeof(line)));
	EXPECT_STREQ("shmring-instance:\tkst-a\n", line);
	ASSERT_EQ(0, shmring_get_info(fd, &info));
	EXPECT_EQ(size, info.size);
	EXPECT_EQ(self->page, info.page_size);
	EXPECT_EQ(2, info.abi_version);
	EXPECT_EQ(0, info.nr_waiters);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (i = 0; i < size; i++)
		if (map[i])
			break;
	EXPECT_EQ(size, i) TH_LOG("byte %zu not zero", i);
	memcpy(map + size - 8, "instance", 8);
	ASSERT_EQ(8, pread(fd, buf, 8, size - 8));
	EXPECT_EQ(0, memcmp(buf, "instance", 8));
	/* A second open, then the mapping alone keeps one file. */
	fd2 = shmring_inst_open("kst-a", O_RDONLY);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(2, read_num("/sys/class/shmring/kst-a/users"));
	close(fd2);
	EXPECT_EQ(1, read_num("/sys/class/shmring/kst-a/users"));
	/* The same bounds as the default device. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size + self->page, PROT_READ,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->page, PROT_READ, MAP_PRIVATE,
				   fd, 0));
	close(fd);
	EXPECT_EQ(1, read_num("/sys/class/shmring/kst-a/users"));
	munmap(map, size);
	EXPECT_EQ(0, read_num("/sys/class/shmring/kst-a/users"));

	EXPECT_EQ(0, shmring_inst_destroy("kst-a"));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-a", &st));
	EXPECT_EQ(-1, shmring_inst_open("kst-a", O_RDWR));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-ENOENT, shmring_inst_destroy("kst-a"));
	/* The ioctls of the control device are not the buffer's. */
	fd = shmring_ctl_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_INFO, &info));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fdinfo_lines(fd, "shmring-instance:", line, sizeof(line)));
	EXPECT_STREQ("shmring-instance:\t-\n", line);
	{
		struct shmring_create c;

		shmring_fill_create(&c, "kst-a", size, 0600);
		EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_CREATE, &c));
		EXPECT_EQ(ENOTTY, errno);
	}
	close(fd);
}

/* Sizes round up to pages; 0 and above 1 GiB are EINVAL. */
TEST_F(inst, sizes)
{
	struct shmring_info info;
	int fd;

	ASSERT_EQ(0, shmring_inst_create("kst-a", 1, 0600));
	fd = shmring_inst_open("kst-a", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, shmring_get_info(fd, &info));
	EXPECT_EQ(self->page, info.size);
	close(fd);
	ASSERT_EQ(0, shmring_inst_create("kst-b", self->page + 1, 0600));
	fd = shmring_inst_open("kst-b", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, shmring_get_info(fd, &info));
	EXPECT_EQ(2 * self->page, info.size);
	close(fd);
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-c", 0, 0600));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-c", (1ULL << 30) + 1, 0600));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-c", UINT64_MAX, 0600));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-c", 1ULL << 63, 0600));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-c", &(struct stat){}));
}

/* Names: the charset, the length, the padding; EEXIST; reuse. */
TEST_F(inst, names)
{
	static const char * const bad[] = {
		"", ".", "..", "a/b", "/", "-x", ".hidden", "a b", "a\tb",
		"a\nb", "caf\xc3\xa9", "a:b", "a*", "../x", "a\\b",
		"12345678901234567890123456789012",	/* 32: no room for NUL */
	};
	struct shmring_create c;
	struct shmring_destroy d;
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		shmring_fill_create(&c, "x", self->page, 0600);
		memset(c.name, 0, sizeof(c.name));
		memcpy(c.name, bad[i], strlen(bad[i]));
		EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c)) TH_LOG("name \"%s\"", bad[i]);
	}
	/* Bytes after the NUL must be zero. */
	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.name[10] = 'x';
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));

	EXPECT_EQ(0, shmring_inst_create("A-z_0.9", self->page, 0600));
	EXPECT_EQ(0, shmring_inst_stat("A-z_0.9", &(struct stat){}));
	/* 31 characters, the longest. */
	EXPECT_EQ(0, shmring_inst_create("kst-123456789012345678901234567",
					 self->page, 0600));
	EXPECT_EQ(0, shmring_inst_stat("kst-123456789012345678901234567",
				       &(struct stat){}));

	EXPECT_EQ(0, shmring_inst_create("kst-a", self->page, 0600));
	EXPECT_EQ(-EEXIST, shmring_inst_create("kst-a", self->page, 0600));
	EXPECT_EQ(-EEXIST, shmring_inst_create("kst-a", 2 * self->page, 0644));
	EXPECT_EQ(0, shmring_inst_destroy("kst-a"));
	EXPECT_EQ(0, shmring_inst_create("kst-a", 2 * self->page, 0600));

	/* DESTROY's name is checked alike. */
	fd = shmring_ctl_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&d, 0, sizeof(d));
		memcpy(d.name, bad[i], strlen(bad[i]));
		EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, &d));
		EXPECT_EQ(EINVAL, errno) TH_LOG("name \"%s\"", bad[i]);
	}
	close(fd);
	EXPECT_EQ(-ENOENT, shmring_inst_destroy("kst-nothing"));
}

/* Every reserved field and flag, bad modes, node numbers, EFAULT. */
TEST_F(inst, hostile_args)
{
	struct shmring_create c;
	struct shmring_destroy d;
	size_t i;
	int fd;

	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.flags = 1U << 1;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	c.flags = ~0U;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.reserved0 = 1;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	for (i = 0; i < 4; i++) {
		shmring_fill_create(&c, "kst-a", self->page, 0600);
		c.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	}
	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.node = 1;	/* without SHMRING_CREATE_NODE */
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.flags = SHMRING_CREATE_NODE;
	c.node = -1;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	c.node = 1 << 20;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));
	c.node = INT32_MIN;
	EXPECT_EQ(-EINVAL, shmring_inst_create_full(&c));

	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-a", self->page, 0));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-a", self->page, 01000));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-a", self->page, 04600));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-a", self->page, 0170600));
	EXPECT_EQ(-EINVAL, shmring_inst_create("kst-a", self->page, ~0U));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-a", &(struct stat){}));

	fd = shmring_ctl_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_CREATE, (void *)-4096L));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOW(SHMRING_IOC_MAGIC, 10, struct shmring_create),
			    &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_WAKE, &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->page, PROT_READ, MAP_SHARED,
				   fd, 0));

	memset(&d, 0, sizeof(d));
	memcpy(d.name, "kst-a", 5);
	d.flags = 1;
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	d.flags = 0;
	d.reserved0 = 1;
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	d.reserved0 = 0;
	d.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, &d));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	/* An argument straddling into a PROT_NONE page, or inside it. */
	{
		uint8_t *two = mmap(NULL, 2 * self->page, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct shmring_create *edge;

		ASSERT_NE(MAP_FAILED, two);
		ASSERT_EQ(0, mprotect(two + self->page, self->page, PROT_NONE));
		edge = (void *)(two + self->page - sizeof(*edge) + 8);
		fd = shmring_ctl_open();
		ASSERT_LE(0, fd);
		EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_CREATE, edge));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_CREATE, two + self->page));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY,
				    two + self->page - 8));
		EXPECT_EQ(EFAULT, errno);
		/* A valid argument in a read-only page works. */
		edge = (void *)two;
		shmring_fill_create(edge, "kst-a", self->page, 0600);
		ASSERT_EQ(0, mprotect(two, self->page, PROT_READ));
		EXPECT_EQ(0, ioctl(fd, SHMRING_IOC_CREATE, edge));
		EXPECT_EQ(0, shmring_inst_destroy("kst-a"));
		close(fd);
		munmap(two, 2 * self->page);
	}

	/* Every other command of the magic, and random ones: ENOTTY. */
	{
		uint32_t seed = 0xc0ffee;
		unsigned int nr;
		int n;

		fd = shmring_ctl_open();
		ASSERT_LE(0, fd);
		for (nr = 0; nr < 256; nr++) {
			unsigned long cmd = _IOC(_IOC_WRITE, SHMRING_IOC_MAGIC,
						 nr, sizeof(c));

			if (cmd == SHMRING_IOC_CREATE)
				continue;
			shmring_fill_create(&c, "kst-a", self->page, 0600);
			EXPECT_EQ(-1, ioctl(fd, cmd, &c));
			EXPECT_EQ(ENOTTY, errno) TH_LOG("nr %u", nr);
		}
		for (n = 0; n < 20000; n++) {
			unsigned long cmd = xorshift(&seed);

			if (cmd == SHMRING_IOC_CREATE || cmd == SHMRING_IOC_DESTROY)
				continue;
			EXPECT_EQ(-1, ioctl(fd, cmd, &c));
		}
		close(fd);
		EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-a", &(struct stat){}));
	}

	/* Random bytes, many times: never a crash, never an instance. */
	{
		uint32_t seed = 0x5eed;
		int n, made = 0;

		fd = shmring_ctl_open();
		ASSERT_LE(0, fd);
		for (n = 0; n < 20000; n++) {
			uint32_t *w = (uint32_t *)&c;

			for (i = 0; i < sizeof(c) / 4; i++)
				w[i] = xorshift(&seed);
			made += !ioctl(fd, SHMRING_IOC_CREATE, &c);
			for (i = 0; i < sizeof(d) / 4; i++)
				((uint32_t *)&d)[i] = xorshift(&seed);
			EXPECT_EQ(-1, ioctl(fd, SHMRING_IOC_DESTROY, &d));
		}
		close(fd);
		EXPECT_EQ(0, made);
	}
}

/* The node of each of the @n pages at @p, by move_pages(2); -1 if unknown. */
static int pages_node(void *p, size_t page, int n)
{
	void *pages[16];
	int status[16], i, node = -2;

	if (n > 16)
		return -1;
	for (i = 0; i < n; i++)
		pages[i] = (char *)p + i * page;
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0))
		return -1;
	for (i = 0; i < n; i++) {
		if (status[i] < 0 || (node != -2 && status[i] != node))
			return -1;
		node = status[i];
	}
	return node;
}

/*
 * A NUMA node with memory: every page of the instance comes from it. One
 * without memory: ENODEV. make check boots its guests with three nodes
 * (guest/lib.sh, GUEST_NUMA), two with memory and one with a CPU and none,
 * and sets SHMRING_EXPECT_NUMA=1, so that both kinds must be seen there.
 */
TEST_F(inst, numa_node)
{
	char possible[256], memory[256];
	const char *expect = getenv("SHMRING_EXPECT_NUMA");
	int node, with[2] = { -1, -1 }, nr_with = 0, none = -1, fd, i;
	struct shmring_create c;
	void *map;

	/* Without NUMA, node 0 is the only one, with all the memory. */
	if (!*read_line("/sys/devices/system/node/possible", possible,
			sizeof(possible)))
		strcpy(possible, "0");
	if (!*read_line("/sys/devices/system/node/has_memory", memory,
			sizeof(memory)))
		strcpy(memory, "0");
	for (node = 0; node < 1024; node++) {
		if (!node_list_has(possible, node))
			continue;
		if (node_list_has(memory, node)) {
			if (nr_with < 2)
				with[nr_with++] = node;
		} else if (none < 0) {
			none = node;
		}
	}
	TH_LOG("possible nodes %s, with memory %s", possible, memory);
	ASSERT_LE(1, nr_with);
	for (i = 0; i < nr_with; i++) {
		shmring_fill_create(&c, "kst-node", 4 * self->page, 0600);
		c.flags = SHMRING_CREATE_NODE;
		c.node = with[i];
		ASSERT_EQ(0, shmring_inst_create_full(&c));
		EXPECT_EQ(with[i],
			  read_num("/sys/class/shmring/kst-node/numa_node"));
		fd = shmring_inst_open("kst-node", O_RDWR);
		ASSERT_LE(0, fd);
		map = mmap(NULL, 4 * self->page, PROT_READ, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		EXPECT_EQ(with[i], pages_node(map, self->page, 4));
		munmap(map, 4 * self->page);
		close(fd);
		ASSERT_EQ(0, shmring_inst_destroy("kst-node"));
	}

	if (expect && !strcmp(expect, "1")) {
		EXPECT_EQ(2, nr_with);
		EXPECT_LE(0, none);
	}
	/* Else not a skip, which make check counts as a failure. */
	if (none < 0) {
		TH_LOG("no possible node without memory: ENODEV not exercised");
		return;
	}
	shmring_fill_create(&c, "kst-a", self->page, 0600);
	c.flags = SHMRING_CREATE_NODE;
	c.node = none;
	EXPECT_EQ(-ENODEV, shmring_inst_create_full(&c));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-a", &(struct stat){}));
}

/*
 * @uid (and @gid) becomes root of a new user namespace that maps only
 * itself, as an unprivileged container's root is; returns its pid to the
 * parent, 0 in the child.
 */
static pid_t as_ns_root(uid_t uid, gid_t gid)
{
	char map[64];
	pid_t pid = as_user(uid, gid);

	if (pid)
		return pid;
	/* setresuid() made it undumpable: its /proc files would be root's. */
	if (prctl(PR_SET_DUMPABLE, 1) || unshare(CLONE_NEWUSER))
		_exit(121);
	if (write_file("/proc/self/setgroups", "deny"))
		_exit(122);
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map))
		_exit(123);
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map))
		_exit(124);
	return 0;
}

/*
 * Root of a user namespace, a container's root, is not root here: ids are
 * its namespace's (its 0 is its own uid outside, anything unmapped is
 * EINVAL), its instances count against the uid it maps to, within that
 * uid's limits, and root's instances are not its to destroy.
 */
TEST_F(inst, user_namespace)
{
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, shmring_inst_create("kst-a", self->page, 0666));
	set_param("user_instances", 2);
	pid = as_ns_root(USER_UID, USER_GID);
	if (!pid) {
		if (getuid() != 0)
			_exit(125);
		/* Its 0 is USER_UID outside; 5 is no one here. */
		if (create_owned("kst-user", self->page, 0600, 0, 0))
			_exit(1);
		if (create_owned("kst-user2", self->page, 0600, 5,
				 SHMRING_ID_CALLER) != -EINVAL)
			_exit(2);
		if (create_owned("kst-user2", self->page, 0600,
				 SHMRING_ID_CALLER, 5) != -EINVAL)
			_exit(3);
		if (shmring_inst_create("kst-user2", self->page, 0600))
			_exit(4);
		/* USER_UID's limit of 2, though it is root in here. */
		if (shmring_inst_create("kst-user3", self->page, 0600) != -ENOSPC)
			_exit(5);
		if (shmring_inst_destroy("kst-a") != -EPERM)
			_exit(6);
		if (shmring_inst_destroy("kst-user2"))
			_exit(7);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid));
	ASSERT_EQ(0, shmring_inst_stat("kst-user", &st));
	EXPECT_EQ(USER_UID, st.st_uid);
	EXPECT_EQ(USER_GID, st.st_gid);
	EXPECT_EQ(USER_UID, read_num("/sys/class/shmring/kst-user/creator"));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-user2", &st));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-user3", &st));
	EXPECT_EQ(0, shmring_inst_stat("kst-a", &st));
}

/* Owner, group and mode as asked; EACCES for the others. */
TEST_F(inst, owner_mode_isolation)
{
	uint8_t *a, *b;
	struct stat st;
	pid_t pid;
	int fa, fb;

	ASSERT_EQ(0, create_owned("kst-user", 4 * self->page, 0600, USER_UID,
				  USER_UID));
	ASSERT_EQ(0, shmring_inst_stat("kst-user", &st));
	EXPECT_EQ(USER_UID, st.st_uid);
	EXPECT_EQ(USER_UID, st.st_gid);
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, create_owned("kst-b", 4 * self->page, 0660, 0, USER_GID));
	ASSERT_EQ(0, shmring_inst_stat("kst-b", &st));
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(USER_GID, st.st_gid);
	EXPECT_EQ(0660, st.st_mode & 07777);

	/* Data written in one instance is in no other. */
	fa = shmring_inst_open("kst-user", O_RDWR);
	fb = shmring_inst_open("kst-b", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	a = mmap(NULL, 4 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0);
	b = mmap(NULL, 4 * self->page, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	memset(a, 0x5a, 4 * self->page);
	EXPECT_EQ(0, b[0]);
	EXPECT_EQ(0, b[4 * self->page - 1]);
	munmap(a, 4 * self->page);
	munmap(b, 4 * self->page);
	close(fa);
	close(fb);

	/* The owner opens its 0600 instance; the group its 0660 one. */
	pid = as_user(USER_UID, USER_GID);
	if (!pid) {
		int fd = shmring_inst_open("kst-user", O_RDWR);
		uint8_t v = 0;

		if (fd < 0 || pread(fd, &v, 1, 0) != 1 || v != 0x5a)
			_exit(1);
		close(fd);
		fd = shmring_inst_open("kst-b", O_RDWR);
		_exit(fd < 0 ? 2 : 0);
	}
	EXPECT_EQ(0, child_status(pid));

	/* Nobody else: EACCES, for reading too. */
	pid = as_user(NOBODY, NOBODY);
	if (!pid) {
		if (shmring_inst_open("kst-user", O_RDONLY) >= 0)
			_exit(1);
		if (errno != EACCES)
			_exit(2);
		if (shmring_inst_open("kst-b", O_RDONLY) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	EXPECT_EQ(0, child_status(pid));
}

/* Unprivileged creation: own ids only, EPERM otherwise; destroy rights. */
TEST_F(inst, unprivileged)
{
	struct stat st;
	pid_t pid;

	pid = as_user(USER_UID, USER_GID);
	if (!pid) {
		int ret = shmring_inst_create("kst-user", 2 * self->page, 0600);

		_exit(code(ret));
	}
	ASSERT_EQ(0, child_status(pid));
	ASSERT_EQ(0, shmring_inst_stat("kst-user", &st));
	EXPECT_EQ(USER_UID, st.st_uid);
	EXPECT_EQ(USER_GID, st.st_gid);
	EXPECT_EQ(USER_UID, read_num("/sys/class/shmring/kst-user/creator"));

	ASSERT_EQ(0, shmring_inst_create("kst-a", self->page, 0666));
	pid = as_user(USER_UID, USER_GID);
	if (!pid) {
		/* Another uid, a group not ours, root's: EPERM. */
		if (create_owned("kst-user2", self->page, 0600, 0,
				 SHMRING_ID_CALLER) != -EPERM)
			_exit(1);
		if (create_owned("kst-user2", self->page, 0600, NOBODY,
				 SHMRING_ID_CALLER) != -EPERM)
			_exit(2);
		if (create_owned("kst-user2", self->page, 0600,
				 SHMRING_ID_CALLER, 0) != -EPERM)
			_exit(3);
		/* Our own ids, spelt out, and our group. */
		if (create_owned("kst-user2", self->page, 0660, USER_UID,
				 USER_GID))
			_exit(4);
		/* A root-owned instance is not ours to destroy. */
		if (shmring_inst_destroy("kst-a") != -EPERM)
			_exit(5);
		/* Ours is. */
		if (shmring_inst_destroy("kst-user2"))
			_exit(6);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, shmring_inst_stat("kst-a", &st));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-user2", &st));

	/* Nobody cannot destroy shmring-user's; root can. */
	pid = as_user(NOBODY, NOBODY);
	if (!pid)
		_exit(code(shmring_inst_destroy("kst-user")));
	EXPECT_EQ(EPERM, child_status(pid));
	EXPECT_EQ(0, shmring_inst_destroy("kst-user"));
}

/* user_instances and user_bytes, per user; destroyed but mapped counts. */
TEST_F(inst, limits)
{
	pid_t pid;

	set_param("user_instances", 2);
	set_param("user_bytes", 4 * self->page);
	pid = as_user(USER_UID, USER_GID);
	if (!pid) {
		int fd;
		void *p;

		if (shmring_inst_create("kst-user", self->page, 0600))
			_exit(1);
		if (shmring_inst_create("kst-user2", 2 * self->page, 0600))
			_exit(2);
		/* Third instance: ENOSPC, whatever the size. */
		if (shmring_inst_create("kst-user3", 1, 0600) != -ENOSPC)
			_exit(3);
		if (shmring_inst_destroy("kst-user2"))
			_exit(4);
		/* Bytes: 1 page used, 3 left. */
		if (shmring_inst_create("kst-user2", 4 * self->page, 0600) != -ENOSPC)
			_exit(5);
		if (shmring_inst_create("kst-user2", 3 * self->page, 0600))
			_exit(6);
		/* A destroyed instance counts until its last user goes. */
		fd = shmring_inst_open("kst-user2", O_RDWR);
		if (fd < 0)
			_exit(7);
		p = mmap(NULL, 3 * self->page, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(8);
		close(fd);
		if (shmring_inst_destroy("kst-user2"))
			_exit(9);
		if (shmring_inst_create("kst-user3", self->page, 0600) != -ENOSPC)
			_exit(10);
		munmap(p, 3 * self->page);
		if (shmring_inst_create("kst-user3", self->page, 0600))
			_exit(11);
		_exit(0);
	}
	EXPECT_EQ(0, child_status(pid));

	/* Another user has limits of its own. */
	pid = as_user(NOBODY, NOBODY);
	if (!pid)
		_exit(code(shmring_inst_create("kst-d", self->page, 0600)));
	EXPECT_EQ(0, child_status(pid));
	/* Root is not limited. */
	EXPECT_EQ(0, shmring_inst_create("kst-a", self->page, 0600));
	EXPECT_EQ(0, shmring_inst_create("kst-b", self->page, 0600));
	EXPECT_EQ(0, shmring_inst_create("kst-c", 8 * self->page, 0600));
}

/* Destroy while mapped: the mapping and open fds keep working. */
TEST_F(inst, destroy_while_mapped)
{
	size_t size = 8 * self->page;
	char path[64];
	uint32_t *map;
	struct stat st;
	int fd, fd2;

	ASSERT_EQ(0, shmring_inst_create("kst-mapped", size, 0600));
	fd = shmring_inst_open("kst-mapped", O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 0xfeedf00d;
	map[size / 4 - 1] = 7;

	ASSERT_EQ(0, shmring_inst_destroy("kst-mapped"));
	/* The name and node are gone at once. */
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-mapped", &st));
	EXPECT_EQ(-1, shmring_inst_open("kst-mapped", O_RDWR));
	/* Reopening through the old inode fails too. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd2);
	EXPECT_EQ(ENODEV, errno);
	/* The old file and mapping still work. */
	EXPECT_EQ(0xfeedf00d, map[0]);
	EXPECT_EQ(-EAGAIN, shmring_wait(fd, 0, 0, 0, 0));
	EXPECT_EQ(-ETIMEDOUT, shmring_wait(fd, 4, 0, 0, 0));
	EXPECT_EQ(0, shmring_wake(fd, 0, 1));
	{
		uint32_t v = 0;

		EXPECT_EQ(4, pread(fd, &v, 4, size - 4));
		EXPECT_EQ(7, v);
	}
	/* The name can be taken again: by a new, zeroed buffer. */
	ASSERT_EQ(0, shmring_inst_create("kst-mapped", self->page, 0600));
	fd2 = shmring_inst_open("kst-mapped", O_RDWR);
	ASSERT_LE(0, fd2);
	{
		uint32_t v = 1;

		EXPECT_EQ(4, pread(fd2, &v, 4, 0));
		EXPECT_EQ(0, v);
	}
	close(fd2);
	close(fd);
	/* The mapping alone keeps the old pages. */
	map[1] = 3;
	EXPECT_EQ(3, map[1]);
	EXPECT_EQ(0xfeedf00d, map[0]);
	munmap(map, size);
}

/*
 * A node held by O_PATH across DESTROY, reopened through /proc once its
 * number belongs to another instance: never that instance. devtmpfs made
 * the old node root's with mode 0, so a user gets EACCES; root, whom
 * modes do not stop, gets ENODEV from the module.
 */
TEST_F(inst, stale_node_after_reuse)
{
	int go[2], done[2], ret, pfd, fd;
	struct stat old, now;
	char c = 0, path[64];
	pid_t pid;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = as_user(USER_UID, USER_GID);
	if (!pid) {
		close(go[1]);
		close(done[0]);
		if (shmring_inst_create("kst-user", self->page, 0600))
			_exit(1);
		pfd = open(SHMRING_INST_DIR "kst-user", O_PATH | O_CLOEXEC);
		if (pfd < 0 || fstat(pfd, &old))
			_exit(2);
		if (shmring_inst_destroy("kst-user"))
			_exit(3);
		if (write(done[1], "d", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		/* Root's 0600 instance now; say whether it took the number. */
		if (!stat(SHMRING_INST_DIR "kst-b", &now) && now.st_rdev != old.st_rdev)
			_exit(10);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			_exit(5);
		if (errno != EACCES && errno != ENODEV)
			_exit(100 + errno);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		_exit(fd >= 0 ? 7 : errno == EACCES || errno == ENODEV ? 0 : 8);
	}
	close(go[0]);
	close(done[1]);
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(0, shmring_inst_create("kst-b", self->page, 0600));
	ASSERT_EQ(0, shmring_inst_stat("kst-b", &now));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ret = child_status(pid);
	if (ret == 10)
		TH_LOG("kst-b did not get the freed number: reuse not exercised");
	else
		EXPECT_EQ(0, ret);
	close(go[1]);
	close(done[0]);
	ASSERT_EQ(0, shmring_inst_destroy("kst-b"));

	/* Root: the same, past the mode. */
	ASSERT_EQ(0, shmring_inst_create("kst-a", self->page, 0600));
	pfd = open(SHMRING_INST_DIR "kst-a", O_PATH | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, fstat(pfd, &old));
	ASSERT_EQ(0, shmring_inst_destroy("kst-a"));
	ASSERT_EQ(0, shmring_inst_create("kst-b", self->page, 0600));
	ASSERT_EQ(0, shmring_inst_stat("kst-b", &now));
	if (now.st_rdev != old.st_rdev)
		TH_LOG("kst-b did not get the freed number: reuse not exercised");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	EXPECT_EQ(-1, open(path, O_RDWR | O_CLOEXEC));
	EXPECT_EQ(now.st_rdev != old.st_rdev ? ENXIO : ENODEV, errno);
	close(pfd);
}

struct waiter {
	int fd;
	uint64_t off;
	int ret;
	int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->ret = shmring_wait(w->fd, w->off, 0, 0, 20 * NSEC_PER_SEC);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* WAIT/WAKE, watch fds and release actions are each instance's own. */
TEST_F(inst, wait_wake_per_instance)
{
	struct waiter w = { .off = 0 };
	uint64_t off = 0;
	pthread_t t;
	int fa, fb, fd, wfd;
	uint32_t *map;
	int64_t id;

	ASSERT_EQ(0, shmring_inst_create("kst-a", self->page, 0600));
	ASSERT_EQ(0, shmring_inst_create("kst-b", self->page, 0600));
	fa = shmring_inst_open("kst-a", O_RDWR);
	fb = shmring_inst_open("kst-b", O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	w.fd = fa;
	ASSERT_EQ(0, pthread_create(&t, NULL, wait_thread, &w));
	ASSERT_EQ(1, await_nr_waiters(fa, 1));
	EXPECT_EQ(0, nr_waiters(fb));
	/* Same offset on another instance, or on the default device: none. */
	EXPECT_EQ(0, shmring_wake(fb, 0, UINT32_MAX));
	fd = shmring_open(O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, shmring_wake(fd, 0, UINT32_MAX));
	close(fd);
	usleep(20000);
	EXPECT_EQ(0, __atomic_load_n(&w.done, __ATOMIC_SEQ_CST));
	EXPECT_EQ(1, shmring_wake(fa, 0, 1));
	pthread_join(t, NULL);
	EXPECT_EQ(0, w.ret);

	/* A watch fd on b sees b's WAKEs only. */
	wfd = shmring_watch_new(fb, &off, 1, SHMRING_WATCH_NONBLOCK);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(0, shmring_wake(fa, 0, 1));
	EXPECT_EQ(-EAGAIN, shmring_watch_read(wfd));
	EXPECT_EQ(0, shmring_wake(fb, 0, 1));
	EXPECT_EQ(1, shmring_watch_read(wfd));

	/* A release action on an open of b stores into b, and wakes b's. */
	fd = shmring_inst_open("kst-b", O_RDWR);
	ASSERT_LE(0, fd);
	id = shmring_release_add(fd, 0, SHMRING_RELEASE_STORE, 42);
	ASSERT_LT(0, id);
	close(fd);
	EXPECT_EQ(1, shmring_watch_read(wfd));
	map = mmap(NULL, self->page, PROT_READ, MAP_SHARED, fb, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(42, map[0]);
	munmap(map, self->page);
	map = mmap(NULL, self->page, PROT_READ, MAP_SHARED, fa, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, map[0]);
	munmap(map, self->page);
	/* A watch fd outlives DESTROY, as its open file does. */
	close(fb);
	EXPECT_EQ(0, shmring_inst_destroy("kst-b"));
	EXPECT_EQ(-EAGAIN, shmring_watch_read(wfd));
	close(wfd);
	close(fa);
}

/* One random step of the churn: 0, or which check failed. */
static int churn_step(uint32_t *seed, size_t page)
{
	char name[8] = "kst-a";
	struct shmring_info info;
	uint32_t *map;
	int fd, ret;

	name[4] = 'a' + xorshift(seed) % 4;
	switch (xorshift(seed) % 4) {
	case 0:
		ret = shmring_inst_create(name, (1 + xorshift(seed) % 16) * page, 0600);
		return ret && ret != -EEXIST ? 1 : 0;
	case 1:
		ret = shmring_inst_destroy(name);
		return ret && ret != -ENOENT ? 2 : 0;
	}
	fd = shmring_inst_open(name, O_RDWR);
	if (fd < 0)	/* gone, going, or its number not yet reused */
		return errno == ENOENT || errno == ENODEV || errno == ENXIO ?
		       0 : 3;
	if (shmring_get_info(fd, &info) || !info.size ||
	    info.size % page || info.size > 16 * page)
		return 4;
	map = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 5;
	__atomic_fetch_add(&map[0], 1, __ATOMIC_SEQ_CST);
	if (shmring_wake(fd, 0, UINT32_MAX) < 0)
		return 6;
	ret = shmring_wait(fd, info.size - 4, 1, 0, 0);
	if (ret != -EAGAIN && ret != -ETIMEDOUT)
		return 7;
	if (xorshift(seed) % 4 == 0) {
		ret = shmring_inst_destroy(name);	/* this one, or a newer one */
		if (ret && ret != -ENOENT)
			return 8;
	}
	map[info.size / 4 - 1] = 1;
	if (shmring_wait(fd, info.size - 4, 1, 0, 0) != -ETIMEDOUT)
		return 9;
	munmap(map, info.size);
	close(fd);
	return 0;
}

/*
 * Processes create, open, map, WAIT, WAKE and destroy the same few names
 * at once; every result must be one the rules allow, and nothing may be
 * left once the names are destroyed.
 */
TEST_F_TIMEOUT(inst, churn, 120)
{
	unsigned long secs = env_ulong("SHMRING_CHURN_SECONDS", 6, 600);
	pid_t pids[6];
	int i, n = 0;
	DIR *d;
	struct dirent *de;

	for (i = 0; i < 6; i++) {
		pids[i] = spawn();
		if (!pids[i]) {
			uint32_t seed = 0x9e3779b9u * (i + 1);
			int64_t end = now_ns() + secs * NSEC_PER_SEC;
			int ret = 0, steps = 0;

			while (!ret && now_ns() < end) {
				ret = churn_step(&seed, self->page);
				steps++;
			}
			_exit(ret ? ret : steps ? 0 : 99);
		}
	}
	for (i = 0; i < 6; i++)
		EXPECT_EQ(0, child_status(pids[i])) TH_LOG("churner %d", i);
	for (i = 0; i < 4; i++) {
		char name[8] = "kst-a";

		name[4] = 'a' + i;
		shmring_inst_destroy(name);
	}
	d = opendir("/sys/class/shmring");
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "kst-", 4);
	closedir(d);
	EXPECT_EQ(0, n);
}

/* cgroup v2 mounted, the memory controller on for children; or a skip. */
static int cgroup_ready(void)
{
	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK)) {
		mkdir(CGROUP_ROOT, 0755);
		if (mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
			return -errno;
	}
	if (write_file(CGROUP_ROOT "/cgroup.subtree_control", "+memory"))
		return -ENOENT;
	rmdir(CGROUP_TEST);
	if (mkdir(CGROUP_TEST, 0755))
		return -errno;
	return 0;
}

/* Pages are charged to the creator's memory cgroup, all at creation. */
TEST_F(inst, memcg)
{
	long long before, created, destroyed, freed;
	size_t size = 16 << 20;
	char pid[32], line[256];
	void *map;
	int fd, ret;

	ret = cgroup_ready();
	if (ret)
		SKIP(return, "no cgroup v2 memory controller: %s", strerror(-ret));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_file(CGROUP_TEST "/cgroup.procs", pid));

	/* memory.max below the size: ENOMEM now, not SIGBUS later. */
	ASSERT_EQ(0, write_file(CGROUP_TEST "/memory.max", "8M"));
	EXPECT_EQ(-ENOMEM, shmring_inst_create("kst-cg", size, 0600));
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-cg", &(struct stat){}));
	ASSERT_EQ(0, write_file(CGROUP_TEST "/memory.max", "max"));

	before = read_num(CGROUP_TEST "/memory.current");
	ASSERT_EQ(0, shmring_inst_create("kst-cg", size, 0600));
	created = read_num(CGROUP_TEST "/memory.current");
	EXPECT_STREQ("/" CGROUP_NAME, read_line("/sys/class/shmring/kst-cg/memcg",
						line, sizeof(line)));
	TH_LOG("memory.current %lld -> %lld after creating %zu bytes",
	       before, created, size);
	EXPECT_LE(before + (long long)size, created);
	EXPECT_GE(before + (long long)size + (4 << 20), created);

	fd = shmring_inst_open("kst-cg", O_RDWR);
	ASSERT_LE(0, fd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	close(fd);
	ASSERT_EQ(0, shmring_inst_destroy("kst-cg"));
	destroyed = read_num(CGROUP_TEST "/memory.current");
	/* Mapped: nothing freed yet. */
	EXPECT_LE(before + (long long)size, destroyed);
	munmap(map, size);
	freed = read_num(CGROUP_TEST "/memory.current");
	TH_LOG("memory.current %lld while mapped, %lld after munmap",
	       destroyed, freed);
	EXPECT_GE(destroyed - (long long)size + (1 << 20), freed);

	/* Leave the test cgroup. */
	write_file(CGROUP_ROOT "/cgroup.procs", pid);
	rmdir(CGROUP_TEST);
}

/*
 * rmmod with instances: refused while any file of one is open, clean
 * when none is; instances= at load. Reloads the module with defaults.
 */
TEST(rmmod_with_instances)
{
	const char *ko = getenv("SHMRING_KO");
	char line[256];
	struct stat st;
	int ko_fd, fd;
	void *map;

	ASSERT_EQ(0, geteuid());
	if (!ko)
		SKIP(return, "SHMRING_KO does not name the module file");
	ko_fd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ko_fd);
	if (module_loaded())
		ASSERT_EQ(0, unload_module_retry());
	ASSERT_EQ(0, load_module(ko_fd, ""));

	ASSERT_EQ(0, shmring_inst_create("kst-a", 4096, 0600));
	ASSERT_EQ(0, shmring_inst_create("kst-b", 4096, 0600));
	/* An open file: EBUSY (EWOULDBLOCK with O_NONBLOCK). */
	fd = shmring_inst_open("kst-a", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	/* A mapping alone, of a destroyed instance: still busy. */
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	close(fd);
	EXPECT_EQ(0, shmring_inst_destroy("kst-a"));
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	munmap(map, 4096);
	/* An open control device: busy too. */
	fd = shmring_ctl_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, unload_module());
	close(fd);
	/* Instances alive but unused: the unload destroys them. */
	EXPECT_EQ(0, unload_module_retry());
	EXPECT_EQ(-ENOENT, shmring_inst_stat("kst-b", &st));
	EXPECT_NE(0, access("/sys/class/shmring", F_OK));
	EXPECT_NE(0, access(SHMRING_CONTROL_DEV, F_OK));

	/* instances= makes them at load, with their owner and mode. */
	ASSERT_EQ(0, load_module(ko_fd,
				 "instances=kst-a:64K:0640:1000:999,kst-b:1"));
	ASSERT_EQ(0, shmring_inst_stat("kst-a", &st));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(USER_UID, st.st_uid);
	EXPECT_EQ(USER_GID, st.st_gid);
	EXPECT_EQ(65536, read_num("/sys/class/shmring/kst-a/size"));
	EXPECT_EQ(-1, read_num("/sys/class/shmring/kst-a/creator"));
	EXPECT_STREQ("-", read_line("/sys/class/shmring/kst-a/memcg", line,
				    sizeof(line)));
	ASSERT_EQ(0, shmring_inst_stat("kst-b", &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(4096, read_num("/sys/class/shmring/kst-b/size"));
	EXPECT_EQ(-EEXIST, shmring_inst_create("kst-a", 4096, 0600));
	ASSERT_EQ(0, unload_module_retry());

	/* A bad entry fails the load, and leaves nothing behind. */
	EXPECT_EQ(-EINVAL, load_module(ko_fd, "instances=../x:4K"));
	EXPECT_EQ(-EINVAL, load_module(ko_fd, "instances=kst-a:0"));
	EXPECT_EQ(-EINVAL, load_module(ko_fd, "instances=kst-a:4K:0"));
	EXPECT_EQ(-EINVAL, load_module(ko_fd, "instances=kst-a:4K:0600:x"));
	EXPECT_EQ(-EINVAL, load_module(ko_fd, "instances=kst-a"));
	EXPECT_EQ(-EEXIST, load_module(ko_fd, "instances=kst-a:4K,kst-a:4K"));
	EXPECT_FALSE(module_loaded());

	ASSERT_EQ(0, load_module(ko_fd, ""));
	close(ko_fd);
}

TEST_HARNESS_MAIN
