// SPDX-License-Identifier: GPL-2.0
/*
 * shmring release actions: stores, ORs and ADDs on words that an open file
 * of the device performs when it is released, followed by a WAKE of the
 * word, so that peers learn of a process's death however it dies.
 *
 * They run in the file's ->release(), which the VFS calls once, after the
 * last reference is dropped: the last close(), exit() or SIGKILL of the
 * last holder, an exec() that closes it, the last munmap() of a mapping
 * made through it (vma->vm_file holds it), the close of its last watch fd.
 * Nothing can add an action to a file that is being released: every ioctl
 * holds a reference to it.
 */

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <uapi/linux/shmring.h>

#include "shmring.h"

/**
 * struct shmring_action - one release action
 * @node: entry in the open file's list, in the order added.
 * @offset: the word.
 * @op: SHMRING_RELEASE_STORE, _OR or _ADD.
 * @value: its operand.
 * @id: non-zero, unique within the open file.
 */
struct shmring_action {
	struct list_head node;
	u64 offset;
	u32 op;
	u32 value;
	u32 id;
};

/* An open of the default buffer or of an instance: a file of our own. */
int shmring_file_open(struct inode *inode, struct file *file)
{
	struct shmring_dev *sdev = shmring_open_dev(inode, file);
	struct shmring_file *sf;

	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	sf = kzalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	sf->sdev = sdev;
	mutex_init(&sf->lock);
	INIT_LIST_HEAD(&sf->actions);
	file->private_data = sf;
	atomic_inc(&sdev->nr_files);
	return 0;
}

/*
 * The word changes as one atomic operation, as a peer's atomics on it in
 * user space expect, before the WAKE: that order is the one the no-lost-
 * wake-up argument of shmring_wait.c asks of every waker. The pages are
 * lowmem kernel pages, so the word is written through the kernel's own
 * mapping and this cannot fault.
 */
static void shmring_action_run(struct shmring_dev *sdev,
			       const struct shmring_action *a)
{
	u32 *word = shmring_word(sdev, a->offset);
	u32 old, new;

	if (a->op == SHMRING_RELEASE_STORE) {
		xchg(word, a->value);
	} else {
		old = READ_ONCE(*word);
		do {
			if (a->op == SHMRING_RELEASE_OR)
				new = old | a->value;
			else
				new = old + a->value;
		} while (!try_cmpxchg(word, &old, new));
	}
	shmring_wake_word(sdev, a->offset, U32_MAX);
}

/* The last reference to the open file is gone: run and free its actions. */
int shmring_file_release(struct inode *inode, struct file *file)
{
	struct shmring_file *sf = file->private_data;
	struct shmring_action *a, *tmp;

	list_for_each_entry_safe(a, tmp, &sf->actions, node) {
		shmring_action_run(sf->sdev, a);
		list_del(&a->node);
		kfree(a);
	}
	atomic_dec(&sf->sdev->nr_files);
	mutex_destroy(&sf->lock);
	kfree(sf);
	return 0;
}

static struct shmring_action *shmring_action_find(struct shmring_file *sf,
						  u32 id)
{
	struct shmring_action *a;

	list_for_each_entry(a, &sf->actions, node)
		if (a->id == id)
			return a;
	return NULL;
}

/*
 * The id after the last one given out, past 0 and any still in use: after
 * 2^32 RELEASE_ADDs the ids wrap, and at most SHMRING_RELEASE_MAX are taken.
 */
static u32 shmring_next_id(struct shmring_file *sf)
{
	u32 id = sf->last_id;

	do {
		if (!++id)
			id = 1;
	} while (shmring_action_find(sf, id));
	sf->last_id = id;
	return id;
}

long shmring_ioctl_release_add(struct file *file, void __user *arg)
{
	struct shmring_file *sf = file->private_data;
	struct shmring_release __user *uarg = arg;
	struct shmring_release ur;
	struct shmring_action *a;
	u32 id;

	if (copy_from_user(&ur, uarg, sizeof(ur)))
		return -EFAULT;
	if (ur.flags || ur.reserved || ur.op > SHMRING_RELEASE_ADD ||
	    !shmring_word_ok(sf->sdev, ur.offset))
		return -EINVAL;

	a = kmalloc(sizeof(*a), GFP_KERNEL_ACCOUNT);
	if (!a)
		return -ENOMEM;
	a->offset = ur.offset;
	a->op = ur.op;
	a->value = ur.value;

	mutex_lock(&sf->lock);
	if (sf->nr_actions == SHMRING_RELEASE_MAX) {
		mutex_unlock(&sf->lock);
		kfree(a);
		return -ENOSPC;
	}
	id = shmring_next_id(sf);
	a->id = id;
	list_add_tail(&a->node, &sf->actions);
	sf->nr_actions++;
	mutex_unlock(&sf->lock);

	/*
	 * Outside the lock: a fault on @uarg may block for as long as its
	 * page takes (userfaultfd, FUSE), and fdinfo must not wait for it.
	 * Should it fail, the action goes again, unless a DEL of an id the
	 * caller could only have guessed took it first: either way none
	 * stays behind.
	 */
	if (!put_user(id, &uarg->id))
		return 0;
	mutex_lock(&sf->lock);
	a = shmring_action_find(sf, id);
	if (a) {
		list_del(&a->node);
		sf->nr_actions--;
	}
	mutex_unlock(&sf->lock);
	kfree(a);
	return -EFAULT;
}

long shmring_ioctl_release_del(struct file *file, void __user *arg)
{
	struct shmring_file *sf = file->private_data;
	struct shmring_release ur;
	struct shmring_action *a;

	if (copy_from_user(&ur, arg, sizeof(ur)))
		return -EFAULT;
	if (!ur.id || ur.offset || ur.op || ur.value || ur.flags ||
	    ur.reserved)
		return -EINVAL;

	mutex_lock(&sf->lock);
	a = shmring_action_find(sf, ur.id);
	if (a) {
		list_del(&a->node);
		sf->nr_actions--;
	}
	mutex_unlock(&sf->lock);
	if (!a)
		return -ENOENT;
	kfree(a);
	return 0;
}

static const char * const shmring_op_names[] = {
	[SHMRING_RELEASE_STORE] = "store",
	[SHMRING_RELEASE_OR] = "or",
	[SHMRING_RELEASE_ADD] = "add",
};

void shmring_release_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct shmring_file *sf = file->private_data;
	struct shmring_action *a;

	mutex_lock(&sf->lock);
	list_for_each_entry(a, &sf->actions, node)
		seq_printf(m, "shmring-release:\tid=%u offset=0x%llx op=%s value=0x%x\n",
			   a->id, a->offset, shmring_op_names[a->op], a->value);
	mutex_unlock(&sf->lock);
}
