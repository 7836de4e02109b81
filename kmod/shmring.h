/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmring internals shared by the device, memory and wait/wake parts.
 */
#ifndef _SHMRING_H
#define _SHMRING_H

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/siphash.h>
#include <linux/types.h>

struct shmring_bucket;

/**
 * struct shmring_dev - the one shared buffer behind /dev/shmring
 * @misc: the character device.
 * @pages: @nr_pages order-0 pages, allocated at load, freed at unload. The
 *	array never changes while the device is registered, so readers need
 *	no lock; every mapping also holds its own reference on each page.
 * @nr_pages: number of pages in the buffer.
 * @size: buffer size in bytes (@nr_pages << PAGE_SHIFT).
 * @buckets: hash table of waiters, keyed by word offset; each bucket
 *	counts its own waiters, so that WAIT and WAKE on words in different
 *	buckets share no cache line.
 * @nr_buckets: size of @buckets, a power of two.
 * @hash_key: siphash key of the hash, random unless hash_seed fixed it.
 */
struct shmring_dev {
	struct miscdevice misc;
	struct page **pages;
	unsigned long nr_pages;
	size_t size;
	struct shmring_bucket *buckets;
	unsigned int nr_buckets;
	siphash_key_t hash_key;
};

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

static inline struct shmring_dev *shmring_from_file(struct file *file)
{
	/* misc_open() stores the miscdevice in private_data. */
	return container_of(file->private_data, struct shmring_dev, misc);
}

#endif /* _SHMRING_H */
