/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmring: one buffer of physical pages shared by every process that maps
 * /dev/shmring, with futex-like WAIT/WAKE on 32-bit words inside it.
 *
 * The layouts below are identical for 32-bit and 64-bit callers.
 */
#ifndef _UAPI_LINUX_SHMRING_H
#define _UAPI_LINUX_SHMRING_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMRING_ABI_VERSION	1

/**
 * struct shmring_info - what SHMRING_IOC_INFO reports about the buffer
 * @size: buffer size in bytes, a whole number of pages.
 * @page_size: the kernel's page size in bytes; mmap offsets are multiples of it.
 * @abi_version: SHMRING_ABI_VERSION of the loaded module.
 * @nr_waiters: number of tasks queued in SHMRING_IOC_WAIT: a task counts
 *	from the moment WAIT queues it, just before it goes to sleep, until a
 *	WAKE dequeues it or it leaves. A sum of per-bucket counts, bucket by
 *	bucket, without a lock: exact while no WAIT or WAKE runs; meanwhile a
 *	task that moves from one word to another during the sum may be
 *	counted twice or not at all.
 * @reserved0: zero.
 * @features: feature bits; 0 in ABI version 1, bits reserved for later.
 * @reserved: zero.
 */
struct shmring_info {
	__u64 size;
	__u32 page_size;
	__u32 abi_version;
	__u32 nr_waiters;
	__u32 reserved0;
	__u64 features;
	__u64 reserved[4];
};

/*
 * timeout_ns is an absolute CLOCK_MONOTONIC deadline, not a duration: the
 * caller's clock, as clock_gettime() gives it, in its time namespace too.
 */
#define SHMRING_WAIT_ABSTIME	(1U << 0)
#define SHMRING_WAIT_FLAGS	(SHMRING_WAIT_ABSTIME)

/**
 * struct shmring_wait - argument of SHMRING_IOC_WAIT
 * @offset: byte offset of a naturally aligned 32-bit word in the buffer.
 * @expected: sleep only while the word still holds this value.
 * @flags: 0 or SHMRING_WAIT_ABSTIME; other bits are rejected with EINVAL.
 * @timeout_ns: relative timeout in nanoseconds, or an absolute
 *	CLOCK_MONOTONIC deadline with SHMRING_WAIT_ABSTIME, on the clock of
 *	the caller's time namespace. Negative waits forever; 0 never sleeps.
 *
 * Needs a file descriptor opened for reading (O_RDONLY or O_RDWR), like
 * read(2): otherwise EBADF, before the argument is looked at.
 *
 * Returns 0 when woken by SHMRING_IOC_WAKE (callers must re-check the word:
 * the value may have changed again), or -1 with errno EAGAIN (word differs
 * at the call), ETIMEDOUT, EINTR (signal), EINVAL (misaligned or
 * out-of-range offset, unknown flags), EFAULT (bad argument pointer) or
 * EBADF (not open for reading).
 */
struct shmring_wait {
	__u64 offset;
	__u32 expected;
	__u32 flags;
	__s64 timeout_ns;
};

/**
 * struct shmring_wake - argument of SHMRING_IOC_WAKE
 * @offset: byte offset of a naturally aligned 32-bit word in the buffer.
 * @count: wake at most this many waiters on @offset; UINT32_MAX wakes all.
 *	Waiters are woken in futex's order: real-time tasks first, by
 *	priority; every other task after them, whatever its nice value;
 *	first come, first woken within one priority.
 * @flags: zero.
 *
 * Needs a file descriptor opened for writing (O_WRONLY or O_RDWR), like
 * write(2): otherwise EBADF, before the argument is looked at.
 *
 * Returns the number of waiters woken, or -1 with errno EINVAL (misaligned
 * or out-of-range offset, non-zero flags), EFAULT or EBADF (not open for
 * writing).
 */
struct shmring_wake {
	__u64 offset;
	__u32 count;
	__u32 flags;
};

#define SHMRING_IOC_MAGIC	0xD5

#define SHMRING_IOC_INFO	_IOR(SHMRING_IOC_MAGIC, 0, struct shmring_info)
#define SHMRING_IOC_WAIT	_IOW(SHMRING_IOC_MAGIC, 1, struct shmring_wait)
#define SHMRING_IOC_WAKE	_IOW(SHMRING_IOC_MAGIC, 2, struct shmring_wake)

#endif /* _UAPI_LINUX_SHMRING_H */
