/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only compatibility shims shmring needs, kept in one place. Kbuild
 * probes the kernel headers and defines SHMRING_COMPAT_* for what is missing.
 */
#ifndef _SHMRING_COMPAT_H
#define _SHMRING_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>

#ifdef SHMRING_COMPAT_VM_FLAGS
/* Before 6.3, vm_flags was written directly. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

#ifdef SHMRING_COMPAT_SPLICE_READ
/*
 * Before 6.5 the splice_read that copies through ->read_iter() was
 * generic_file_splice_read(), with a pipe as the iterator.
 */
#define copy_splice_read generic_file_splice_read
#endif

/* Before 6.2, device_type.devnode() took a struct device that was not const. */
#ifdef SHMRING_COMPAT_DEVNODE
#define SHMRING_DEVNODE_CONST
#else
#define SHMRING_DEVNODE_CONST const
#endif

#endif /* _SHMRING_COMPAT_H */
