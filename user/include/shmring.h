/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libshmring: message rings in one shared buffer.
 *
 * The buffer is /dev/shmring (WAIT/WAKE through its ioctls) or, for tests and
 * hosts without the module, a memfd (WAIT/WAKE through the futex syscall).
 * Its first page holds a header and a directory of named channels; each
 * channel owns a region with a ring in it:
 *
 *   SHMRING_MSG     one producer, one consumer, variable-size messages
 *   SHMRING_STREAM  one producer, one consumer, a byte stream like a pipe
 *   SHMRING_MPMC    many producers and consumers, fixed-size slots
 *
 * While both sides keep up, sending and receiving make no system call.
 *
 * Error convention, everywhere: a function that fails returns a negative
 * errno value (-EINVAL, ...) and also sets errno to the positive value.
 * Functions returning void or a plain value (shmring_base(), ...) cannot fail.
 *
 * Errors common to all calls:
 *   EINVAL   a bad argument: NULL handle or pointer, a size of zero or over
 *            the limit, a name longer than SHMRING_NAME_MAX, unknown flags,
 *            a call that does not fit the channel's kind or role.
 *   EBADMSG  the shared memory fails validation: a foreign or corrupted
 *            header (bad magic or version, impossible sizes, a region
 *            outside the buffer), or a ring whose indices or records are
 *            impossible. Nothing is read or written out of bounds; the
 *            buffer must be reformatted (shmring_format(FORCE)).
 *            Every opener can write every byte at any time, and the
 *            library checks each value it uses as it uses it: a peer that
 *            writes impossible values gets EBADMSG, one that writes valid
 *            but false ones (a name removed, the allocator at the end,
 *            another kind, a live pid in a lock word) gets the error that
 *            describes what the buffer says (ENOENT, ENOSPC, EPROTOTYPE,
 *            ETIMEDOUT, ...), in bounds all the same.
 *   EPIPE    the peer is gone: the consumer closed (for a producer), or a
 *            participant died without closing (for everyone on the channel;
 *            see "Dead peers" below).
 *
 * Timeouts are in nanoseconds: negative waits forever, 0 never blocks (the
 * call fails with EAGAIN instead), positive fails with ETIMEDOUT once the
 * call has waited that long. Signals do not interrupt ring calls.
 *
 * Dead peers. A participant that dies, is killed or execs without closing
 * marks the channel broken: blocked and later calls get EPIPE once nothing
 * more can be read. A broken channel is reset to empty when its last
 * survivor closes it. Each participant holds a close-on-exec file
 * descriptor of its own on the buffer's file. On the device (module ABI 2),
 * the kernel itself marks the channel broken and wakes every sleeper when
 * that descriptor's file is released: survivors learn of a death at once,
 * whatever pid namespace or container each side is in. Otherwise (the memfd
 * backend, an older module) each participant is recorded with its pid and
 * start time (from /proc/<pid>/stat, which tells a reused pid apart) and
 * holds an open file description lock through that descriptor, which the
 * kernel drops on close, exit, kill and exec; a blocked call sleeps at most
 * SHMRING_LIVENESS_NS at a time, and after each such slice it checks every
 * participant (kill(pid, 0), /proc, and the lock): all participants must
 * then share one pid namespace. In a child of fork(), the library closes
 * its copies of the parent's descriptors, so the parent's death is seen
 * while the child lives (the child opens handles of its own).
 *
 * Environment: SHMRING_NO_MEMBARRIER=1 keeps the process from registering
 * for and issuing membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which SPSC
 * sleepers otherwise use so that their peers may publish with plain stores
 * (see the README and libshmring(3)).
 *
 * Handles. A struct shmring_channel belongs to the process that opened it:
 * after fork, the child opens its own (a struct shmring, whose mapping the
 * child inherits, may be used by both). A channel handle is used by one
 * thread at a time: open one per thread.
 *
 * Holding data. A consumer that peeks without releasing keeps that room from
 * the producer; release before blocking for more if the ring may be full.
 * What a peek or reservation points at stays shared memory, which a peer
 * may change while it is read: copy out what decides anything (a length, an
 * offset) before checking it, as the copying calls do.
 */
#ifndef SHMRING_H
#define SHMRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/shmring.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMRING_DEVICE		"/dev/shmring"
/* A channel name holds 1 to 31 bytes, without NUL. */
#define SHMRING_NAME_MAX	31
/* Number of channels the directory of one buffer holds. */
#define SHMRING_MAX_CHANNELS	63
/* Participants on one channel (MPMC; SPSC has one of each role). */
#define SHMRING_MAX_PEERS	32
/* Longest sleep of a blocked call between two liveness checks. */
#define SHMRING_LIVENESS_NS	100000000LL

/* SPSC capacity in bytes, a power of two in this range. */
#define SHMRING_MIN_CAPACITY	64U
#define SHMRING_MAX_CAPACITY	(1U << 30)
/* MPMC slots, a power of two in this range, each of 1..MAX_SLOT_SIZE bytes. */
#define SHMRING_MIN_SLOTS	2U
#define SHMRING_MAX_SLOTS	(1U << 24)
#define SHMRING_MAX_SLOT_SIZE	(1U << 20)

struct shmring;
struct shmring_channel;

/* ------------------------------------------------------------------ */
/* The buffer and its wait/wake backend                                */
/* ------------------------------------------------------------------ */

enum shmring_backend {
	SHMRING_BACKEND_DEVICE = 1,	/* SHMRING_IOC_WAIT/WAKE on fd */
	SHMRING_BACKEND_FUTEX = 2,	/* futex(2) on the mapping */
};

/*
 * shmring_open - open the device and map all of its buffer read-write.
 * @path: the device node, or NULL for SHMRING_DEVICE.
 * @out: receives the handle.
 * Errors: EINVAL; EPROTO (the module's ABI version is older than any this
 * library speaks); whatever open, SHMRING_IOC_INFO or mmap fail with (ENOENT,
 * EACCES, ENOTTY for a file that is not the device, ENOMEM, ...).
 */
int shmring_open(const char *path, struct shmring **out);

/*
 * shmring_open_memfd - a new memfd of @size bytes (a multiple of the page
 * size), mapped shared, with futex WAIT/WAKE. A child forked afterwards
 * shares it. For tests and hosts without the module. Its size is sealed
 * (F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL): whoever gets the descriptor
 * can write every byte, but cannot truncate it under the mappings.
 * Errors: EINVAL (size 0, not page-aligned, over 1 GiB); memfd_create,
 * ftruncate, F_ADD_SEALS and mmap errors.
 */
int shmring_open_memfd(size_t size, struct shmring **out);

/*
 * shmring_attach - use a mapping the caller made and keeps.
 * @base, @size: the mapping, page-aligned, shared between the processes.
 * @fd: the device fd for SHMRING_BACKEND_DEVICE (not closed by
 *      shmring_close()); ignored (pass -1) for SHMRING_BACKEND_FUTEX.
 * With the device backend, @base must map the device from offset 0.
 * Errors: EINVAL.
 */
int shmring_attach(void *base, size_t size, enum shmring_backend backend,
		   int fd, struct shmring **out);

/* shmring_close - unmap and close what shmring_open*() made; NULL is a no-op.
 * Close the channels first.
 */
void shmring_close(struct shmring *sh);

void *shmring_base(const struct shmring *sh);
size_t shmring_size(const struct shmring *sh);
/* The device fd or the memfd; -1 for an attached futex mapping. */
int shmring_fd(const struct shmring *sh);

/*
 * shmring_info - SHMRING_IOC_INFO on the device. For the futex backend the
 * fields are filled from the mapping (size, page_size, abi_version) and
 * nr_waiters is 0.
 * Errors: EINVAL; the ioctl's errno.
 */
int shmring_info(struct shmring *sh, struct shmring_info *info);

/*
 * shmring_wait - sleep while the aligned 32-bit @word (inside the buffer)
 * still holds @expected, for at most @timeout_ns (negative: forever).
 * Returns 0 when woken (re-check the word). Errors, kept from the kernel:
 * EAGAIN (the word differs), ETIMEDOUT, EINTR, EINVAL (NULL, misaligned or
 * outside the buffer), EFAULT.
 */
int shmring_wait(struct shmring *sh, const uint32_t *word, uint32_t expected,
		 int64_t timeout_ns);

/*
 * shmring_wake - wake at most @count waiters on @word (UINT32_MAX: all).
 * Returns the number woken. Errors: EINVAL, EFAULT.
 */
int shmring_wake(struct shmring *sh, const uint32_t *word, uint32_t count);

/* ------------------------------------------------------------------ */
/* Named instances                                                     */
/* ------------------------------------------------------------------ */

/*
 * Besides /dev/shmring, a module with SHMRING_FEATURE_INSTANCES makes
 * further buffers by name at run time: each its own pages, size, owner,
 * group and mode, its device node SHMRING_INSTANCE_DIR/NAME. Once open, an
 * instance is a buffer like any other: format it, open channels on it.
 *
 * A name is 1 to SHMRING_INST_NAME_MAX - 1 characters of [A-Za-z0-9_.-],
 * the first one not '.' or '-'. Every call below checks it first and fails
 * with EINVAL without a system call.
 *
 * Errors common to the calls below, for a host that cannot have instances:
 *   ENODEV      the shmring module is not loaded (no /dev/shmring-control,
 *               no /dev/shmring, no /sys/module/shmring)
 *   EOPNOTSUPP  the module is loaded but has no instances (it predates
 *               them: no /dev/shmring-control)
 */
#define SHMRING_CONTROL		"/dev/shmring-control"
#define SHMRING_INSTANCE_DIR	"/dev/shmrings"
/* Mode of a new instance's node unless the attr says otherwise. */
#define SHMRING_INSTANCE_MODE	0600

/* shmring_instance_attr.flags */
#define SHMRING_INSTANCE_NODE	(1U << 0)	/* @node is valid */
#define SHMRING_INSTANCE_FLAGS	(SHMRING_INSTANCE_NODE)

/*
 * struct shmring_instance_attr - how to create an instance.
 * @attr_size: sizeof(struct shmring_instance_attr) as the caller knows it;
 *	shmring_instance_attr_init() sets it. Later versions of the library
 *	may add fields at the end: a larger @attr_size is accepted as long as
 *	the bytes this library does not know are zero (else E2BIG), a smaller
 *	one than the first version's is EINVAL.
 * @flags: 0 or SHMRING_INSTANCE_NODE.
 * @size: bytes, 1 to 1 GiB, which the module rounds up to whole pages.
 *	Channels need at least 2 pages.
 * @mode: permission bits of the node, 0001 to 0777 (default 0600).
 * @uid: owner of the node, or SHMRING_ID_CALLER (the default): the
 *	caller's fsuid. Others need CAP_SYS_ADMIN.
 * @gid: group of the node, or SHMRING_ID_CALLER (the default); without
 *	CAP_SYS_ADMIN, the caller's fsgid or one of its supplementary groups.
 * @node: with SHMRING_INSTANCE_NODE, the NUMA node whose memory backs the
 *	instance; else 0.
 * @reserved: zero.
 */
struct shmring_instance_attr {
	uint32_t attr_size;
	uint32_t flags;
	uint64_t size;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	int32_t node;
	uint64_t reserved[4];
};

/* @attr_size of the first version of the struct: every field above. */
#define SHMRING_INSTANCE_ATTR_SIZE_V1	64U

/*
 * shmring_instance_attr_init - zero @attr and set the defaults: @attr_size,
 * mode 0600, uid and gid SHMRING_ID_CALLER. Set @size after it. NULL is a
 * no-op.
 */
void shmring_instance_attr_init(struct shmring_instance_attr *attr);

/*
 * shmring_instance_name_ok - whether @name is a valid instance name.
 * Returns 1 or 0; never fails, never sets errno.
 */
int shmring_instance_name_ok(const char *name);

/*
 * shmring_instance_path - write SHMRING_INSTANCE_DIR "/" @name into @buf.
 * Errors: EINVAL (bad name, NULL @buf), ENAMETOOLONG (@len too small; 64
 * bytes always suffice).
 */
int shmring_instance_path(const char *name, char *buf, size_t len);

/*
 * shmring_instance_create - SHMRING_IOC_CREATE on SHMRING_CONTROL: the
 * instance @name, all its pages allocated now and charged to the caller's
 * memory cgroup. The node appears as SHMRING_INSTANCE_DIR/@name once
 * devtmpfs (and udev, if it runs) made it.
 * Errors, before any system call: EINVAL (bad name, NULL @attr, @attr_size
 * too small, unknown flags, non-zero reserved fields, @size 0 or above
 * 1 GiB, @mode 0 or beyond 0777, @node negative or set without
 * SHMRING_INSTANCE_NODE), E2BIG (unknown trailing bytes of @attr not zero);
 * ENODEV, EOPNOTSUPP; then the kernel's, kept: EACCES (opening the control
 * device), EINVAL (@uid or @gid not mapped, @node not a possible node),
 * ENODEV (@node has no memory), EPERM (@uid or @gid not the caller's own),
 * EEXIST (the name is taken), ENOSPC (the per-user count or bytes, or the
 * module's maximum of instances), ENOMEM (memory, or the memory cgroup's
 * limit).
 */
int shmring_instance_create(const char *name,
			    const struct shmring_instance_attr *attr);

/*
 * shmring_instance_destroy - SHMRING_IOC_DESTROY: the name and the node go
 * at once; the pages when the last open file and mapping of the instance
 * are gone. Handles already open keep working.
 * Errors: EINVAL (bad name, before any system call); ENODEV, EOPNOTSUPP;
 * ENOENT (no instance of that name), EPERM (not its owner, without
 * CAP_SYS_ADMIN), EACCES.
 */
int shmring_instance_destroy(const char *name);

/*
 * shmring_open_instance - shmring_open() of SHMRING_INSTANCE_DIR/@name.
 * Errors: EINVAL (bad name or NULL @out, before any system call); ENODEV,
 * EOPNOTSUPP; ENOENT (no instance of that name); EACCES (the node's owner,
 * group and mode do not let the caller read and write); ENODEV (destroyed
 * while being opened); and those of shmring_open().
 */
int shmring_open_instance(const char *name, struct shmring **out);

/* shmring_instinfo.flags */
#define SHMRING_INSTINFO_NODE	(1U << 0)	/* @uid, @gid, @mode are set */

/*
 * struct shmring_instinfo - one instance, as shmring_instances() sees it.
 * @name: NUL-terminated.
 * @size: bytes, whole pages.
 * @node: the NUMA node of its pages, -1 for any.
 * @creator: the user (initial namespace) it counts against, or
 *	SHMRING_ID_CALLER for none (created at load by instances=).
 * @uid, @gid, @mode: the device node's, from stat(2), when
 *	SHMRING_INSTINFO_NODE is set in @flags (else the node is not there
 *	yet, or not in this mount namespace's /dev).
 * @flags: SHMRING_INSTINFO_*.
 * @reserved: zero.
 */
struct shmring_instinfo {
	char name[SHMRING_INST_NAME_MAX];
	uint64_t size;
	int32_t node;
	uint32_t creator;
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	uint32_t flags;
	uint64_t reserved[4];
};

/*
 * shmring_instances - describe up to @max instances into @out, sorted by
 * name, from /sys/class/shmring. Returns how many there are (may exceed
 * @max); 0 when the module has none. An instance destroyed during the
 * call may be left out.
 * Errors: EINVAL (NULL @out with @max not 0), ENODEV, EOPNOTSUPP, EIO (an
 * attribute that does not read as a number), and those of opendir(3).
 */
int shmring_instances(struct shmring_instinfo *out, unsigned int max);

/* ------------------------------------------------------------------ */
/* Layout                                                              */
/* ------------------------------------------------------------------ */

/* Reformat even a valid or corrupted header: drops every channel. Only when
 * nobody uses the buffer.
 */
#define SHMRING_FORMAT_FORCE	(1U << 0)

/*
 * shmring_format - write the header and an empty directory at offset 0 if
 * the buffer is all zero there, or holds a header whose formatter died
 * before it finished (shmring_channel_open() with SHMRING_CREATE does this
 * on its own). Returns 0 also when a valid header is already there.
 * Errors: EINVAL (flags; buffer smaller than 2 pages), EBADMSG (a foreign
 * or corrupted header, without SHMRING_FORMAT_FORCE), ETIMEDOUT (the
 * directory lock is held by a live process for over 5 s).
 */
int shmring_format(struct shmring *sh, unsigned int flags);

/*
 * shmring_check - validate the header and the directory.
 * Returns 0, or ENOENT (not formatted, or its formatter died before it
 * finished), EBADMSG (corrupted), ETIMEDOUT.
 */
int shmring_check(struct shmring *sh);

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

enum shmring_kind {
	SHMRING_MSG = 1,	/* SPSC, variable-size messages */
	SHMRING_STREAM = 2,	/* SPSC, byte stream */
	SHMRING_MPMC = 3,	/* many to many, fixed-size slots */
};

enum shmring_role {
	SHMRING_PRODUCER = 1,
	SHMRING_CONSUMER = 2,
};

/* shmring_channel_open() flags, like O_CREAT and O_EXCL. */
#define SHMRING_CREATE		(1U << 0)
#define SHMRING_EXCL		(1U << 1)

struct shmring_channel_attr {
	uint32_t kind;		/* enum shmring_kind */
	uint32_t slot_size;	/* MPMC: payload bytes per slot; else 0 */
	uint64_t capacity;	/* SPSC: ring bytes; MPMC: number of slots */
};

/*
 * shmring_channel_open - attach to the channel @name as @role, creating it
 * with @attr first when SHMRING_CREATE is given and it does not exist.
 * Creation and attachment are atomic between processes: the directory
 * changes under a lock in the header whose word names its holder (pid and
 * start time), so a holder that dies is overtaken; an entry goes FREE ->
 * INIT -> READY, and an INIT entry left by a creator that died is taken back.
 * Racing creators of one name end up on the same channel. An existing
 * channel keeps its own capacity and slot size (read them with
 * shmring_channel_attr()); @attr may be NULL without SHMRING_CREATE, but a
 * caller that names the kind it expects is told when the channel is another
 * (message and stream rings are laid out alike: only @attr tells them apart
 * against a peer that rewrote the kind).
 * Channels are never deleted: a name is reused by later pairs (see
 * shmring_channel_close()), and shmring_format(FORCE) clears them all.
 * Errors:
 *   EINVAL       bad arguments or attr (capacity not a power of two, ...)
 *   ENOENT       no such channel (without SHMRING_CREATE), or not formatted
 *   EEXIST       it exists and SHMRING_CREATE|SHMRING_EXCL was given
 *   EPROTOTYPE   it exists with another kind than attr->kind
 *   ENOSPC       the directory is full, or the buffer has no room left
 *   EBUSY        the role is taken (SPSC), or SHMRING_MAX_PEERS are attached
 *   EPIPE        the channel is broken and survivors are still attached
 *   EBADMSG      corrupted header, directory or ring
 *   ETIMEDOUT    a lock is held by a live process for over 5 s
 *   ENOMEM
 */
int shmring_channel_open(struct shmring *sh, const char *name, int role,
			 unsigned int flags,
			 const struct shmring_channel_attr *attr,
			 struct shmring_channel **out);

/*
 * shmring_channel_close - detach and free the handle; NULL is a no-op.
 * A producer publishes what it committed; the consumers then read it and
 * see end-of-file once no producer is attached. An MPMC slot still reserved
 * is published empty (consumers skip it); a slot still held is released.
 * When the last participant leaves a channel whose consumer side has closed
 * or that is broken, the channel is reset to empty. Data a producer leaves
 * before any consumer came stays for the next consumer.
 * Errors: ETIMEDOUT (the channel lock stayed held; the handle is freed).
 */
int shmring_channel_close(struct shmring_channel *ch);

/* Kind, capacity and slot size of the channel. Errors: EINVAL. */
int shmring_channel_attr(const struct shmring_channel *ch,
			 struct shmring_channel_attr *attr);

/* The largest message shmring_msg_send() takes on this channel: capacity/2
 * - 8 for SHMRING_MSG, the slot size for SHMRING_MPMC, 0 for a stream.
 */
size_t shmring_channel_max_msg(const struct shmring_channel *ch);

struct shmring_stats {
	uint64_t messages;	/* messages (or stream chunks) moved */
	uint64_t bytes;		/* payload bytes moved */
	uint64_t waits;		/* WAIT calls made */
	uint64_t wakes;		/* WAKE calls made */
	uint64_t timeouts;	/* WAITs that ran out a whole liveness slice */
	uint64_t barriers;	/* membarrier calls, one before each SPSC sleep */
};

/*
 * Event loops (the device, module ABI 2 with SHMRING_FEATURE_WATCH):
 *
 * shmring_channel_fd - a descriptor that epoll, poll, select, io_uring or
 * asyncio can wait on for this handle's side: readable when the peer may
 * have produced (for a consumer) or consumed (for a producer), or the
 * channel's state changed (end-of-file, hang-up, a dead participant). It
 * belongs to the handle (close-on-exec, non-blocking; closed with it, so
 * remove it from an epoll set before shmring_channel_close(), and never
 * dup() it); the same one is returned every time. It is readable on a
 * change only after shmring_channel_arm() returned 0 (and when a peer
 * dies): arm again after every call that returned EAGAIN. Errors: EINVAL;
 * EOPNOTSUPP (the memfd backend, or a module without watch fds); whatever
 * SHMRING_IOC_WATCH fails with (EMFILE, ENOSPC, ENOMEM, ...).
 *
 * shmring_channel_arm - after a call with timeout 0 failed with EAGAIN,
 * make sure the fd becomes readable on the next change. Returns 1 when
 * something changed since that call (call again: data, room or a state
 * change may be there), 0 when armed: wait on the fd, then call again. The
 * fd needs no read(): arm drains it. Arm compares with what the last
 * EAGAIN of this handle found, once: without an EAGAIN since the last arm,
 * or after progress since, it returns 1. While both sides keep up, neither
 * arms, and nothing makes a system call.
 *	for (;;) {
 *		while ((n = shmring_msg_recv(ch, buf, len, 0)) > 0)
 *			handle(buf, n);
 *		if (n != -EAGAIN)
 *			break;			(0: end-of-file; EPIPE, ...)
 *		if (shmring_channel_arm(ch) == 0)
 *			epoll_wait(...);	(the fd, among others)
 *	}
 * Errors: EINVAL (no shmring_channel_fd() yet); EOPNOTSUPP (a peer whose
 * end the kernel would not tell, such as one of an older library, or this
 * process cannot use membarrier while a peer publishes with plain stores,
 * see SHMRING_NO_MEMBARRIER: a poll could then miss a change, and the
 * blocking calls, which check in liveness slices, must be used instead);
 * the errors of read(2) on the fd.
 */
int shmring_channel_fd(struct shmring_channel *ch);
int shmring_channel_arm(struct shmring_channel *ch);

/* Counters of this handle since it was opened. Errors: EINVAL. */
int shmring_channel_stats(const struct shmring_channel *ch,
			  struct shmring_stats *st);

struct shmring_chinfo {
	char name[SHMRING_NAME_MAX + 1];
	uint32_t kind;
	uint32_t slot_size;
	uint64_t capacity;
	uint64_t offset;	/* region in the buffer */
	uint64_t length;
	uint64_t used;		/* bytes (SPSC) or slots (MPMC) queued */
	uint32_t producers;	/* participants attached now */
	uint32_t consumers;
	uint32_t flags;		/* SHMRING_CH_* */
};

#define SHMRING_CH_EOF		(1U << 0)	/* producers closed */
#define SHMRING_CH_HUP		(1U << 1)	/* consumers closed */
#define SHMRING_CH_BROKEN	(1U << 2)	/* a participant died */

/*
 * shmring_channels - describe up to @max channels into @out.
 * Returns how many channels exist (may exceed @max). Errors: EINVAL,
 * EBADMSG, ETIMEDOUT; 0 for an unformatted buffer.
 */
int shmring_channels(struct shmring *sh, struct shmring_chinfo *out,
		     unsigned int max);

struct shmring_peerinfo {
	uint32_t pid;		/* as recorded: the pid in its own namespace */
	uint32_t role;		/* SHMRING_PRODUCER or SHMRING_CONSUMER */
	uint32_t dead;		/* 1: gone without closing, not yet reaped */
	uint32_t kernel;	/* 1: the kernel tells of its end (ABI 2) */
};

/*
 * shmring_channel_peers - the participants attached to channel @name, up to
 * @max of them into @out. Returns how many there are (may exceed @max).
 * Errors: EINVAL, ENOENT, EBADMSG, ETIMEDOUT.
 */
int shmring_channel_peers(struct shmring *sh, const char *name,
			  struct shmring_peerinfo *out, unsigned int max);

/* ------------------------------------------------------------------ */
/* Messages: SHMRING_MSG and SHMRING_MPMC                              */
/* ------------------------------------------------------------------ */

/* Commit without publishing yet: a later commit or shmring_flush()
 * publishes the whole batch with one store. For shmring_msg_commit() on
 * SHMRING_MSG and shmring_stream_commit(); MPMC publishes each slot at once.
 */
#define SHMRING_MORE		(1U << 0)

/*
 * Messages carry 1 to shmring_channel_max_msg() bytes; the receiving calls
 * return 0 for end-of-file (no producer attached any more, after one was,
 * and everything read).
 */

/*
 * shmring_msg_send - copy one message in. Returns @len.
 * Errors: EINVAL, EAGAIN/ETIMEDOUT (full), EPIPE, EBADMSG.
 */
ssize_t shmring_msg_send(struct shmring_channel *ch, const void *buf,
			 size_t len, int64_t timeout_ns);

/*
 * shmring_msg_recv - copy one message out and release it (and anything
 * peeked before). Returns its length, or 0 at end-of-file.
 * Errors: EINVAL, EMSGSIZE (@len too small; the message stays: SPSC
 * rewinds, MPMC keeps the slot held and the next recv returns it),
 * EAGAIN/ETIMEDOUT (empty), EPIPE, EBADMSG.
 */
ssize_t shmring_msg_recv(struct shmring_channel *ch, void *buf, size_t len,
			 int64_t timeout_ns);

/*
 * shmring_msg_reserve - room for a message of up to @len bytes, in place;
 * *@data points at it (8-byte aligned) until shmring_msg_commit(). One
 * reservation at a time. Errors: EINVAL, EBUSY (one is outstanding),
 * EAGAIN/ETIMEDOUT, EPIPE, EBADMSG.
 */
int shmring_msg_reserve(struct shmring_channel *ch, size_t len, void **data,
			int64_t timeout_ns);

/*
 * shmring_msg_commit - finish the reservation as a message of @len bytes
 * (1..reserved), and publish it unless @flags has SHMRING_MORE.
 * Errors: EINVAL (nothing reserved, bad len or flags).
 */
int shmring_msg_commit(struct shmring_channel *ch, size_t len,
		       unsigned int flags);

/* shmring_flush - publish what the producer committed with SHMRING_MORE
 * (messages or stream bytes). Errors: EINVAL.
 */
int shmring_flush(struct shmring_channel *ch);

/*
 * shmring_msg_peek - the next message, in place. Returns its length and
 * sets *@data, or 0 at end-of-file. SHMRING_MSG: several peeks may precede
 * one shmring_msg_release(), which frees them all (a batch); the data stays
 * valid until then. MPMC: one message at a time.
 * Errors: EINVAL, EBUSY (MPMC: one is held), EAGAIN/ETIMEDOUT, EPIPE, EBADMSG.
 */
ssize_t shmring_msg_peek(struct shmring_channel *ch, const void **data,
			 int64_t timeout_ns);

/* shmring_msg_release - give back what was peeked. Errors: EINVAL. */
int shmring_msg_release(struct shmring_channel *ch);

/* ------------------------------------------------------------------ */
/* Byte stream: SHMRING_STREAM                                         */
/* ------------------------------------------------------------------ */

/*
 * shmring_stream_write - write all @len bytes, blocking as needed. Returns
 * @len, or fewer if the timeout expired or the peer went away after some
 * were written (the next call reports why).
 * Errors: EINVAL, EAGAIN/ETIMEDOUT, EPIPE, EBADMSG.
 */
ssize_t shmring_stream_write(struct shmring_channel *ch, const void *buf,
			     size_t len, int64_t timeout_ns);

/*
 * shmring_stream_read - read 1 to @len bytes, blocking until there is one.
 * Returns the count, or 0 at end-of-file.
 * Errors: EINVAL, EAGAIN/ETIMEDOUT, EPIPE, EBADMSG.
 */
ssize_t shmring_stream_read(struct shmring_channel *ch, void *buf, size_t len,
			    int64_t timeout_ns);

/*
 * shmring_stream_reserve - the contiguous free span at the write position,
 * in place. Returns its length (at least 1) and sets *@data.
 * Errors: as shmring_stream_write().
 */
ssize_t shmring_stream_reserve(struct shmring_channel *ch, void **data,
			       int64_t timeout_ns);

/* shmring_stream_commit - append @n bytes (up to the reserved span) written
 * in place; publish unless SHMRING_MORE. Errors: EINVAL.
 */
int shmring_stream_commit(struct shmring_channel *ch, size_t n,
			  unsigned int flags);

/*
 * shmring_stream_peek - the contiguous readable span, in place. Returns its
 * length and sets *@data, or 0 at end-of-file.
 * Errors: as shmring_stream_read().
 */
ssize_t shmring_stream_peek(struct shmring_channel *ch, const void **data,
			    int64_t timeout_ns);

/* shmring_stream_release - consume @n bytes (up to the peeked span).
 * Errors: EINVAL.
 */
int shmring_stream_release(struct shmring_channel *ch, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_H */
