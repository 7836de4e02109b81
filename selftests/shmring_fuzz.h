/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two model-based fuzzers share: shmring_fuzz_test.c (the
 * buffer's ioctls) and shmring_control_fuzz_test.c (the control device's).
 * This header owns the generic ioctls neither sends, the random numbers
 * and their seed, the kinds of argument pointer with the mappings behind
 * them and the placing of an argument there, and errno names for reports.
 * The models, and what they predict, stay in each fuzzer.
 */
#ifndef SHMRING_FUZZ_H
#define SHMRING_FUZZ_H

#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "shmring_util.h"

/* Newer than some uapi headers; numbers from include/uapi/linux/fs.h. */
#ifndef FS_IOC_GETFSUUID
#define FS_IOC_GETFSUUID	_IOC(_IOC_READ, 0x15, 0, 17)
#endif
#ifndef FS_IOC_GETFSSYSFSPATH
#define FS_IOC_GETFSSYSFSPATH	_IOC(_IOC_READ, 0x15, 1, 129)
#endif

/* Checked bytes around an argument of kind P_VALID. */
#define FUZZ_GUARD		16

/*
 * Generic ioctls that fs/ioctl.c do_vfs_ioctl() handles itself before the
 * driver sees them; they would change the fd (FIOCLEX, FIONBIO, FIOASYNC)
 * or answer for the filesystem (FIFREEZE), so the fuzzers never send them.
 * FIONREAD and FIOQSIZE are not here: on a character device they end in
 * ENOTTY like any number the driver does not know.
 */
static const unsigned int vfs_cmds[] = {
	FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIFREEZE, FITHAW,
	FS_IOC_FIEMAP, FIGETBSZ, FICLONE, FICLONERANGE, FIDEDUPERANGE,
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR,
	FS_IOC_FSSETXATTR, FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH,
};

static inline bool vfs_cmd(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vfs_cmds); i++)
		if (vfs_cmds[i] == cmd)
			return true;
	return false;
}

/* Random numbers */

/* splitmix64: any seed works, and a printed seed replays the run. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

/* An index below @n, each as likely as its weight in @w. */
static inline unsigned int pick_weighted(uint64_t *s, const unsigned int *w,
					 unsigned int n)
{
	unsigned int total = 0, r, k;

	for (k = 0; k < n; k++)
		total += w[k];
	r = rnd_below(s, total);
	for (k = 0; r >= w[k]; k++)
		r -= w[k];
	return k;
}

/* SHMRING_FUZZ_SEED if set, to replay a run; else a new seed. */
static inline uint64_t fuzz_seed(void)
{
	const char *seed = getenv("SHMRING_FUZZ_SEED");

	return seed && *seed ? strtoull(seed, NULL, 0) :
	       (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
}

/* Argument pointers */

/* Where the argument points; each fuzzer draws from the kinds it needs. */
enum ptr_kind {
	P_VALID,	/* anonymous memory, any alignment */
	P_SHM,		/* inside a mapping of a shmring buffer */
	P_RO,		/* a PROT_READ page */
	P_SHM_RO,	/* a read-only mapping of the shmring buffer */
	P_STRADDLE,	/* starts readable, ends in a PROT_NONE page */
	P_SHM_STRADDLE,	/* the same at the end of a shmring mapping */
	P_NULL,
	P_LOW,		/* below mmap_min_addr */
	P_HOLE,		/* a page that was unmapped */
	P_NONE,		/* a PROT_NONE page */
	P_KERNEL,	/* kernel, non-canonical, or above 47 bits */
	NR_PTR_KINDS
};

static const char * const ptr_names[] = {
	"valid", "shm", "read-only", "shm read-only", "straddling",
	"shm straddling", "NULL", "low", "unmapped", "PROT_NONE", "kernel",
};

static const uint64_t low_ptrs[] = { 0x10, 0x1000, 0x8000 };
static const uint64_t kernel_ptrs[] = {
	0x8000000000000000ULL, 0xffff800000000000ULL, 0xffff888000000000ULL,
	0xffffffff81000000ULL, 0xffffffffff600000ULL, 0xfffffffffffffff8ULL,
	0x7ffffffffffffff8ULL, 0x0000800000000000ULL,
};

static inline uint8_t *low_ptr(uint64_t *s)
{
	return (uint8_t *)(uintptr_t)low_ptrs[rnd_below(s, ARRAY_SIZE(low_ptrs))];
}

static inline uint8_t *kernel_ptr(uint64_t *s)
{
	return (uint8_t *)(uintptr_t)kernel_ptrs[rnd_below(s, ARRAY_SIZE(kernel_ptrs))];
}

static inline bool ptr_readable(enum ptr_kind k)
{
	return k == P_VALID || k == P_SHM || k == P_RO || k == P_SHM_RO;
}

static inline bool ptr_writable(enum ptr_kind k)
{
	return k == P_VALID || k == P_SHM;
}

/* The memory the pointer kinds point into. */
struct fuzz_mem {
	uint64_t page;
	uint8_t *scratch;	/* 2 pages RW, then one PROT_NONE */
	uint8_t *ro_w, *ro_r;	/* one memfd page: writable and read-only views */
	int memfd;
	uint8_t *shm_w;		/* a buffer's last page, RW, then PROT_NONE */
	uint8_t *shm_r;		/* the same page read-only, or NULL */
	uint8_t *hole;		/* unmapped, between two PROT_NONE pages */
};

/*
 * Maps @m: the last page at @last of the buffer open at @rw_fd for shm_w,
 * and through @ro_fd for shm_r unless @ro_fd is negative. NULL, or what
 * failed; fuzz_mem_unmap() undoes what was done either way.
 */
static inline const char *fuzz_mem_map(struct fuzz_mem *m, uint64_t page,
				       const char *memfd_name, int rw_fd,
				       int ro_fd, off_t last)
{
	uint8_t *p;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	m->page = page;
	m->scratch = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->scratch == MAP_FAILED)
		return "mmap scratch";
	if (mprotect(m->scratch + 2 * page, page, PROT_NONE))
		return "mprotect scratch";

	m->memfd = memfd_create(memfd_name, MFD_CLOEXEC);
	if (m->memfd < 0)
		return "memfd_create";
	if (ftruncate(m->memfd, page))
		return "ftruncate memfd";
	m->ro_w = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, m->memfd, 0);
	if (m->ro_w == MAP_FAILED)
		return "mmap memfd RW";
	m->ro_r = mmap(NULL, page, PROT_READ, MAP_SHARED, m->memfd, 0);
	if (m->ro_r == MAP_FAILED)
		return "mmap memfd RO";

	/* The buffer's last page, with a PROT_NONE page after it. */
	p = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return "mmap PROT_NONE";
	m->shm_w = mmap(p, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			rw_fd, last);
	if (m->shm_w != p) {
		munmap(p, 2 * page);
		m->shm_w = NULL;
		return "mmap buffer RW";
	}
	if (ro_fd >= 0) {
		m->shm_r = mmap(NULL, page, PROT_READ, MAP_SHARED, ro_fd, last);
		if (m->shm_r == MAP_FAILED)
			return "mmap buffer RO";
	}

	/* A hole between two PROT_NONE pages, so nothing lands there. */
	p = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return "mmap hole";
	m->hole = p + page;
	if (munmap(m->hole, page))
		return "munmap hole";
	return NULL;
}

static inline void fuzz_mem_unmap(struct fuzz_mem *m)
{
	if (m->scratch && m->scratch != MAP_FAILED)
		munmap(m->scratch, 3 * m->page);
	if (m->shm_w && m->shm_w != MAP_FAILED)
		munmap(m->shm_w, 2 * m->page);
	if (m->shm_r && m->shm_r != MAP_FAILED)
		munmap(m->shm_r, m->page);
	if (m->hole) {
		munmap(m->hole - m->page, m->page);
		munmap(m->hole + m->page, m->page);
	}
	if (m->ro_w && m->ro_w != MAP_FAILED)
		munmap(m->ro_w, m->page);
	if (m->ro_r && m->ro_r != MAP_FAILED)
		munmap(m->ro_r, m->page);
	if (m->memfd >= 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

/*
 * Where an argument of @len bytes and @kind goes: *@ptr for the call,
 * *@wr a writable view of it (or NULL), *@room the bytes accessible from
 * it. @max is the most argument bytes the fuzzer writes.
 */
static inline void fuzz_choose_ptr(const struct fuzz_mem *m, uint64_t *s,
				   enum ptr_kind kind, size_t len, size_t max,
				   uint8_t **ptr, uint8_t **wr, size_t *room)
{
	size_t k, at;

	*wr = NULL;
	*room = len;
	switch (kind) {
	case P_VALID:
		at = FUZZ_GUARD + rnd_below(s, 64);
		*wr = m->scratch + at;
		*ptr = *wr;
		break;
	case P_SHM:
	case P_SHM_RO:
		at = rnd_below(s, m->page - max);
		*wr = m->shm_w + at;
		*ptr = (kind == P_SHM ? m->shm_w : m->shm_r) + at;
		break;
	case P_RO:
		at = rnd_below(s, m->page - max);
		*wr = m->ro_w + at;
		*ptr = m->ro_r + at;
		break;
	case P_STRADDLE:
	case P_SHM_STRADDLE:
		/* 1 to len - 1 bytes before the PROT_NONE page. */
		k = 1 + rnd_below(s, len - 1);
		*wr = (kind == P_STRADDLE ? m->scratch + 2 * m->page :
		       m->shm_w + m->page) - k;
		*ptr = *wr;
		*room = k;
		break;
	case P_NULL:
		*ptr = NULL;
		break;
	case P_LOW:
		*ptr = low_ptr(s);
		break;
	case P_HOLE:
		*ptr = m->hole + rnd_below(s, m->page - max);
		break;
	case P_NONE:
		*ptr = m->scratch + 2 * m->page + rnd_below(s, m->page - max);
		break;
	default:
		*ptr = kernel_ptr(s);
		break;
	}
}

/*
 * Writes the @room bytes of @bytes at @wr, if writable; around a P_VALID
 * argument of @len bytes, guards that the kernel must leave alone.
 */
static inline void fuzz_place(enum ptr_kind kind, uint8_t *wr, size_t len,
			      size_t room, const void *bytes)
{
	if (!wr)
		return;
	if (kind == P_VALID) {
		memset(wr - FUZZ_GUARD, 0x5a, FUZZ_GUARD);
		memset(wr + len, 0x5a, FUZZ_GUARD);
	}
	memcpy(wr, bytes, room);
}

/* Reports */

static inline const char *errname(int err)
{
	switch (err) {
	case 0: return "0";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	case ENODEV: return "ENODEV";
	case EPERM: return "EPERM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case ENOSPC: return "ENOSPC";
	case ENOMEM: return "ENOMEM";
	case ENOTTY: return "ENOTTY";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	default: return strerror(err);
	}
}

/* Appends to the @len bytes at @buf, of which *@n are used; cuts short. */
static inline __printf(4, 5) void append(char *buf, size_t len, size_t *n,
					 const char *fmt, ...)
{
	va_list ap;
	int m;

	if (*n >= len)
		return;
	va_start(ap, fmt);
	m = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (m > 0)
		*n += m;
}

#endif /* SHMRING_FUZZ_H */
