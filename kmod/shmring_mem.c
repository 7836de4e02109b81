// SPDX-License-Identifier: GPL-2.0
/*
 * shmring buffer memory: page allocation, mmap and the file-like
 * read/write/llseek view of the same bytes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "shmring.h"

/*
 * Order-0 pages, one allocation each: a large buffer needs no contiguous
 * memory, and a page freed at unload goes back on its own. (vm_insert_pages()
 * would take the tail pages of a compound allocation too; io_uring maps its
 * rings so.) RETRY_MAYFAIL makes a large size fail with ENOMEM instead of
 * waking the OOM killer, a memory cgroup's included.
 */
#define SHMRING_GFP	(GFP_KERNEL | __GFP_ZERO | __GFP_RETRY_MAYFAIL | \
			 __GFP_NOWARN)

/*
 * An instance created at run time (@sdev->account) is charged to the
 * caller's memory cgroup, may be placed on @sdev->numa_node and only
 * there, gives up when the caller is killed, and fails quietly: the
 * caller gets the error, the log gets nothing a user could flood it with.
 */
int shmring_mem_alloc(struct shmring_dev *sdev, size_t size)
{
	unsigned long i, nr_pages = size >> PAGE_SHIFT;
	gfp_t gfp = SHMRING_GFP;
	int node = sdev->numa_node;

	if (sdev->account)
		gfp |= __GFP_ACCOUNT;
	if (node != NUMA_NO_NODE)
		gfp |= __GFP_THISNODE;

	sdev->pages = kvcalloc(nr_pages, sizeof(*sdev->pages),
			       (sdev->account ? GFP_KERNEL_ACCOUNT : GFP_KERNEL) |
			       __GFP_NOWARN);
	if (!sdev->pages) {
		if (!sdev->account)
			pr_err("out of memory for the page array of %lu pages\n",
			       nr_pages);
		return -ENOMEM;
	}

	for (i = 0; i < nr_pages; i++) {
		if (node == NUMA_NO_NODE)
			sdev->pages[i] = alloc_page(gfp);
		else
			sdev->pages[i] = alloc_pages_node(node, gfp, 0);
		if (!sdev->pages[i])
			goto err_free;
		if (sdev->account && fatal_signal_pending(current)) {
			i++;
			goto err_free;
		}
		cond_resched();
	}
	sdev->nr_pages = nr_pages;
	sdev->size = size;
	return 0;

err_free:
	if (!sdev->account)
		pr_err("out of memory after %lu of %lu pages\n", i, nr_pages);
	while (i--)
		__free_page(sdev->pages[i]);
	kvfree(sdev->pages);
	sdev->pages = NULL;
	return -ENOMEM;
}

/*
 * Drops the allocation's reference on each page. Nothing can still map
 * them: every VMA holds the file, and the file holds the module and, for
 * an instance, its device (shmring_instance.c).
 */
void shmring_mem_free(struct shmring_dev *sdev)
{
	unsigned long i;

	for (i = 0; i < sdev->nr_pages; i++)
		__free_page(sdev->pages[i]);
	kvfree(sdev->pages);
	sdev->pages = NULL;
	sdev->nr_pages = 0;
	sdev->size = 0;
}

/* Kernel address of the aligned u32 at @offset, already bounds-checked. */
u32 *shmring_word(struct shmring_dev *sdev, u64 offset)
{
	return page_address(sdev->pages[offset >> PAGE_SHIFT]) +
	       offset_in_page(offset);
}

/*
 * The PTEs are inserted at mmap time, and fork() copies them (the mapping
 * is VM_MIXEDMAP), so this only runs after they were zapped, by
 * MADV_DONTNEED for one. It maps the same frame again, so the data is
 * still there.
 */
static vm_fault_t shmring_vm_fault(struct vm_fault *vmf)
{
	struct shmring_dev *sdev = shmring_from_file(vmf->vma->vm_file);

	if (vmf->pgoff >= sdev->nr_pages)
		return VM_FAULT_SIGBUS;
	return vmf_insert_page(vmf->vma, vmf->address, sdev->pages[vmf->pgoff]);
}

static const struct vm_operations_struct shmring_vm_ops = {
	.fault = shmring_vm_fault,
};

int shmring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct shmring_dev *sdev = shmring_from_file(file);
	unsigned long nr = vma_pages(vma);

	/* A private copy-on-write view would not be shared memory. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* Written so that neither side can overflow. */
	if (vma->vm_pgoff >= sdev->nr_pages ||
	    nr > sdev->nr_pages - vma->vm_pgoff)
		return -EINVAL;

	/*
	 * Never executable, never grown by mremap. VM_DONTCOPY is left clear
	 * on purpose: a forked child shares the buffer with its parent.
	 */
	vm_flags_clear(vma, VM_MAYEXEC);
	vm_flags_set(vma, VM_DONTEXPAND);
	vma->vm_ops = &shmring_vm_ops;

	/* Each inserted PTE holds a page reference until it is unmapped. */
	return vm_insert_pages(vma, vma->vm_start, sdev->pages + vma->vm_pgoff,
			       &nr);
}

/*
 * Copies between the buffer and @iter, a page at a time. iov_iter copies
 * stop short at a fault and, unlike copy_from_user(), never zero-fill the
 * rest of the destination: a failed write leaves the shared bytes alone.
 *
 * copy_to_iter(), not copy_page_to_iter(): where splice reads through a
 * pipe iterator (6.1), the latter does not copy but puts a reference to
 * the page itself into the pipe, which would then alias the live buffer,
 * and whose reader gets ENODATA for a page outside any page cache.
 */
static ssize_t shmring_copy(struct shmring_dev *sdev, struct iov_iter *iter,
			    loff_t pos, size_t len, bool to_iter)
{
	size_t done = 0;

	while (done < len) {
		u64 off = pos + done;
		void *addr = page_address(sdev->pages[off >> PAGE_SHIFT]) +
			     offset_in_page(off);
		size_t chunk = min_t(size_t, len - done,
				     PAGE_SIZE - offset_in_page(off));
		size_t n;

		if (to_iter)
			n = copy_to_iter(addr, chunk, iter);
		else
			n = copy_from_iter(addr, chunk, iter);
		done += n;
		if (n < chunk)
			break;
		cond_resched();
	}
	if (!done)
		return -EFAULT;
	return done;
}

ssize_t shmring_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct shmring_dev *sdev = shmring_from_file(iocb->ki_filp);
	size_t len = iov_iter_count(to);
	loff_t pos = iocb->ki_pos;
	ssize_t ret;

	if (pos >= sdev->size || !len)
		return 0;
	len = min_t(u64, len, sdev->size - pos);

	ret = shmring_copy(sdev, to, pos, len, true);
	if (ret > 0)
		iocb->ki_pos = pos + ret;
	return ret;
}

ssize_t shmring_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct shmring_dev *sdev = shmring_from_file(iocb->ki_filp);
	size_t len = iov_iter_count(from);
	loff_t pos = iocb->ki_pos;
	ssize_t ret;

	if (!len)
		return 0;
	if (pos >= sdev->size)
		return -ENOSPC;
	len = min_t(u64, len, sdev->size - pos);

	ret = shmring_copy(sdev, from, pos, len, false);
	if (ret > 0)
		iocb->ki_pos = pos + ret;
	return ret;
}

/* A fixed-size file: SEEK_END is relative to the size, beyond it is EINVAL. */
loff_t shmring_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence,
				 shmring_from_file(file)->size);
}
