// SPDX-License-Identifier: GPL-2.0
/*
 * shmring watch fds: a file descriptor whose counter every WAKE on one of
 * its words increments, read and polled like an eventfd (fs/eventfd.c), so
 * that one epoll, poll or io_uring loop can wait for many words and other
 * file descriptors at once.
 *
 * Each watched word is a struct shmring_watch_entry in the word's bucket
 * (shmring_wait.c), reached by WAKE only under the bucket lock. A watch fd
 * is freed by its ->release(), after the last reference to the file is
 * gone: no read() is in progress then (it holds a reference), epoll has
 * dropped its entries (eventpoll_release() runs in __fput() before
 * ->release()), and io_uring holds a reference while it polls. Every entry
 * is unlinked under its bucket lock first, so no WAKE touches the watcher
 * any more when it is freed.
 */

#include <linux/anon_inodes.h>
#include <linux/bitmap.h>
#include <linux/err.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait.h>

#include <uapi/linux/shmring.h>

#include "shmring.h"

/**
 * struct shmring_watcher - the state behind one watch fd
 * @sdev: the device.
 * @dev_file: the device's open file it was made from; a reference held
 *	until the watch fd's release.
 * @wqh: readers and pollers; its lock guards @count.
 * @count: WAKEs seen since the last read, stopping at U64_MAX.
 * @lock: serialises WATCH_ADD, WATCH_DEL and fdinfo; guards @used.
 * @used: which of @entries are linked in their buckets.
 * @entries: the watched words, one slot each.
 */
struct shmring_watcher {
	struct shmring_dev *sdev;
	struct file *dev_file;
	wait_queue_head_t wqh;
	u64 count;
	struct mutex lock;	/* serialises ADD and DEL, guards @used */
	DECLARE_BITMAP(used, SHMRING_WATCH_MAX);
	struct shmring_watch_entry entries[SHMRING_WATCH_MAX];
};

/*
 * Called by WAKE under the bucket lock of a word @w watches: that lock
 * keeps @w alive. As eventfd_signal(): the count changes only under the
 * waitqueue lock, and readers and pollers are woken with EPOLLIN, once
 * per WAKE, so that edge-triggered epoll sees every one.
 */
void shmring_watcher_notify(struct shmring_watcher *w)
{
	unsigned long flags;

	spin_lock_irqsave(&w->wqh.lock, flags);
	if (w->count != U64_MAX)
		w->count++;
	/* Under the lock that adding to @wqh takes: nobody is missed. */
	if (waitqueue_active(&w->wqh))
		wake_up_locked_poll(&w->wqh, EPOLLIN | EPOLLRDNORM);
	spin_unlock_irqrestore(&w->wqh.lock, flags);
}

static ssize_t shmring_watch_read(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct shmring_watcher *w = file->private_data;
	u64 count;

	if (iov_iter_count(to) < sizeof(count))
		return -EINVAL;
	spin_lock_irq(&w->wqh.lock);
	if (!w->count) {
		if ((file->f_flags & O_NONBLOCK) ||
		    (iocb->ki_flags & IOCB_NOWAIT)) {
			spin_unlock_irq(&w->wqh.lock);
			return -EAGAIN;
		}
		/* Checks the count under the lock, as WAKE changes it. */
		if (wait_event_interruptible_locked_irq(w->wqh, w->count)) {
			spin_unlock_irq(&w->wqh.lock);
			return -ERESTARTSYS;
		}
	}
	count = w->count;
	w->count = 0;
	spin_unlock_irq(&w->wqh.lock);

	if (copy_to_iter(&count, sizeof(count), to) == sizeof(count))
		return sizeof(count);
	/*
	 * A read that fails consumes nothing: the count goes back, and
	 * whoever saw it 0 meanwhile and went to sleep is woken to see it.
	 */
	spin_lock_irq(&w->wqh.lock);
	w->count = count > U64_MAX - w->count ? U64_MAX : w->count + count;
	/* Under the lock that adding to @wqh takes: nobody is missed. */
	if (waitqueue_active(&w->wqh))
		wake_up_locked_poll(&w->wqh, EPOLLIN | EPOLLRDNORM);
	spin_unlock_irq(&w->wqh.lock);
	return -EFAULT;
}

static __poll_t shmring_watch_poll(struct file *file, poll_table *wait)
{
	struct shmring_watcher *w = file->private_data;

	poll_wait(file, &w->wqh, wait);
	/*
	 * As eventfd_poll(): every change of the count is under the
	 * waitqueue lock, which poll_wait() takes (add_wait_queue()) if the
	 * caller is to sleep. This read cannot move above that lock's
	 * acquisition, so either it sees a WAKE's increment, or that WAKE
	 * takes the lock after us, finds us queued and wakes us.
	 */
	return READ_ONCE(w->count) ? EPOLLIN | EPOLLRDNORM : 0;
}

/* Unlinks and frees everything; called with no WATCH_ADD or DEL left. */
static void shmring_watcher_free(struct shmring_watcher *w)
{
	unsigned int i;

	for_each_set_bit(i, w->used, SHMRING_WATCH_MAX)
		shmring_watch_unlink(w->sdev, &w->entries[i]);
	atomic_sub(bitmap_weight(w->used, SHMRING_WATCH_MAX),
		   &w->sdev->nr_watched);
	fput(w->dev_file);
	mutex_destroy(&w->lock);
	kfree(w);
}

static int shmring_watch_release(struct inode *inode, struct file *file)
{
	shmring_watcher_free(file->private_data);
	return 0;
}

/* The slot of @offset, or -1. */
static int shmring_watch_find(struct shmring_watcher *w, u64 offset)
{
	unsigned int i;

	for_each_set_bit(i, w->used, SHMRING_WATCH_MAX)
		if (w->entries[i].offset == offset)
			return i;
	return -1;
}

/*
 * Copies in and checks the argument of WATCH, WATCH_ADD or WATCH_DEL:
 * @allowed flags, zero reserved, at most SHMRING_WATCH_MAX offsets, each a
 * valid word, none twice. Fills @offs and returns the count, or -errno.
 */
static int shmring_watch_args(struct shmring_dev *sdev, void __user *arg,
			      u32 allowed, u64 *offs, u32 *flags)
{
	struct shmring_watch uw;
	unsigned int i, j;

	if (copy_from_user(&uw, arg, sizeof(uw)))
		return -EFAULT;
	if (uw.flags & ~allowed || uw.reserved[0] || uw.reserved[1])
		return -EINVAL;
	if (uw.nr > SHMRING_WATCH_MAX)
		return -ENOSPC;
	if (uw.nr && copy_from_user(offs, u64_to_user_ptr(uw.offsets),
				    array_size(uw.nr, sizeof(*offs))))
		return -EFAULT;
	for (i = 0; i < uw.nr; i++) {
		if (!shmring_word_ok(sdev, offs[i]))
			return -EINVAL;
		/* At most 64 of them: quadratic is fine. */
		for (j = 0; j < i; j++)
			if (offs[j] == offs[i])
				return -EINVAL;
	}
	*flags = uw.flags;
	return uw.nr;
}

/* Takes @nr of the device's SHMRING_WATCH_TOTAL_MAX words, or -ENOSPC. */
static int shmring_watch_reserve(struct shmring_dev *sdev, unsigned int nr)
{
	int cur = atomic_read(&sdev->nr_watched);

	/* Never over, even for a moment: a racing reserve sees the truth. */
	do {
		if (nr > SHMRING_WATCH_TOTAL_MAX - cur)
			return -ENOSPC;
	} while (!atomic_try_cmpxchg(&sdev->nr_watched, &cur, cur + nr));
	return 0;
}

/*
 * Links the @nr words of @offs, none watched yet; room was checked and
 * reserved.
 */
static void shmring_watch_add(struct shmring_watcher *w, const u64 *offs,
			      unsigned int nr)
{
	struct shmring_watch_entry *e;
	unsigned int i, slot;

	for (i = 0; i < nr; i++) {
		slot = find_first_zero_bit(w->used, SHMRING_WATCH_MAX);
		e = &w->entries[slot];
		e->watcher = w;
		e->offset = offs[i];
		shmring_watch_link(w->sdev, e);
		__set_bit(slot, w->used);
	}
}

static long shmring_watch_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct shmring_watcher *w = file->private_data;
	u64 offs[SHMRING_WATCH_MAX];
	int slots[SHMRING_WATCH_MAX];
	int i, nr;
	u32 flags;
	long ret = 0;

	if (cmd != SHMRING_IOC_WATCH_ADD && cmd != SHMRING_IOC_WATCH_DEL)
		return -ENOTTY;
	nr = shmring_watch_args(w->sdev, (void __user *)arg, 0, offs, &flags);
	if (nr < 0)
		return nr;

	/*
	 * All or nothing: every check is done before the first change, and
	 * neither linking nor unlinking can fail.
	 */
	mutex_lock(&w->lock);
	if (cmd == SHMRING_IOC_WATCH_ADD) {
		if (bitmap_weight(w->used, SHMRING_WATCH_MAX) + nr >
		    SHMRING_WATCH_MAX) {
			ret = -ENOSPC;
			goto out;
		}
		for (i = 0; i < nr; i++) {
			if (shmring_watch_find(w, offs[i]) >= 0) {
				ret = -EINVAL;
				goto out;
			}
		}
		ret = shmring_watch_reserve(w->sdev, nr);
		if (!ret)
			shmring_watch_add(w, offs, nr);
	} else {
		for (i = 0; i < nr; i++) {
			slots[i] = shmring_watch_find(w, offs[i]);
			if (slots[i] < 0) {
				ret = -ENOENT;
				goto out;
			}
		}
		for (i = 0; i < nr; i++) {
			shmring_watch_unlink(w->sdev, &w->entries[slots[i]]);
			__clear_bit(slots[i], w->used);
		}
		atomic_sub(nr, &w->sdev->nr_watched);
	}
out:
	mutex_unlock(&w->lock);
	return ret;
}

static void shmring_watch_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct shmring_watcher *w = file->private_data;
	unsigned int i;
	u64 count;

	spin_lock_irq(&w->wqh.lock);
	count = w->count;
	spin_unlock_irq(&w->wqh.lock);
	seq_printf(m, "shmring-watch-count:\t%llu\n", count);
	seq_puts(m, "shmring-watch-offsets:");
	mutex_lock(&w->lock);
	for_each_set_bit(i, w->used, SHMRING_WATCH_MAX)
		seq_printf(m, " 0x%llx", w->entries[i].offset);
	mutex_unlock(&w->lock);
	seq_putc(m, '\n');
}

/* .owner: anon_inode_getfile() pins the module while the fd is open. */
static const struct file_operations shmring_watch_fops = {
	.owner = THIS_MODULE,
	.release = shmring_watch_release,
	.read_iter = shmring_watch_read,
	.poll = shmring_watch_poll,
	.llseek = noop_llseek,
	.unlocked_ioctl = shmring_watch_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.show_fdinfo = shmring_watch_show_fdinfo,
};

/* SHMRING_IOC_WATCH on the device's open file @file: a new watch fd. */
long shmring_ioctl_watch(struct file *file, void __user *arg)
{
	struct shmring_dev *sdev = shmring_from_file(file);
	struct shmring_watcher *w;
	u64 offs[SHMRING_WATCH_MAX];
	struct file *wfile;
	int fd, nr;
	u32 flags;

	nr = shmring_watch_args(sdev, arg, SHMRING_WATCH_FLAGS, offs, &flags);
	if (nr < 0)
		return nr;
	if (shmring_watch_reserve(sdev, nr))
		return -ENOSPC;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w) {
		atomic_sub(nr, &sdev->nr_watched);
		return -ENOMEM;
	}
	w->sdev = sdev;
	w->dev_file = get_file(file);
	init_waitqueue_head(&w->wqh);
	mutex_init(&w->lock);
	shmring_watch_add(w, offs, nr);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		shmring_watcher_free(w);
		return fd;
	}
	wfile = anon_inode_getfile("[shmring-watch]", &shmring_watch_fops, w,
				   O_RDONLY | (flags & SHMRING_WATCH_NONBLOCK ?
					       O_NONBLOCK : 0));
	if (IS_ERR(wfile)) {
		put_unused_fd(fd);
		shmring_watcher_free(w);
		return PTR_ERR(wfile);
	}
	/* read() honours IOCB_NOWAIT, so io_uring may try it inline. */
	wfile->f_mode |= FMODE_NOWAIT;
	fd_install(fd, wfile);
	return fd;
}
