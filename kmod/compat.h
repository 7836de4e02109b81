/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only compatibility shims shmring needs, kept in one place. Kbuild
 * probes the kernel headers and defines SHMRING_COMPAT_* for what is missing.
 */
#ifndef _SHMRING_COMPAT_H
#define _SHMRING_COMPAT_H

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

#endif /* _SHMRING_COMPAT_H */
