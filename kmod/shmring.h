/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmring internals shared by the device, memory and wait/wake parts.
 */
#ifndef _SHMRING_H
#define _SHMRING_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/siphash.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <linux/uidgid.h>

#include <uapi/linux/shmring.h>

#define SHMRING_MAX_SIZE	SZ_1G

struct seq_file;
struct shmring_bucket;
struct shmring_watcher;

/**
 * struct shmring_dev - one shared buffer: the default one or an instance
 * @misc: the default buffer's character device, /dev/shmring.
 * @dev: an instance's device, class "shmring", node /dev/shmrings/NAME;
 *	its refcount is the instance's lifetime (shmring_instance.c).
 * @cdev: an instance's character device; it holds @dev, and every open
 *	file of the instance holds it.
 * @node: entry in the list of instances, from creation until freed.
 * @name: an instance's name.
 * @owner: uid of an instance's node.
 * @group: gid of an instance's node.
 * @mode: permission bits of an instance's node.
 * @creator: the user an instance counts against, INVALID_UID for those
 *	made at load.
 * @charge: bytes an instance counts against @creator, its size.
 * @numa_node: the node its pages come from, or NUMA_NO_NODE.
 * @account: charge the pages and buckets to the caller's memory cgroup.
 * @memcg: an instance's memory cgroup at creation, the one charged, as a
 *	path in its hierarchy; NULL when nothing was charged.
 * @nr_files: open files of the buffer, those that mappings and watch fds
 *	keep open included.
 * @registered: an instance's device was added (under the instance lock).
 * @dead: an instance was destroyed: no new open.
 * @pages: @nr_pages order-0 pages, allocated at creation, freed with the
 *	buffer. The array never changes while the buffer has a file, so
 *	readers need no lock; every mapping also holds its own reference on
 *	each page.
 * @nr_pages: number of pages in the buffer.
 * @size: buffer size in bytes (@nr_pages << PAGE_SHIFT).
 * @buckets: hash table of waiters, keyed by word offset; each bucket
 *	counts its own waiters, so that WAIT and WAKE on words in different
 *	buckets share no cache line. Every buffer has its own.
 * @nr_buckets: size of @buckets, a power of two.
 * @hash_key: siphash key of the hash, random unless hash_seed fixed it.
 * @nr_watched: words watched by all watch fds, at most
 *	SHMRING_WATCH_TOTAL_MAX, so that no WAKE walks more entries.
 */
struct shmring_dev {
	struct miscdevice misc;
	struct device dev;
	struct cdev cdev;
	struct list_head node;
	char name[SHMRING_INST_NAME_MAX];
	kuid_t owner;
	kgid_t group;
	umode_t mode;
	kuid_t creator;
	size_t charge;
	int numa_node;
	bool account;
	char *memcg;
	atomic_t nr_files;
	bool registered;
	bool dead;
	struct page **pages;
	unsigned long nr_pages;
	size_t size;
	struct shmring_bucket *buckets;
	unsigned int nr_buckets;
	siphash_key_t hash_key;
	atomic_t nr_watched;
};

/**
 * struct shmring_file - one open file description of the device
 * @sdev: the device.
 * @lock: guards @actions, @nr_actions and @last_id.
 * @actions: the release actions, struct shmring_action, in the order they
 *	were added; run by the file's ->release().
 * @nr_actions: entries on @actions, at most SHMRING_RELEASE_MAX.
 * @last_id: the id the last RELEASE_ADD gave out.
 */
struct shmring_file {
	struct shmring_dev *sdev;
	struct mutex lock;	/* guards the actions and @last_id */
	struct list_head actions;
	unsigned int nr_actions;
	u32 last_id;
};

/**
 * struct shmring_watch_entry - one word a watch fd watches
 * @node: entry in the word's bucket's list of watch entries, under the
 *	bucket lock; unhashed while the slot is free.
 * @watcher: the watch fd it belongs to.
 * @offset: the word; set before @node is linked, fixed while it is.
 */
struct shmring_watch_entry {
	struct hlist_node node;
	struct shmring_watcher *watcher;
	u64 offset;
};

/* shmring_main.c */
extern const struct file_operations shmring_fops;
int shmring_parse_bytes(const char *val, size_t len, unsigned long *bytes);

/* shmring_instance.c */
int shmring_instances_init(void);
void shmring_instances_exit(void);
struct shmring_dev *shmring_open_dev(struct inode *inode, struct file *file);

/* shmring_mem.c */
int shmring_mem_alloc(struct shmring_dev *sdev, size_t size);
void shmring_mem_free(struct shmring_dev *sdev);
int shmring_mmap(struct file *file, struct vm_area_struct *vma);
ssize_t shmring_read_iter(struct kiocb *iocb, struct iov_iter *to);
ssize_t shmring_write_iter(struct kiocb *iocb, struct iov_iter *from);
loff_t shmring_llseek(struct file *file, loff_t offset, int whence);
u32 *shmring_word(struct shmring_dev *sdev, u64 offset);

/* shmring_wait.c */
int shmring_wait_init(struct shmring_dev *sdev);
void shmring_wait_exit(struct shmring_dev *sdev);
long shmring_ioctl_wait(struct shmring_dev *sdev, void __user *arg);
long shmring_ioctl_wake(struct shmring_dev *sdev, void __user *arg);
unsigned int shmring_nr_waiters(struct shmring_dev *sdev);
bool shmring_word_ok(struct shmring_dev *sdev, u64 offset);
u32 shmring_wake_word(struct shmring_dev *sdev, u64 offset, u32 count);
void shmring_watch_link(struct shmring_dev *sdev,
			struct shmring_watch_entry *e);
void shmring_watch_unlink(struct shmring_dev *sdev,
			  struct shmring_watch_entry *e);

/* shmring_watch.c */
long shmring_ioctl_watch(struct file *file, void __user *arg);
void shmring_watcher_notify(struct shmring_watcher *w);

/* shmring_release.c */
int shmring_file_open(struct inode *inode, struct file *file);
int shmring_file_release(struct inode *inode, struct file *file);
long shmring_ioctl_release_add(struct file *file, void __user *arg);
long shmring_ioctl_release_del(struct file *file, void __user *arg);
void shmring_release_show_fdinfo(struct seq_file *m, struct file *file);

/* Only for files of the device itself, not for its watch fds. */
static inline struct shmring_dev *shmring_from_file(struct file *file)
{
	/* shmring_file_open() replaced what open left in private_data. */
	struct shmring_file *sf = file->private_data;

	return sf->sdev;
}

#endif /* _SHMRING_H */
