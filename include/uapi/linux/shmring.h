/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmring: buffers of physical pages shared by every process that maps
 * them, with futex-like WAIT/WAKE on 32-bit words inside them.
 *
 * /dev/shmring is the default buffer, sized when the module loads. Further
 * buffers, instances, are created and destroyed by name at run time
 * through /dev/shmring-control (struct shmring_create) and appear as
 * /dev/shmrings/NAME, each with its own pages, size, owner, mode and wait
 * queues. An instance's device speaks exactly the ioctls of /dev/shmring.
 *
 * The layouts below are identical for 32-bit and 64-bit callers.
 */
#ifndef _UAPI_LINUX_SHMRING_H
#define _UAPI_LINUX_SHMRING_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMRING_ABI_VERSION	2

/* shmring_info.features: what this module offers beyond ABI version 1. */
#define SHMRING_FEATURE_WATCH	(1ULL << 0)	/* SHMRING_IOC_WATCH and its fds */
#define SHMRING_FEATURE_RELEASE	(1ULL << 1)	/* SHMRING_IOC_RELEASE_ADD/DEL */
/* /dev/shmring-control and named instances, SHMRING_IOC_CREATE/DESTROY */
#define SHMRING_FEATURE_INSTANCES	(1ULL << 2)

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
 * @features: SHMRING_FEATURE_* bits: 0 in ABI version 1; version 2 sets
 *	SHMRING_FEATURE_WATCH and SHMRING_FEATURE_RELEASE, and modules that
 *	have instances also SHMRING_FEATURE_INSTANCES. Instances add a
 *	device and two ioctls but change nothing a version 2 program does,
 *	so the version stays 2: test the bit. Other bits are reserved.
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
 * Every WAKE on a word also notifies every watch fd that watches it (see
 * struct shmring_watch), whatever @count is, 0 included: each such fd's
 * counter goes up by 1. Watchers are not counted in the return value.
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

#define SHMRING_WATCH_MAX	64		/* words per watch fd */
/* Words watched by all watch fds of the device together. */
#define SHMRING_WATCH_TOTAL_MAX	16384
#define SHMRING_WATCH_NONBLOCK	(1U << 0)	/* the new fd is O_NONBLOCK */
#define SHMRING_WATCH_FLAGS	(SHMRING_WATCH_NONBLOCK)

/**
 * struct shmring_watch - argument of SHMRING_IOC_WATCH, _WATCH_ADD, _WATCH_DEL
 * @offsets: user pointer to an array of @nr __u64 byte offsets, each of a
 *	naturally aligned 32-bit word in the buffer, no offset twice.
 * @nr: number of offsets, 0 to SHMRING_WATCH_MAX; with 0, @offsets is not
 *	read.
 * @flags: SHMRING_WATCH_NONBLOCK or 0 for SHMRING_IOC_WATCH; 0 for
 *	SHMRING_IOC_WATCH_ADD and SHMRING_IOC_WATCH_DEL.
 * @reserved: zero.
 *
 * SHMRING_IOC_WATCH, on a device fd opened for reading (else EBADF, before
 * the argument is looked at), returns a new file descriptor, a watch fd,
 * that watches the @nr words: O_RDONLY and close-on-exec, O_NONBLOCK with
 * SHMRING_WATCH_NONBLOCK. Every SHMRING_IOC_WAKE on a watched word, and
 * every release action on it (struct shmring_release), adds 1 to the watch
 * fd's counter; a 64-bit counter that stops at 2^64 - 1.
 *
 * The watch fd works like an eventfd that only WAKE can write:
 *
 * - read(2) of 8 bytes or more returns the counter as a __u64 and resets
 *   it to 0. While it is 0, read blocks until a WAKE (interruptibly), or
 *   fails with EAGAIN if the fd is O_NONBLOCK. A buffer under 8 bytes
 *   fails with EINVAL; write(2) fails with EBADF (the fd is read-only).
 * - poll(2), select(2), epoll(7) (level and edge triggered) and io_uring
 *   report it readable (EPOLLIN) while the counter is not 0; every WAKE is
 *   a new edge.
 * - /proc/<pid>/fdinfo/<fd> shows a line "shmring-watch-count:", a tab
 *   and the pending count in decimal, then a line "shmring-watch-offsets:"
 *   and the watched offsets, each as a space and 0x<hex>, in no particular
 *   order.
 *
 * A watch fd holds its device open file, and so the module: the device
 * file's release actions run only once its watch fds are closed too, and
 * the module cannot be unloaded while a watch fd is open.
 *
 * SHMRING_IOC_WATCH_ADD and SHMRING_IOC_WATCH_DEL, on a watch fd, add
 * words to what it watches and remove them: all of @nr or none.
 *
 * Errors (-1 and errno), checked in this order: EBADF (SHMRING_IOC_WATCH
 * on a device fd not open for reading); EFAULT (bad argument pointer);
 * EINVAL (unknown or, for ADD and DEL, any @flags; non-zero @reserved);
 * ENOSPC (@nr above SHMRING_WATCH_MAX); EFAULT (bad @offsets); EINVAL (a
 * misaligned or out-of-range offset, an offset twice in the array); then
 * for ADD, ENOSPC (more than SHMRING_WATCH_MAX words would be watched) and
 * EINVAL (a word already watched); for DEL, ENOENT (a word not watched);
 * for WATCH and ADD, ENOSPC (the device's watch fds would watch more than
 * SHMRING_WATCH_TOTAL_MAX words together: every WAKE walks the entries of
 * its bucket, and this bounds the walk); for SHMRING_IOC_WATCH, ENOMEM,
 * EMFILE or ENFILE. Device ioctls on a
 * watch fd, and watch fd ioctls on a device fd, fail with ENOTTY.
 */
struct shmring_watch {
	__u64 offsets;
	__u32 nr;
	__u32 flags;
	__u64 reserved[2];
};

#define SHMRING_RELEASE_STORE	0	/* word = value */
#define SHMRING_RELEASE_OR	1	/* word |= value */
#define SHMRING_RELEASE_ADD	2	/* word += value, modulo 2^32 */
#define SHMRING_RELEASE_MAX	64	/* actions per open file */

/**
 * struct shmring_release - argument of SHMRING_IOC_RELEASE_ADD and _DEL
 * @offset: byte offset of a naturally aligned 32-bit word in the buffer.
 * @op: SHMRING_RELEASE_STORE, SHMRING_RELEASE_OR or SHMRING_RELEASE_ADD.
 * @value: the operand of @op.
 * @flags: zero.
 * @id: RELEASE_ADD: set on return, non-zero, unique among the actions of
 *	the open file (ignored on input); RELEASE_DEL: the action to remove.
 * @reserved: zero.
 *
 * A release action belongs to one open file description of the device,
 * the one open(2) made: dup(2), fork(2) and SCM_RIGHTS share it. When that
 * open file is released, after the last reference to it is gone, every
 * action it still holds runs, in the order they were added: @op on the
 * word as one atomic operation, and then a wake-up of every waiter and
 * every watch fd on the word, as SHMRING_IOC_WAKE with count UINT32_MAX.
 * That is the last close(2) of the last file descriptor, the exit or
 * SIGKILL of the last process that held it, or an exec(2) that closes it
 * (O_CLOEXEC, FD_CLOEXEC); but not while anything else holds the open
 * file: a child from fork(2) holds it as long as it keeps the fd, a
 * mapping made through the open file holds it until munmap(2) or exit, and
 * a watch fd made from it holds it until closed. Register actions on an
 * open of their own, neither mapped nor used for SHMRING_IOC_WATCH.
 *
 * /proc/<pid>/fdinfo/<fd> of the device fd shows one line per action, in
 * order: "shmring-release:", a tab, then "id=<id> offset=0x<offset>
 * op=<op> value=0x<value>", id in decimal, op one of store, or and add.
 *
 * Both need a device fd opened for writing (O_WRONLY or O_RDWR), as WAKE
 * does: otherwise EBADF, before the argument is looked at. They return 0,
 * or -1 with errno EFAULT, EINVAL (RELEASE_ADD: misaligned or out-of-range
 * @offset, unknown @op, non-zero @flags or @reserved; RELEASE_DEL:
 * anything but @id non-zero), ENOSPC (RELEASE_ADD: the open file holds
 * SHMRING_RELEASE_MAX actions already), ENOENT (RELEASE_DEL: no action
 * with that @id) or ENOMEM. On any error nothing was added or removed.
 */
struct shmring_release {
	__u64 offset;
	__u32 op;
	__u32 value;
	__u32 flags;
	__u32 id;
	__u64 reserved;
};

#define SHMRING_INST_NAME_MAX	32	/* bytes of a name, its NUL included */
#define SHMRING_CREATE_NODE	(1U << 0)	/* @node is valid */
#define SHMRING_CREATE_FLAGS	(SHMRING_CREATE_NODE)
/* As uid or gid: the caller's own, its fsuid or fsgid. */
#define SHMRING_ID_CALLER	0xffffffffU

/**
 * struct shmring_create - argument of SHMRING_IOC_CREATE
 * @size: bytes, 1 to 1 GiB, rounded up to whole pages.
 * @flags: 0 or SHMRING_CREATE_NODE.
 * @mode: permission bits of the device node, 0001 to 0777 (octal).
 * @uid: owner of the device node, in the caller's user namespace, or
 *	SHMRING_ID_CALLER.
 * @gid: group of the device node, likewise.
 * @node: with SHMRING_CREATE_NODE, the NUMA node whose memory the pages
 *	come from, and only that node's; else zero.
 * @reserved0: zero.
 * @name: the instance's name, NUL-terminated, zero after the NUL: 1 to
 *	SHMRING_INST_NAME_MAX - 1 characters of [A-Za-z0-9_.-], the first one
 *	not a '.' or '-' (so no ".", "..", hidden or option-like names).
 * @reserved: zero.
 *
 * On /dev/shmring-control, which any user may open (its mode is 0666),
 * SHMRING_IOC_CREATE makes an instance: @size bytes of zeroed pages, all
 * allocated now and charged to the memory cgroup of the caller, and the
 * device node /dev/shmrings/NAME, created by devtmpfs with @uid, @gid and
 * @mode (a udev rule may change them; the one shipped does not). The
 * instance lives until SHMRING_IOC_DESTROY, or until the module unloads.
 *
 * Limits: an instance's pages count against the user that created it
 * (its real uid) until they are freed, as module parameters set:
 * user_instances instances and user_bytes bytes per user. A caller with
 * CAP_SYS_ADMIN in the initial user namespace is not limited, and may give
 * the node any owner and group; other callers may give it only their own
 * fsuid, and their fsgid or a supplementary group.
 *
 * Returns 0, or -1 with errno, checked in this order: EFAULT (bad
 * argument pointer); EINVAL (unknown @flags, non-zero @reserved0 or
 * @reserved, @node without SHMRING_CREATE_NODE, a bad @name, @size 0 or
 * above 1 GiB, @mode 0 or beyond 0777, @uid or @gid not mapped in the
 * caller's namespace, @node not a possible node number); ENODEV (@node
 * has no memory: offline or memoryless); EPERM (@uid or @gid not the
 * caller's own, without CAP_SYS_ADMIN); EEXIST (an instance of that name
 * exists); ENOSPC (the caller's user_instances or user_bytes would be
 * exceeded, or the module holds its maximum of instances); ENOMEM (the
 * pages or the memory cgroup's limit: creation fails, a mapping never
 * does later; also above half of RAM).
 */
struct shmring_create {
	__u64 size;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__s32 node;
	__u32 reserved0;
	char name[SHMRING_INST_NAME_MAX];
	__u64 reserved[4];
};

/**
 * struct shmring_destroy - argument of SHMRING_IOC_DESTROY
 * @name: as in struct shmring_create.
 * @flags: zero.
 * @reserved0: zero.
 * @reserved: zero.
 *
 * On /dev/shmring-control, by the owner of the instance (the uid its node
 * was created with) or a caller with CAP_SYS_ADMIN in the initial user
 * namespace: the name and the device node go at once, so that opens fail
 * from then on (ENODEV through a file still naming the old node) and the
 * name may be created again; the pages stay until the last open file and
 * the last mapping of the instance are gone, which keep working meanwhile.
 *
 * Returns 0, or -1 with errno EFAULT, EINVAL (bad @name, non-zero @flags
 * or reserved fields), ENOENT (no instance of that name) or EPERM.
 */
struct shmring_destroy {
	char name[SHMRING_INST_NAME_MAX];
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

#define SHMRING_IOC_MAGIC	0xD5

#define SHMRING_IOC_INFO	_IOR(SHMRING_IOC_MAGIC, 0, struct shmring_info)
#define SHMRING_IOC_WAIT	_IOW(SHMRING_IOC_MAGIC, 1, struct shmring_wait)
#define SHMRING_IOC_WAKE	_IOW(SHMRING_IOC_MAGIC, 2, struct shmring_wake)
/* On a device fd; returns a new watch fd. */
#define SHMRING_IOC_WATCH	_IOW(SHMRING_IOC_MAGIC, 3, struct shmring_watch)
/* On a watch fd. */
#define SHMRING_IOC_WATCH_ADD	_IOW(SHMRING_IOC_MAGIC, 4, struct shmring_watch)
#define SHMRING_IOC_WATCH_DEL	_IOW(SHMRING_IOC_MAGIC, 5, struct shmring_watch)
/* On a device fd. */
#define SHMRING_IOC_RELEASE_ADD	_IOWR(SHMRING_IOC_MAGIC, 6, struct shmring_release)
/* Only @id set: offset, op, value, flags and reserved must be 0. */
#define SHMRING_IOC_RELEASE_DEL	_IOW(SHMRING_IOC_MAGIC, 7, struct shmring_release)
/* On /dev/shmring-control. */
#define SHMRING_IOC_CREATE	_IOW(SHMRING_IOC_MAGIC, 8, struct shmring_create)
#define SHMRING_IOC_DESTROY	_IOW(SHMRING_IOC_MAGIC, 9, struct shmring_destroy)

#endif /* _UAPI_LINUX_SHMRING_H */
