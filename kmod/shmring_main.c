// SPDX-License-Identifier: GPL-2.0
/*
 * shmring: a buffer of physical pages exposed as /dev/shmring. Every opener
 * maps the same frames, and WAIT/WAKE give futex-like blocking on 32-bit
 * words inside it, which a plain shared futex cannot do on driver pages.
 *
 * This file holds the default buffer's module parameters, its misc device,
 * the fops that it and every instance (shmring_instance.c) share, and the
 * module's init and exit.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include <uapi/linux/shmring.h>

#include "compat.h"
#include "shmring.h"

#define SHMRING_DEFAULT_SIZE	SZ_4M

static unsigned long shmring_size = SHMRING_DEFAULT_SIZE;

/*
 * "64M": a number (decimal, 0x hex or 0 octal) of @len bytes at @val with
 * an optional K, M or G; garbage is -EINVAL, a value that does not fit in
 * an unsigned long -ERANGE. Not memparse(), which wraps silently: with it,
 * 2^64 + 4096 loaded a 4 KiB buffer.
 */
int shmring_parse_bytes(const char *val, size_t len, unsigned long *bytes)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *num;
	int ret;

	if (len) {
		switch (val[len - 1]) {
		case 'G':
		case 'g':
			shift = 30;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'K':
		case 'k':
			shift = 10;
			break;
		}
	}
	num = kmemdup_nul(val, shift ? len - 1 : len, GFP_KERNEL);
	if (!num)
		return -ENOMEM;
	ret = kstrtoull(num, 0, &n);
	kfree(num);
	if (ret)
		return ret;
	if (check_shl_overflow(n, shift, &n) || (unsigned long)n != n)
		return -ERANGE;
	*bytes = n;
	return 0;
}

/* "size=64M", as shmring_parse_bytes() reads it; garbage fails the load. */
static int shmring_size_set(const char *val, const struct kernel_param *kp)
{
	size_t len = strlen(val);
	unsigned long bytes;
	int ret;

	if (len && val[len - 1] == '\n')
		len--;
	ret = shmring_parse_bytes(val, len, &bytes);
	if (ret == -ERANGE) {
		pr_err("size=%.*s is invalid: must be 1 byte to %u bytes\n",
		       (int)len, val, SHMRING_MAX_SIZE);
		return -EINVAL;
	}
	if (ret)
		return ret == -ENOMEM ? ret : -EINVAL;
	*(unsigned long *)kp->arg = bytes;
	return 0;
}

static const struct kernel_param_ops shmring_size_ops = {
	.set = shmring_size_set,
	.get = param_get_ulong,
};

module_param_cb(size, &shmring_size_ops, &shmring_size, 0444);
MODULE_PARM_DESC(size,
		 "Buffer size in bytes, K/M/G suffixes allowed, rounded up to whole pages (default 4M, at most 1G and half of RAM)");

#define SHMRING_DEFAULT_MODE	0600

static umode_t shmring_mode = SHMRING_DEFAULT_MODE;

/*
 * "mode=0660": octal like chmod(1), so "660" means 0660 too. Only the
 * permission bits: setuid, setgid and sticky mean nothing on a device node.
 * 0 is refused because the misc core reads it as "no mode", giving 0600.
 * Ownership is udev's business; this is for systems without it.
 */
static int shmring_mode_set(const char *val, const struct kernel_param *kp)
{
	unsigned int mode;

	if (kstrtouint(val, 8, &mode) || !mode || mode & ~0777U) {
		pr_err("mode=%s is invalid: must be octal permission bits, 0001 to 0777\n",
		       val);
		return -EINVAL;
	}
	*(umode_t *)kp->arg = mode;
	return 0;
}

static int shmring_mode_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%04o\n", *(umode_t *)kp->arg);
}

static const struct kernel_param_ops shmring_mode_ops = {
	.set = shmring_mode_set,
	.get = shmring_mode_get,
};

module_param_cb(mode, &shmring_mode_ops, &shmring_mode, 0444);
MODULE_PARM_DESC(mode,
		 "Permission bits of /dev/shmring in octal, 0001 to 0777, for systems without a udev rule (default 0600)");

static struct shmring_dev shmring_dev = {
	.numa_node = NUMA_NO_NODE,
};

static long shmring_ioctl_info(struct shmring_dev *sdev, void __user *arg)
{
	struct shmring_info info;

	memset(&info, 0, sizeof(info));
	info.size = sdev->size;
	info.page_size = PAGE_SIZE;
	info.abi_version = SHMRING_ABI_VERSION;
	info.nr_waiters = shmring_nr_waiters(sdev);
	info.features = SHMRING_FEATURE_WATCH | SHMRING_FEATURE_RELEASE |
			SHMRING_FEATURE_INSTANCES;

	if (copy_to_user(arg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long shmring_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct shmring_dev *sdev = shmring_from_file(file);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SHMRING_IOC_INFO:
		return shmring_ioctl_info(sdev, uarg);
	/*
	 * As read() and write() would be: WAIT tells whether a word holds a
	 * value (with timeout 0, at once), WAKE changes what others see.
	 */
	case SHMRING_IOC_WAIT:
		if (!(file->f_mode & FMODE_READ))
			return -EBADF;
		return shmring_ioctl_wait(sdev, uarg);
	case SHMRING_IOC_WAKE:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		return shmring_ioctl_wake(sdev, uarg);
	/* A watch fd learns of WAKEs, as WAIT does; actions change words. */
	case SHMRING_IOC_WATCH:
		if (!(file->f_mode & FMODE_READ))
			return -EBADF;
		return shmring_ioctl_watch(file, uarg);
	case SHMRING_IOC_RELEASE_ADD:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		return shmring_ioctl_release_add(file, uarg);
	case SHMRING_IOC_RELEASE_DEL:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		return shmring_ioctl_release_del(file, uarg);
	default:
		return -ENOTTY;
	}
}

/* fdinfo: the buffer (its instance's name, or "-"), then the actions. */
static void shmring_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct shmring_dev *sdev = shmring_from_file(file);

	seq_printf(m, "shmring-instance:\t%s\n",
		   sdev->name[0] ? sdev->name : "-");
	shmring_release_show_fdinfo(m, file);
}

/*
 * Of /dev/shmring and of every instance. .owner pins the module while any
 * file, and so any mapping, is alive.
 */
const struct file_operations shmring_fops = {
	.owner = THIS_MODULE,
	/* A struct shmring_file per open, for its release actions. */
	.open = shmring_file_open,
	.release = shmring_file_release,
	.show_fdinfo = shmring_show_fdinfo,
	.llseek = shmring_llseek,
	.read_iter = shmring_read_iter,
	.write_iter = shmring_write_iter,
	/* splice() and sendfile(), through read_iter and write_iter. */
	.splice_read = copy_splice_read,
	.splice_write = iter_file_splice_write,
	.mmap = shmring_mmap,
	/* RAM has nothing to write back, so fsync() and msync() succeed. */
	.fsync = noop_fsync,
	.unlocked_ioctl = shmring_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* Checked here rather than in the param setter so one line says why. */
static int shmring_check_size(unsigned long bytes)
{
	unsigned long half_ram = totalram_pages() / 2;

	if (!bytes || bytes > SHMRING_MAX_SIZE) {
		pr_err("size=%lu is invalid: must be 1 byte to %u bytes\n",
		       bytes, SHMRING_MAX_SIZE);
		return -EINVAL;
	}
	if (PAGE_ALIGN(bytes) >> PAGE_SHIFT > half_ram) {
		pr_err("size=%lu is invalid: more than half of RAM (%lu bytes)\n",
		       bytes, half_ram << PAGE_SHIFT);
		return -EINVAL;
	}
	return 0;
}

static int __init shmring_init(void)
{
	struct shmring_dev *sdev = &shmring_dev;
	int ret;

	ret = shmring_check_size(shmring_size);
	if (ret)
		return ret;
	shmring_size = PAGE_ALIGN(shmring_size);

	ret = shmring_mem_alloc(sdev, shmring_size);
	if (ret)
		return ret;

	ret = shmring_wait_init(sdev);
	if (ret)
		goto err_mem;

	sdev->misc.minor = MISC_DYNAMIC_MINOR;
	sdev->misc.name = "shmring";
	sdev->misc.fops = &shmring_fops;
	sdev->misc.mode = shmring_mode;
	ret = misc_register(&sdev->misc);
	if (ret)
		goto err_wait;

	pr_info("%zu bytes (%lu pages) at /dev/shmring, %u wait buckets\n",
		sdev->size, sdev->nr_pages, sdev->nr_buckets);

	ret = shmring_instances_init();
	if (ret)
		goto err_misc;
	return 0;

err_misc:
	misc_deregister(&sdev->misc);
err_wait:
	shmring_wait_exit(sdev);
err_mem:
	shmring_mem_free(sdev);
	return ret;
}

static void __exit shmring_exit(void)
{
	struct shmring_dev *sdev = &shmring_dev;

	shmring_instances_exit();
	misc_deregister(&sdev->misc);
	shmring_wait_exit(sdev);
	shmring_mem_free(sdev);
}

module_init(shmring_init);
module_exit(shmring_exit);

MODULE_DESCRIPTION("Zero-copy shared buffer with futex-like WAIT/WAKE");
MODULE_AUTHOR("The shmring authors");
MODULE_LICENSE("GPL");
/* From dkms.conf, through kmod/Kbuild: the one version of the project. */
MODULE_VERSION(SHMRING_VERSION);
