// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The buffer: open /dev/shmring and map it, make a memfd for the futex
 * backend, or adopt a mapping the caller made. INFO lives here too.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Largest buffer the module accepts; the memfd backend uses the same. */
#define SR_MAX_BUFFER	(1ULL << 30)

static uint32_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint32_t)ps : 4096;
}

static struct shmring *sh_new(void *base, size_t size, int backend, int fd)
{
	struct shmring *sh = calloc(1, sizeof(*sh));

	if (!sh)
		return NULL;
	sh->base = base;
	sh->size = size;
	sh->backend = backend;
	sh->fd = fd;
	sh->page_size = page_size();
	return sh;
}

/* Maps all of @fd and wraps it in a handle that owns both; closes @fd on
 * failure.
 */
static int map_fd(int fd, size_t size, int backend, struct shmring **out)
{
	struct shmring *sh;
	void *base;
	int err;

	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = errno;
		goto close_fd;
	}
	sh = sh_new(base, size, backend, fd);
	if (!sh) {
		err = ENOMEM;
		munmap(base, size);
		goto close_fd;
	}
	sh->own_map = sh->own_fd = true;
	*out = sh;
	return 0;
close_fd:
	close(fd);
	return sr_fail(err);
}

/*
 * What INFO must say for the library to use the device: an ABI it speaks
 * (versions only add, announced by feature bits, so any version from the
 * first this library knows on will do), and a size it can map.
 */
int sr_info_check(const struct shmring_info *info)
{
	if (info->abi_version < SR_ABI_MIN)
		return -EPROTO;
	if (!info->size || info->size > SIZE_MAX)
		return -EINVAL;
	return 0;
}

int shmring_open(const char *path, struct shmring **out)
{
	struct shmring_info info;
	int fd, err;

	if (!out)
		return sr_fail(EINVAL);
	fd = open(path ? path : SHMRING_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sr_fail(errno);
	if (ioctl(fd, SHMRING_IOC_INFO, &info)) {
		err = errno;
		goto close_fd;
	}
	err = -sr_info_check(&info);
	if (err)
		goto close_fd;
	err = -map_fd(fd, info.size, SHMRING_BACKEND_DEVICE, out);
	if (err)
		return -err;
	(*out)->features = info.features;
	return 0;
close_fd:
	close(fd);
	return sr_fail(err);
}

/*
 * Sealed at its size: anyone who gets hold of the memfd (a child, a peer it
 * was passed to, /proc/<pid>/fd) could otherwise shrink it, and every
 * mapping would take SIGBUS on the pages cut off, or grow it without bound.
 * F_SEAL_SEAL keeps them from adding other seals.
 */
#define SR_MEMFD_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int shmring_open_memfd(size_t size, struct shmring **out)
{
	int fd, err;

	if (!out || !size || size > SR_MAX_BUFFER || size % page_size())
		return sr_fail(EINVAL);
	fd = memfd_create("shmring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return sr_fail(errno);
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, SR_MEMFD_SEALS)) {
		err = errno;
		goto close_fd;
	}
	return map_fd(fd, size, SHMRING_BACKEND_FUTEX, out);
close_fd:
	close(fd);
	return sr_fail(err);
}

int shmring_attach(void *base, size_t size, enum shmring_backend backend,
		   int fd, struct shmring **out)
{
	struct shmring *sh;

	if (!out || !base || !size || size > SR_MAX_BUFFER ||
	    (uintptr_t)base % page_size() || size % page_size())
		return sr_fail(EINVAL);
	if (backend == SHMRING_BACKEND_DEVICE) {
		if (fd < 0)
			return sr_fail(EINVAL);
	} else if (backend == SHMRING_BACKEND_FUTEX) {
		fd = -1;
	} else {
		return sr_fail(EINVAL);
	}
	sh = sh_new(base, size, backend, fd);
	if (!sh)
		return sr_fail(ENOMEM);
	if (backend == SHMRING_BACKEND_DEVICE) {
		struct shmring_info info;

		/* What it offers; without an answer, only ABI 1's calls. */
		if (!ioctl(fd, SHMRING_IOC_INFO, &info) && !sr_info_check(&info))
			sh->features = info.features;
	}
	*out = sh;
	return 0;
}

void shmring_close(struct shmring *sh)
{
	int err = errno;

	if (!sh)
		return;
	if (sh->own_map)
		munmap(sh->base, sh->size);
	if (sh->own_fd)
		close(sh->fd);
	free(sh);
	errno = err;
}

void *shmring_base(const struct shmring *sh)
{
	return sh ? sh->base : NULL;
}

size_t shmring_size(const struct shmring *sh)
{
	return sh ? sh->size : 0;
}

int shmring_fd(const struct shmring *sh)
{
	return sh ? sh->fd : -1;
}

int shmring_info(struct shmring *sh, struct shmring_info *info)
{
	if (!sh || !info)
		return sr_fail(EINVAL);
	if (sh->backend == SHMRING_BACKEND_DEVICE) {
		if (ioctl(sh->fd, SHMRING_IOC_INFO, info))
			return sr_fail(errno);
		return 0;
	}
	memset(info, 0, sizeof(*info));
	info->size = sh->size;
	info->page_size = sh->page_size;
	info->abi_version = SHMRING_ABI_VERSION;
	return 0;
}
