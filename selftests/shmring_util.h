/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the shmring selftests. */
#ifndef SHMRING_UTIL_H
#define SHMRING_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/shmring.h>

#define SHMRING_DEV	"/dev/shmring"

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

/* Map the whole buffer shared and zero it, so a suite starts clean. */
static inline void *shmring_map_zeroed(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p != MAP_FAILED)
		memset(p, 0, size);
	return p;
}

#endif /* SHMRING_UTIL_H */
