// SPDX-License-Identifier: GPL-2.0
/*
 * shmring instances: buffers created and destroyed by name at run time,
 * beside the default /dev/shmring. This file owns /dev/shmring-control,
 * the "shmring" device class and its character device numbers, the list
 * of instances with the per-user limits on it, the instances= parameter,
 * and the lifetime of every instance.
 *
 * - /dev/shmring-control is a misc device of mode 0666, like
 *   /dev/loop-control but open to every user: SHMRING_IOC_CREATE and
 *   SHMRING_IOC_DESTROY, with fixed-size arguments whose unknown flags and
 *   reserved fields must be zero (the uapi header lists the errors in the
 *   order they are checked).
 * - An instance is a struct shmring_dev like the default buffer: its own
 *   pages, its own wait buckets and hash key, its own watch total. Its
 *   files use the default buffer's fops, so INFO, WAIT, WAKE, watch fds,
 *   release actions, read, write and mmap behave exactly alike, and no
 *   bucket lock is shared between two buffers.
 * - Its node is /dev/shmrings/NAME: a character device of class
 *   "shmring", one minor each, whose device type's devnode() gives
 *   devtmpfs the path, mode, uid and gid (as dma-heap's class does for
 *   /dev/dma_heap/NAME). Not /dev/shmring/NAME: /dev/shmring is the
 *   default buffer's node, not a directory.
 * - Its lifetime is its struct device's refcount, as cdev_device_add()
 *   sets it up: the cdev holds the device, each open file holds the cdev
 *   (chrdev_open() to __fput()), each mapping and each watch fd holds an
 *   open file. The device's release frees the pages, so no page is freed
 *   while mapped. DESTROY marks the instance dead and deletes its device
 *   and cdev: the node and the name are gone at once, an open through an
 *   old inode fails with ENODEV, files already open keep working, and the
 *   memory goes with the last of them.
 * - Memory: pages, page array and buckets come with __GFP_ACCOUNT, charged
 *   to the creator's memory cgroup, all at creation, with
 *   __GFP_RETRY_MAYFAIL: a cgroup at its limit fails the creation with
 *   ENOMEM instead of running its OOM killer, and a mapping never faults
 *   for want of memory later.
 * - Limits: an instance counts against the real uid of its creator from
 *   the moment it is asked for until its pages are freed, destroyed but
 *   still mapped ones included: user_instances and user_bytes, module
 *   parameters that root may change at run time, and
 *   SHMRING_MAX_INSTANCES instances in all. CAP_SYS_ADMIN in the initial
 *   user namespace lifts the per-user limits and allows any owner and
 *   group; without it, a node may only be given the caller's fsuid and one
 *   of its groups. Only the node's owner, or CAP_SYS_ADMIN, may destroy.
 * - instances=NAME:SIZE[:MODE[:UID[:GID]]][,...] creates instances at
 *   load, owned by UID and GID of the initial namespace (default root),
 *   mode 0600 by default, charged to no user and no cgroup. A bad entry
 *   fails the load.
 * - Unload: the fops' and the cdevs' owner pins the module while any file
 *   of an instance, or of the control device, is open; rmmod then fails
 *   with EBUSY. Otherwise the exit destroys every instance, and as none
 *   has a file left, each one's memory is freed there and then; the exit
 *   waits for each release, should one come later.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cdev.h>
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kdev_t.h>
#include <linux/limits.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/numa.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>
#include <linux/wait.h>

#include <uapi/linux/shmring.h>

#include "compat.h"
#include "shmring.h"

/* Minors of the "shmring" region, and so instances alive at once. */
#define SHMRING_MAX_INSTANCES	1024
#define SHMRING_INSTANCE_MODE	0600

static unsigned int shmring_user_instances = 16;
module_param_named(user_instances, shmring_user_instances, uint, 0644);
MODULE_PARM_DESC(user_instances,
		 "Instances each user without CAP_SYS_ADMIN may have (default 16)");

static unsigned long shmring_user_bytes = SZ_256M;
module_param_named(user_bytes, shmring_user_bytes, ulong, 0644);
MODULE_PARM_DESC(user_bytes,
		 "Bytes of instances each user without CAP_SYS_ADMIN may have (default 256M)");

static char *shmring_instances_param;
module_param_named(instances, shmring_instances_param, charp, 0444);
MODULE_PARM_DESC(instances,
		 "Instances to create at load: NAME:SIZE[:MODE[:UID[:GID]]],... (mode octal, default 0600, owner root)");

/* Guards the list, and each instance's @registered and @dead. */
static DEFINE_MUTEX(shmring_inst_lock);
/* Every instance from its creation until its memory is freed. */
static LIST_HEAD(shmring_instances);
/* Instances not yet freed, and a wake-up as each one is, for the exit. */
static atomic_t shmring_inst_alive = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(shmring_inst_freed);
static DEFINE_IDA(shmring_minors);
static dev_t shmring_devt;

static struct class shmring_class = {
	.name = "shmring",
};

static struct shmring_dev *shmring_dev_of(SHMRING_DEVNODE_CONST struct device *dev)
{
	return container_of(dev, struct shmring_dev, dev);
}

/* devtmpfs makes the node with the owner, group and mode asked for. */
static char *shmring_devnode(SHMRING_DEVNODE_CONST struct device *dev,
			     umode_t *mode, kuid_t *uid, kgid_t *gid)
{
	const struct shmring_dev *sdev = shmring_dev_of(dev);

	if (mode)
		*mode = sdev->mode;
	if (uid)
		*uid = sdev->owner;
	if (gid)
		*gid = sdev->group;
	return kasprintf(GFP_KERNEL, "shmrings/%s", dev_name(dev));
}

/* /sys/class/shmring/NAME/: what `shmring list` shows. */
static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%zu\n", shmring_dev_of(dev)->size);
}
static DEVICE_ATTR_RO(size);

static ssize_t numa_node_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", shmring_dev_of(dev)->numa_node);
}
static DEVICE_ATTR_RO(numa_node);

/* The user it counts against, in the initial namespace; -1: nobody. */
static ssize_t creator_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	kuid_t uid = shmring_dev_of(dev)->creator;

	if (!uid_valid(uid))
		return sysfs_emit(buf, "-1\n");
	return sysfs_emit(buf, "%u\n", from_kuid(&init_user_ns, uid));
}
static DEVICE_ATTR_RO(creator);

/* The memory cgroup charged at creation, "-" for none. */
static ssize_t memcg_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	const char *memcg = shmring_dev_of(dev)->memcg;

	return sysfs_emit(buf, "%s\n", memcg ? memcg : "-");
}
static DEVICE_ATTR_RO(memcg);

/* Open files, those of mappings and watch fds included; 0 when unused. */
static ssize_t users_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&shmring_dev_of(dev)->nr_files));
}
static DEVICE_ATTR_RO(users);

static struct attribute *shmring_inst_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_numa_node.attr,
	&dev_attr_creator.attr,
	&dev_attr_memcg.attr,
	&dev_attr_users.attr,
	NULL,
};
ATTRIBUTE_GROUPS(shmring_inst);

static const struct device_type shmring_inst_type = {
	.name = "shmring",
	.groups = shmring_inst_groups,
	.devnode = shmring_devnode,
};

/*
 * The last reference to the device is gone: the cdev's, and so every
 * file's and every mapping's. Never called under shmring_inst_lock.
 */
static void shmring_inst_release(struct device *dev)
{
	struct shmring_dev *sdev = shmring_dev_of(dev);

	if (dev->devt)
		ida_free(&shmring_minors, MINOR(dev->devt));
	shmring_wait_exit(sdev);
	shmring_mem_free(sdev);
	kfree(sdev->memcg);
	mutex_lock(&shmring_inst_lock);
	list_del(&sdev->node);
	mutex_unlock(&shmring_inst_lock);
	kfree(sdev);
	if (atomic_dec_and_test(&shmring_inst_alive))
		wake_up(&shmring_inst_freed);
}

/*
 * misc_open() left the default buffer's miscdevice in private_data;
 * chrdev_open() leaves it NULL and the instance's cdev in the inode.
 *
 * A node's inode may outlive DESTROY: an open file's, reopened through
 * /proc/PID/fd, or one held by an O_PATH fd. Through the first, the
 * instance itself says it is dead. The second never looked its cdev up,
 * and the instance's number is given again once it is freed, so opening
 * it would reach whatever instance has the number now. devtmpfs makes a
 * node root's with mode 0 before it removes it, so only a caller that
 * overrides permissions gets here that way; and as devtmpfs unlinks the
 * node before its number can be given again, an unlinked dentry is
 * refused. Nodes made elsewhere by root (mknod in a container's /dev) are
 * root's to keep right, as for any character device.
 */
struct shmring_dev *shmring_open_dev(struct inode *inode, struct file *file)
{
	struct shmring_dev *sdev;

	if (file->private_data)
		return container_of(file->private_data, struct shmring_dev,
				    misc);
	sdev = container_of(inode->i_cdev, struct shmring_dev, cdev);
	if (READ_ONCE(sdev->dead) || d_unlinked(file->f_path.dentry))
		return ERR_PTR(-ENODEV);
	return sdev;
}

/* [A-Za-z0-9_.-], not starting with '.' or '-', NUL-padded. */
static bool shmring_name_ok(const char *name)
{
	size_t i, len = strnlen(name, SHMRING_INST_NAME_MAX);

	if (!len || len == SHMRING_INST_NAME_MAX ||
	    memchr_inv(name + len, 0, SHMRING_INST_NAME_MAX - len))
		return false;
	if (name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '_' && c != '.' &&
		    c != '-')
			return false;
	}
	return true;
}

/* A live instance of that name, one being created included. */
static struct shmring_dev *shmring_inst_find(const char *name)
{
	struct shmring_dev *sdev;

	lockdep_assert_held(&shmring_inst_lock);
	list_for_each_entry(sdev, &shmring_instances, node)
		if (!sdev->dead && !strcmp(sdev->name, name))
			return sdev;
	return NULL;
}

/* Room for one more instance of @size bytes created by @uid? */
static int shmring_inst_room(kuid_t uid, size_t size)
{
	/* Once each: root may change them meanwhile. */
	unsigned long max_bytes = READ_ONCE(shmring_user_bytes);
	unsigned int max_n = READ_ONCE(shmring_user_instances);
	/* At most SHMRING_MAX_INSTANCES of 1 GiB: no overflow in a u64. */
	u64 bytes = 0;
	unsigned int n = 0;
	struct shmring_dev *sdev;

	lockdep_assert_held(&shmring_inst_lock);
	if (!uid_valid(uid))
		return 0;
	list_for_each_entry(sdev, &shmring_instances, node) {
		if (uid_eq(sdev->creator, uid)) {
			n++;
			bytes += sdev->charge;
		}
	}
	if (n < max_n && bytes + size <= max_bytes)
		return 0;
	if (capable(CAP_SYS_ADMIN))
		return 0;
	return -ENOSPC;
}

/**
 * struct shmring_inst_args - what an instance is made of
 * @name: valid, as shmring_name_ok() says.
 * @size: bytes, a whole number of pages, 1 to SHMRING_MAX_SIZE.
 * @mode: permission bits of the node.
 * @owner: uid of the node.
 * @group: gid of the node.
 * @creator: the user it counts against, or INVALID_UID.
 * @numa_node: a node with memory, or NUMA_NO_NODE.
 * @account: charge the memory to the caller's memory cgroup.
 */
struct shmring_inst_args {
	const char *name;
	size_t size;
	umode_t mode;
	kuid_t owner;
	kgid_t group;
	kuid_t creator;
	int numa_node;
	bool account;
};

/*
 * The path of the memory cgroup that __GFP_ACCOUNT charges for the caller,
 * in the memory controller's hierarchy: its own, or the nearest ancestor
 * with the controller enabled. NULL when nothing is charged.
 */
static char *shmring_memcg_path(void)
{
#ifdef CONFIG_MEMCG
	struct cgroup_subsys_state *css;
	char *buf, *path;
	int ret;

	if (!cgroup_subsys_enabled(memory_cgrp_subsys))
		return NULL;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	css = task_get_css(current, memory_cgrp_id);
	ret = cgroup_path(css->cgroup, buf, PATH_MAX);
	css_put(css);
	path = ret < 0 ? ERR_PTR(ret) : ret >= PATH_MAX ?
	       ERR_PTR(-ENAMETOOLONG) : kstrdup(buf, GFP_KERNEL_ACCOUNT);
	kfree(buf);
	return path ? path : ERR_PTR(-ENOMEM);
#else
	return NULL;
#endif
}

static int shmring_inst_add(const struct shmring_inst_args *a)
{
	struct shmring_dev *sdev;
	int minor, ret;

	sdev = kzalloc(sizeof(*sdev),
		       a->account ? GFP_KERNEL_ACCOUNT : GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	strscpy(sdev->name, a->name, sizeof(sdev->name));
	sdev->mode = a->mode;
	sdev->owner = a->owner;
	sdev->group = a->group;
	sdev->creator = a->creator;
	sdev->charge = a->size;
	sdev->numa_node = a->numa_node;
	sdev->account = a->account;
	INIT_LIST_HEAD(&sdev->node);
	/* From here on, put_device() frees whatever was set up. */
	atomic_inc(&shmring_inst_alive);
	device_initialize(&sdev->dev);
	sdev->dev.class = &shmring_class;
	sdev->dev.type = &shmring_inst_type;
	sdev->dev.release = shmring_inst_release;

	/* The name and the charge are reserved before the long part. */
	mutex_lock(&shmring_inst_lock);
	if (shmring_inst_find(a->name))
		ret = -EEXIST;
	else
		ret = shmring_inst_room(a->creator, a->size);
	if (!ret)
		list_add_tail(&sdev->node, &shmring_instances);
	mutex_unlock(&shmring_inst_lock);
	if (ret)
		goto err;	/* the release unlinks an unlinked node */

	if (a->size >> PAGE_SHIFT > totalram_pages() / 2) {
		ret = -ENOMEM;
		goto err;
	}
	minor = ida_alloc_max(&shmring_minors, SHMRING_MAX_INSTANCES - 1,
			      GFP_KERNEL);
	if (minor < 0) {
		ret = minor;
		goto err;
	}
	sdev->dev.devt = MKDEV(MAJOR(shmring_devt), minor);
	ret = dev_set_name(&sdev->dev, "%s", a->name);
	if (ret)
		goto err;
	if (a->account) {
		sdev->memcg = shmring_memcg_path();
		if (IS_ERR(sdev->memcg)) {
			ret = PTR_ERR(sdev->memcg);
			sdev->memcg = NULL;
			goto err;
		}
	}

	ret = shmring_mem_alloc(sdev, a->size);
	if (ret)
		goto err;
	ret = shmring_wait_init(sdev);
	if (ret)
		goto err;

	cdev_init(&sdev->cdev, &shmring_fops);
	sdev->cdev.owner = THIS_MODULE;
	ret = cdev_device_add(&sdev->cdev, &sdev->dev);
	if (ret)
		goto err;

	mutex_lock(&shmring_inst_lock);
	sdev->registered = true;
	mutex_unlock(&shmring_inst_lock);
	return 0;

err:
	put_device(&sdev->dev);
	return ret;
}

/*
 * The name and the node go now; the memory when the last file does. The
 * caller drops the creation's reference once the lock is released.
 */
static void shmring_inst_kill(struct shmring_dev *sdev)
{
	lockdep_assert_held(&shmring_inst_lock);
	WRITE_ONCE(sdev->dead, true);
	cdev_device_del(&sdev->cdev, &sdev->dev);
}

static int shmring_id_check(u32 uid, u32 gid, kuid_t *owner, kgid_t *group)
{
	*owner = uid == SHMRING_ID_CALLER ? current_fsuid() :
		 make_kuid(current_user_ns(), uid);
	*group = gid == SHMRING_ID_CALLER ? current_fsgid() :
		 make_kgid(current_user_ns(), gid);
	if (!uid_valid(*owner) || !gid_valid(*group))
		return -EINVAL;
	return 0;
}

static long shmring_ioctl_create(void __user *arg)
{
	struct shmring_inst_args a;
	struct shmring_create c;
	int ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if (c.flags & ~SHMRING_CREATE_FLAGS || c.reserved0 ||
	    memchr_inv(c.reserved, 0, sizeof(c.reserved)))
		return -EINVAL;
	if (!(c.flags & SHMRING_CREATE_NODE) && c.node)
		return -EINVAL;
	if (!shmring_name_ok(c.name))
		return -EINVAL;
	if (!c.size || c.size > SHMRING_MAX_SIZE)
		return -EINVAL;
	if (!c.mode || c.mode & ~0777U)
		return -EINVAL;
	ret = shmring_id_check(c.uid, c.gid, &a.owner, &a.group);
	if (ret)
		return ret;
	a.numa_node = NUMA_NO_NODE;
	if (c.flags & SHMRING_CREATE_NODE) {
		if (c.node < 0 || c.node >= nr_node_ids ||
		    !node_possible(c.node))
			return -EINVAL;
		if (!node_state(c.node, N_MEMORY))
			return -ENODEV;
		a.numa_node = c.node;
	}
	if ((!uid_eq(a.owner, current_fsuid()) || !in_group_p(a.group)) &&
	    !capable(CAP_SYS_ADMIN))
		return -EPERM;

	a.name = c.name;
	a.size = PAGE_ALIGN(c.size);
	a.mode = c.mode;
	a.creator = current_uid();
	a.account = true;
	return shmring_inst_add(&a);
}

static long shmring_ioctl_destroy(void __user *arg)
{
	struct shmring_destroy d;
	struct shmring_dev *sdev;
	int ret = 0;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	if (d.flags || d.reserved0 || memchr_inv(d.reserved, 0,
						 sizeof(d.reserved)))
		return -EINVAL;
	if (!shmring_name_ok(d.name))
		return -EINVAL;

	mutex_lock(&shmring_inst_lock);
	sdev = shmring_inst_find(d.name);
	if (!sdev || !sdev->registered)
		ret = -ENOENT;
	else if (!uid_eq(sdev->owner, current_fsuid()) &&
		 !capable(CAP_SYS_ADMIN))
		ret = -EPERM;
	else
		shmring_inst_kill(sdev);
	mutex_unlock(&shmring_inst_lock);
	if (!ret)
		put_device(&sdev->dev);
	return ret;
}

static long shmring_control_ioctl(struct file *file, unsigned int cmd,
				  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SHMRING_IOC_CREATE:
		return shmring_ioctl_create(uarg);
	case SHMRING_IOC_DESTROY:
		return shmring_ioctl_destroy(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations shmring_control_fops = {
	.owner = THIS_MODULE,
	.llseek = noop_llseek,
	.unlocked_ioctl = shmring_control_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice shmring_control = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "shmring-control",
	.fops = &shmring_control_fops,
	.mode = 0666,
};

/* One NAME:SIZE[:MODE[:UID[:GID]]] of instances=, cut up in place. */
static int __init shmring_param_one(char *entry)
{
	struct shmring_inst_args a = {
		.mode = SHMRING_INSTANCE_MODE,
		.owner = GLOBAL_ROOT_UID,
		.group = GLOBAL_ROOT_GID,
		.creator = INVALID_UID,
		.numa_node = NUMA_NO_NODE,
	};
	char *name = strsep(&entry, ":");
	char *size = strsep(&entry, ":");
	char *mode = strsep(&entry, ":");
	char *uid = strsep(&entry, ":");
	char *gid = strsep(&entry, ":");
	char padded[SHMRING_INST_NAME_MAX] = {};
	unsigned long bytes;
	unsigned int n;
	int ret;

	if (entry || !size || strlen(name) >= sizeof(padded))
		return -EINVAL;
	strscpy(padded, name, sizeof(padded));
	if (!shmring_name_ok(padded))
		return -EINVAL;
	a.name = padded;
	if (shmring_parse_bytes(size, strlen(size), &bytes) || !bytes ||
	    bytes > SHMRING_MAX_SIZE)
		return -EINVAL;
	a.size = PAGE_ALIGN(bytes);
	if (mode) {
		if (kstrtouint(mode, 8, &n) || !n || n & ~0777U)
			return -EINVAL;
		a.mode = n;
	}
	if (uid) {
		if (kstrtouint(uid, 10, &n))
			return -EINVAL;
		a.owner = make_kuid(&init_user_ns, n);
	}
	if (gid) {
		if (kstrtouint(gid, 10, &n))
			return -EINVAL;
		a.group = make_kgid(&init_user_ns, n);
	}
	if (!uid_valid(a.owner) || !gid_valid(a.group))
		return -EINVAL;
	ret = shmring_inst_add(&a);
	if (ret)
		return ret;
	pr_info("instance %s: %zu bytes at /dev/shmrings/%s\n", a.name, a.size,
		a.name);
	return 0;
}

static int __init shmring_param_all(void)
{
	char *list, *cur, *entry;
	int ret = 0;

	if (!shmring_instances_param || !*shmring_instances_param)
		return 0;
	list = kstrdup(shmring_instances_param, GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	cur = list;
	while ((entry = strsep(&cur, ",")) != NULL) {
		char copy[80];

		strscpy(copy, entry, sizeof(copy));
		ret = shmring_param_one(entry);
		if (ret) {
			pr_err("instances=: entry \"%s\" is invalid (%d)\n",
			       copy, ret);
			break;
		}
	}
	kfree(list);
	return ret;
}

/*
 * Destroys every instance, and waits until each one is freed: none may
 * have a file left, but a device's release may still come later than its
 * last put_device() (CONFIG_DEBUG_KOBJECT_RELEASE delays it on purpose),
 * and it must not run once the module is gone.
 */
static void shmring_inst_kill_all(void)
{
	struct shmring_dev *sdev, *live;

	for (;;) {
		live = NULL;
		mutex_lock(&shmring_inst_lock);
		list_for_each_entry(sdev, &shmring_instances, node) {
			if (sdev->registered && !sdev->dead) {
				live = sdev;
				shmring_inst_kill(live);
				break;
			}
		}
		mutex_unlock(&shmring_inst_lock);
		if (!live)
			break;
		put_device(&live->dev);
	}
	wait_event(shmring_inst_freed, !atomic_read(&shmring_inst_alive));
}

int __init shmring_instances_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&shmring_devt, 0, SHMRING_MAX_INSTANCES,
				  "shmring");
	if (ret)
		return ret;
	ret = class_register(&shmring_class);
	if (ret)
		goto err_region;
	ret = shmring_param_all();
	if (ret)
		goto err_instances;
	ret = misc_register(&shmring_control);
	if (ret)
		goto err_instances;
	return 0;

err_instances:
	shmring_inst_kill_all();
	class_unregister(&shmring_class);
err_region:
	unregister_chrdev_region(shmring_devt, SHMRING_MAX_INSTANCES);
	return ret;
}

/* rmmod: no file of any instance is open, or the module would be pinned. */
void shmring_instances_exit(void)
{
	misc_deregister(&shmring_control);
	shmring_inst_kill_all();
	WARN_ON(!list_empty(&shmring_instances));
	class_unregister(&shmring_class);
	unregister_chrdev_region(shmring_devt, SHMRING_MAX_INSTANCES);
	ida_destroy(&shmring_minors);
}
