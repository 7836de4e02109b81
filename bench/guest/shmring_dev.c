// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/shmring without libshmring: open and map it or an instance, the raw
 * WAIT, WAKE and INFO ioctls, creating and destroying instances, and
 * reloading the module with another size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/shmring.h>

#include "bench.h"

int shmring_map_open(struct shmring_map *m)
{
	return shmring_map_open_path(m, "/dev/shmring");
}

int shmring_map_open_path(struct shmring_map *m, const char *path)
{
	struct shmring_info info;

	m->base = NULL;
	m->fd = open(path, O_RDWR | O_CLOEXEC);
	if (m->fd < 0) {
		errorf("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(m->fd, SHMRING_IOC_INFO, &info)) {
		errorf("SHMRING_IOC_INFO: %s", strerror(errno));
		goto err;
	}
	m->size = info.size;
	m->base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->fd, 0);
	if (m->base == MAP_FAILED) {
		errorf("mmap %s: %s", path, strerror(errno));
		m->base = NULL;
		goto err;
	}
	return 0;
err:
	close(m->fd);
	m->fd = -1;
	return -1;
}

void shmring_map_close(struct shmring_map *m)
{
	if (m->base)
		munmap(m->base, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

/* 0 when woken, else -errno (EAGAIN, ETIMEDOUT, EINTR, ...). */
int dev_wait(int fd, uint64_t offset, uint32_t expected, int64_t timeout_ns)
{
	struct shmring_wait w = {
		.offset = offset,
		.expected = expected,
		.timeout_ns = timeout_ns,
	};

	return ioctl(fd, SHMRING_IOC_WAIT, &w) ? -errno : 0;
}

/* The number woken, or -errno. */
int dev_wake(int fd, uint64_t offset, uint32_t count)
{
	struct shmring_wake w = { .offset = offset, .count = count };
	int n = ioctl(fd, SHMRING_IOC_WAKE, &w);

	return n < 0 ? -errno : n;
}

int dev_nr_waiters(int fd)
{
	struct shmring_info info;

	if (ioctl(fd, SHMRING_IOC_INFO, &info))
		return -errno;
	return (int)info.nr_waiters;
}

/* SHMRING_IOC_CREATE of @name, @size bytes, mode 0600, the caller's ids. */
int inst_create(int ctl, const char *name, uint64_t size)
{
	struct shmring_create c = {
		.size = size, .mode = 0600,
		.uid = SHMRING_ID_CALLER, .gid = SHMRING_ID_CALLER,
	};

	strncpy(c.name, name, sizeof(c.name) - 1);
	return ioctl(ctl, SHMRING_IOC_CREATE, &c) ? -errno : 0;
}

int inst_destroy(int ctl, const char *name)
{
	struct shmring_destroy d = { .flags = 0 };

	strncpy(d.name, name, sizeof(d.name) - 1);
	return ioctl(ctl, SHMRING_IOC_DESTROY, &d) ? -errno : 0;
}

/*
 * rmmod, then insmod $SHMRING_KO with size=@size (NULL: the default). No
 * file of ours may be open on the device.
 */
int module_reload(const char *size)
{
	const char *ko = getenv("SHMRING_KO");
	const char *rm[] = { "rmmod", "shmring", NULL };
	char param[64];
	const char *ins[] = { "insmod", ko, size ? param : NULL, NULL };

	if (!ko) {
		errorf("SHMRING_KO is not set: cannot reload the module");
		return -1;
	}
	if (size) {
		strcpy(param, "size=");
		strncat(param, size, sizeof(param) - 6);
	}
	if (run_cmd(rm) || run_cmd(ins)) {
		errorf("reloading shmring with %s failed",
		       size ? param : "the default size");
		return -1;
	}
	return 0;
}
