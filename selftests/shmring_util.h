/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the shmring selftests. */
#ifndef SHMRING_UTIL_H
#define SHMRING_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmring.h>

#define SHMRING_DEV	"/dev/shmring"
/* What INFO.features must say: ABI version 2 with instances. */
#define SHMRING_FEATURES	(SHMRING_FEATURE_WATCH | SHMRING_FEATURE_RELEASE | \
				 SHMRING_FEATURE_INSTANCES)

#define NSEC_PER_MSEC		1000000LL
#define NSEC_PER_SEC		1000000000LL

/*
 * The lines of /proc/self/fdinfo/<fd> that start with @key ("" for all),
 * joined into @out; 0, or -1 if it cannot be read or does not fit.
 */
static inline int fdinfo_lines(int fd, const char *key, char *out, size_t len)
{
	char path[64], line[2048];	/* 64 offsets of 19 bytes fit */
	size_t used = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		used += snprintf(out + used, used < len ? len - used : 0, "%s", line);
	}
	fclose(f);
	return used < len ? 0 : -1;
}

/* Open fds of this process, the one reading the directory included. */
static inline int count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Bound on waiting for a state (waiters asleep, threads returned). */
#define POLL_NS			(30 * NSEC_PER_SEC)
#define POLL_STEP_US		200

#define MOD_NAME		"shmring"
#define MOD_SYSFS		"/sys/module/" MOD_NAME
/* The last fput of a dead process may be deferred to a workqueue. */
#define UNLOAD_RETRY_MS		5000

static inline int shmring_open(int flags)
{
	return open(SHMRING_DEV, flags | O_CLOEXEC);
}

/* INFO, or -errno. */
static inline int shmring_get_info(int fd, struct shmring_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	return ioctl(fd, SHMRING_IOC_INFO, info) ? -errno : 0;
}

/* WAIT, or -errno. */
static inline int shmring_wait(int fd, uint64_t offset, uint32_t expected,
			       uint32_t flags, int64_t timeout_ns)
{
	struct shmring_wait w = {
		.offset = offset, .expected = expected,
		.flags = flags, .timeout_ns = timeout_ns,
	};

	return ioctl(fd, SHMRING_IOC_WAIT, &w) ? -errno : 0;
}

/* Number woken by WAKE, or -errno. */
static inline int shmring_wake(int fd, uint64_t offset, uint32_t count)
{
	struct shmring_wake w = { .offset = offset, .count = count };
	int ret = ioctl(fd, SHMRING_IOC_WAKE, &w);

	return ret < 0 ? -errno : ret;
}

/* SHMRING_IOC_WATCH: a new watch fd, or -errno. */
static inline int shmring_watch_new(int fd, const uint64_t *offs, uint32_t nr,
				    uint32_t flags)
{
	struct shmring_watch w = {
		.offsets = (uintptr_t)offs, .nr = nr, .flags = flags,
	};
	int ret = ioctl(fd, SHMRING_IOC_WATCH, &w);

	return ret < 0 ? -errno : ret;
}

/* SHMRING_IOC_WATCH_ADD or _DEL (@cmd) on a watch fd: 0 or -errno. */
static inline int shmring_watch_ctl(int wfd, unsigned long cmd,
				    const uint64_t *offs, uint32_t nr)
{
	struct shmring_watch w = { .offsets = (uintptr_t)offs, .nr = nr };

	return ioctl(wfd, cmd, &w) ? -errno : 0;
}

/* A watch fd's counter, read (and so reset), or -errno. */
static inline int64_t shmring_watch_read(int wfd)
{
	uint64_t v;
	ssize_t n = read(wfd, &v, sizeof(v));

	if (n < 0)
		return -errno;
	return n == sizeof(v) ? (int64_t)v : -EIO;
}

/* SHMRING_IOC_RELEASE_ADD: the new action's id, or -errno. */
static inline int64_t shmring_release_add(int fd, uint64_t offset,
					  uint32_t op, uint32_t value)
{
	struct shmring_release r = {
		.offset = offset, .op = op, .value = value,
	};

	return ioctl(fd, SHMRING_IOC_RELEASE_ADD, &r) ? -errno : (int64_t)r.id;
}

/* SHMRING_IOC_RELEASE_DEL: 0 or -errno. */
static inline int shmring_release_del(int fd, uint32_t id)
{
	struct shmring_release r = { .id = id };

	return ioctl(fd, SHMRING_IOC_RELEASE_DEL, &r) ? -errno : 0;
}

/* Named instances: /dev/shmring-control and /dev/shmrings/NAME */

#define SHMRING_CONTROL_DEV	"/dev/shmring-control"
#define SHMRING_INST_DIR	"/dev/shmrings/"
/* An instance's attributes: size, numa_node, creator, memcg, users. */
#define SHMRING_CLASS_DIR	"/sys/class/shmring/"

static inline int shmring_ctl_open(void)
{
	return open(SHMRING_CONTROL_DEV, O_RDWR | O_CLOEXEC);
}

/*
 * @name into a zeroed name field of SHMRING_INST_NAME_MAX bytes, so that
 * it is NUL-padded; a longer one fills the field, with no NUL.
 */
static inline void shmring_put_name(char *field, const char *name)
{
	size_t i;

	for (i = 0; i < SHMRING_INST_NAME_MAX && name[i]; i++)
		field[i] = name[i];
}

/* A CREATE argument: @name, @size, @mode, owned by the caller. */
static inline void shmring_fill_create(struct shmring_create *c,
				       const char *name, uint64_t size,
				       uint32_t mode)
{
	memset(c, 0, sizeof(*c));
	c->size = size;
	c->mode = mode;
	c->uid = SHMRING_ID_CALLER;
	c->gid = SHMRING_ID_CALLER;
	shmring_put_name(c->name, name);
}

/* CREATE with a fresh control fd: 0 or -errno. */
static inline int shmring_inst_create_full(const struct shmring_create *c)
{
	int fd = shmring_ctl_open(), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SHMRING_IOC_CREATE, c) ? -errno : 0;
	close(fd);
	return ret;
}

static inline int shmring_inst_create(const char *name, uint64_t size,
				      uint32_t mode)
{
	struct shmring_create c;

	shmring_fill_create(&c, name, size, mode);
	return shmring_inst_create_full(&c);
}

/* DESTROY with a fresh control fd: 0 or -errno. */
static inline int shmring_inst_destroy(const char *name)
{
	struct shmring_destroy d;
	int fd = shmring_ctl_open(), ret;

	if (fd < 0)
		return -errno;
	memset(&d, 0, sizeof(d));
	shmring_put_name(d.name, name);
	ret = ioctl(fd, SHMRING_IOC_DESTROY, &d) ? -errno : 0;
	close(fd);
	return ret;
}

/* open(2) of /dev/shmrings/@name, close-on-exec. */
static inline int shmring_inst_open(const char *name, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), SHMRING_INST_DIR "%s", name);
	return open(path, flags | O_CLOEXEC);
}

/* stat(2) of /dev/shmrings/@name: 0 or -errno. */
static inline int shmring_inst_stat(const char *name, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), SHMRING_INST_DIR "%s", name);
	return stat(path, st) ? -errno : 0;
}

/* Whether @n is in a sysfs node list such as "0-1,3". */
static inline bool node_list_has(const char *list, int n)
{
	const char *p = list;
	char *end;

	while (*p && *p != '\n') {
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			return false;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (n >= lo && n <= hi)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

/* @val into the sysfs, proc or cgroup file @path: 0 or -errno. */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/* A number read from a sysfs or cgroup file, or -1. */
static inline long long read_num(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return strtoll(buf, NULL, 0);
}

/* Map the whole buffer shared and zero it, so a suite starts clean. */
static inline void *shmring_map_zeroed(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p != MAP_FAILED)
		memset(p, 0, size);
	return p;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline unsigned long env_ulong(const char *name, unsigned long def,
				      unsigned long max)
{
	const char *s = getenv(name);
	unsigned long v;
	char *end;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || !v)
		return def;
	return v < max ? v : max;
}

static inline int nr_waiters(int fd)
{
	struct shmring_info info;
	int ret = shmring_get_info(fd, &info);

	return ret ? ret : (int)info.nr_waiters;
}

/* One poll step: false once POLL_NS have passed since @start. */
static inline bool poll_again(int64_t start)
{
	if (now_ns() - start > POLL_NS)
		return false;
	usleep(POLL_STEP_US);
	return true;
}

/* Polls INFO until nr_waiters == @want; returns the last value seen. */
static inline int await_nr_waiters(int fd, int want)
{
	int64_t start = now_ns();
	int n;

	while ((n = nr_waiters(fd)) != want && poll_again(start))
		;
	return n;
}

/*
 * fork() whose child dies with the test, so a failing test cannot leave a
 * waiter behind for the next one.
 */
static inline pid_t spawn(void)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
	}
	return pid;
}

/* Module load and unload, for the suites that need root. */

static inline int load_module(int ko_fd, const char *params)
{
	return syscall(__NR_finit_module, ko_fd, params, 0) ? -errno : 0;
}

static inline int unload_module(void)
{
	return syscall(__NR_delete_module, MOD_NAME, O_NONBLOCK) ? -errno : 0;
}

/* Unload, retrying only while the module is still busy. */
static inline int unload_module_retry(void)
{
	int ret, ms;

	for (ms = 0; ; ms += 10) {
		ret = unload_module();
		if (ret != -EWOULDBLOCK || ms >= UNLOAD_RETRY_MS)
			return ret;
		usleep(10000);
	}
}

static inline bool module_loaded(void)
{
	return access(MOD_SYSFS, F_OK) == 0;
}

/* The usability check run after a hostile workload */

/* INFO is sane, and nobody is left waiting. */
static inline int usable_info(int fd, struct shmring_info *info, char *why,
			      size_t len)
{
	unsigned int i;
	int ret;

	ret = shmring_get_info(fd, info);
	if (ret) {
		snprintf(why, len, "INFO: %s", strerror(-ret));
		return -1;
	}
	if (info->abi_version != SHMRING_ABI_VERSION ||
	    info->page_size != (uint32_t)sysconf(_SC_PAGESIZE) ||
	    !info->size || info->size % info->page_size || info->reserved0 ||
	    info->features != SHMRING_FEATURES) {
		snprintf(why, len, "INFO: size %llu page %u abi %u reserved0 %u features %llu",
			 (unsigned long long)info->size, info->page_size,
			 info->abi_version, info->reserved0,
			 (unsigned long long)info->features);
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (info->reserved[i]) {
			snprintf(why, len, "INFO: reserved[%u] %#llx", i,
				 (unsigned long long)info->reserved[i]);
			return -1;
		}
	}
	ret = await_nr_waiters(fd, 0);
	if (ret) {
		snprintf(why, len, "INFO: nr_waiters stays %d", ret);
		return -1;
	}
	return 0;
}

/* The file view and the mapping are the same bytes, both ways. */
static inline int usable_rw(int fd, uint8_t *map, uint64_t size,
			    uint32_t page, char *why, size_t len)
{
	uint32_t v, pat = 0xa5c3f00d;

	if (pwrite(fd, &pat, sizeof(pat), size - 8) != sizeof(pat) ||
	    memcmp(map + size - 8, &pat, sizeof(pat))) {
		snprintf(why, len, "pwrite not seen in the mapping");
		return -1;
	}
	memcpy(map + page, &pat, sizeof(pat));
	if (pread(fd, &v, sizeof(v), page) != sizeof(v) || v != pat) {
		snprintf(why, len, "store in the mapping not seen by pread");
		return -1;
	}
	return 0;
}

struct shmring_usable_wait {
	int fd;
	uint64_t off;
	uint32_t val;
	int ret;
};

static inline void *shmring_usable_waiter(void *arg)
{
	struct shmring_usable_wait *w = arg;

	w->ret = shmring_wait(w->fd, w->off, w->val, 0, 10 * NSEC_PER_SEC);
	return NULL;
}

/* A waiter on the last word is woken by a store and a WAKE. */
static inline int usable_round_trip(int fd, uint8_t *map, uint64_t size,
				    char *why, size_t len)
{
	struct shmring_usable_wait w = { .fd = fd, .off = size - 4 };
	uint32_t *word = (uint32_t *)(map + w.off);
	pthread_t tid;
	int n, woken;

	w.val = __atomic_load_n(word, __ATOMIC_SEQ_CST);
	if (shmring_wait(fd, w.off, w.val, 0, 0) != -ETIMEDOUT ||
	    shmring_wait(fd, w.off, w.val + 1, 0, -1) != -EAGAIN) {
		snprintf(why, len, "WAIT without sleeping: wrong result");
		return -1;
	}
	if (pthread_create(&tid, NULL, shmring_usable_waiter, &w)) {
		snprintf(why, len, "pthread_create failed");
		return -1;
	}
	n = await_nr_waiters(fd, 1);
	__atomic_store_n(word, w.val + 1, __ATOMIC_SEQ_CST);
	woken = shmring_wake(fd, w.off, 1);
	/* The waiter's own timeout bounds this, should the WAKE miss it. */
	pthread_join(tid, NULL);
	if (n != 1 || woken != 1 || w.ret) {
		snprintf(why, len, "round trip: nr_waiters %d, WAKE %d, WAIT %d",
			 n, woken, w.ret);
		return -1;
	}
	if (shmring_wake(fd, w.off, UINT32_MAX)) {
		snprintf(why, len, "WAKE with nobody waiting woke someone");
		return -1;
	}
	return 0;
}

/*
 * The device still does everything it did before: INFO is sane with no
 * waiter left, read/write and a mapping see each other's bytes, and a
 * WAIT/WAKE round trip works. Returns 0, or -1 with the reason in @why.
 */
static inline int shmring_check_usable(int fd, char *why, size_t len)
{
	struct shmring_info info;
	uint8_t *map;
	int ret;

	if (usable_info(fd, &info, why, len))
		return -1;
	map = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -1;
	}
	ret = usable_rw(fd, map, info.size, info.page_size, why, len);
	if (!ret)
		ret = usable_round_trip(fd, map, info.size, why, len);
	munmap(map, info.size);
	return ret;
}

#endif /* SHMRING_UTIL_H */
