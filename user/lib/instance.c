// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Named instances: creating and destroying them through
 * /dev/shmring-control, opening one by name (/dev/shmrings/NAME), and
 * listing them from /sys/class/shmring. Names and attributes are checked
 * here, before any system call, with the kernel's own rules.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The module's largest instance, as SHMRING_IOC_CREATE checks it. */
#define SR_INST_MAX_SIZE	(1ULL << 30)
#define SR_SYSFS_CLASS		"/sys/class/shmring"

_Static_assert(sizeof(struct shmring_instance_attr) ==
	       SHMRING_INSTANCE_ATTR_SIZE_V1, "the first attr version");

int shmring_instance_name_ok(const char *name)
{
	size_t i, len;

	if (!name)
		return 0;
	len = strnlen(name, SHMRING_INST_NAME_MAX);
	if (!len || len >= SHMRING_INST_NAME_MAX)
		return 0;
	if (name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Why there is no /dev/shmring-control, or no instance node: ENODEV when
 * the module is not there at all, EOPNOTSUPP when it is but has no
 * instances (a module from before them); 0 when the control device is
 * there, and the caller's own errno stands.
 */
static int no_instances_err(void)
{
	if (!access(SHMRING_CONTROL, F_OK))
		return 0;
	if (!access(SHMRING_DEVICE, F_OK) || !access("/sys/module/shmring", F_OK))
		return EOPNOTSUPP;
	return ENODEV;
}

static int control_open(void)
{
	int fd, err;

	fd = open(SHMRING_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err == ENOENT && no_instances_err())
		return -no_instances_err();
	return -err;
}

/* @cmd on a control fd of its own: 0, or -errno with errno set. */
static int control_ioctl(unsigned long cmd, void *arg)
{
	int fd = control_open(), err;

	if (fd < 0)
		return sr_fail(-fd);
	err = ioctl(fd, cmd, arg) ? errno : 0;
	close(fd);
	return err ? sr_fail(err) : 0;
}

void shmring_instance_attr_init(struct shmring_instance_attr *attr)
{
	if (!attr)
		return;
	memset(attr, 0, sizeof(*attr));
	attr->attr_size = sizeof(*attr);
	attr->mode = SHMRING_INSTANCE_MODE;
	attr->uid = SHMRING_ID_CALLER;
	attr->gid = SHMRING_ID_CALLER;
}

/*
 * An attr of @attr_size bytes: at least the first version's, and any bytes
 * beyond what this library knows zero (a newer caller's fields that would
 * be silently dropped otherwise).
 */
static int attr_check(const struct shmring_instance_attr *attr)
{
	const unsigned char *p = (const unsigned char *)attr;
	size_t i;

	if (attr->attr_size < SHMRING_INSTANCE_ATTR_SIZE_V1)
		return -EINVAL;
	for (i = sizeof(*attr); i < attr->attr_size; i++)
		if (p[i])
			return -E2BIG;
	for (i = 0; i < sizeof(attr->reserved) / sizeof(attr->reserved[0]); i++)
		if (attr->reserved[i])
			return -EINVAL;
	if (attr->flags & ~SHMRING_INSTANCE_FLAGS)
		return -EINVAL;
	if (!attr->size || attr->size > SR_INST_MAX_SIZE)
		return -EINVAL;
	if (!attr->mode || attr->mode > 0777)
		return -EINVAL;
	if (attr->flags & SHMRING_INSTANCE_NODE) {
		if (attr->node < 0)
			return -EINVAL;
	} else if (attr->node) {
		return -EINVAL;
	}
	return 0;
}

int shmring_instance_create(const char *name,
			    const struct shmring_instance_attr *attr)
{
	struct shmring_create c;
	int err;

	if (!shmring_instance_name_ok(name) || !attr)
		return sr_fail(EINVAL);
	err = attr_check(attr);
	if (err)
		return sr_fail(-err);
	memset(&c, 0, sizeof(c));
	c.size = attr->size;
	c.mode = attr->mode;
	c.uid = attr->uid;
	c.gid = attr->gid;
	if (attr->flags & SHMRING_INSTANCE_NODE) {
		c.flags |= SHMRING_CREATE_NODE;
		c.node = attr->node;
	}
	memcpy(c.name, name, strlen(name));
	return control_ioctl(SHMRING_IOC_CREATE, &c);
}

int shmring_instance_destroy(const char *name)
{
	struct shmring_destroy d;

	if (!shmring_instance_name_ok(name))
		return sr_fail(EINVAL);
	memset(&d, 0, sizeof(d));
	memcpy(d.name, name, strlen(name));
	return control_ioctl(SHMRING_IOC_DESTROY, &d);
}

int shmring_instance_path(const char *name, char *buf, size_t len)
{
	int n;

	if (!shmring_instance_name_ok(name) || !buf)
		return sr_fail(EINVAL);
	n = snprintf(buf, len, "%s/%s", SHMRING_INSTANCE_DIR, name);
	if (n < 0 || (size_t)n >= len)
		return sr_fail(ENAMETOOLONG);
	return 0;
}

int shmring_open_instance(const char *name, struct shmring **out)
{
	char path[sizeof(SHMRING_INSTANCE_DIR) + SHMRING_INST_NAME_MAX];
	int ret, err;

	if (!out || shmring_instance_path(name, path, sizeof(path)))
		return sr_fail(EINVAL);
	ret = shmring_open(path, out);
	if (ret == -ENOENT) {
		err = no_instances_err();
		if (err)
			return sr_fail(err);
	}
	return ret;
}

/* One line of /sys/class/shmring/NAME/@attr as a signed number. */
static int sysfs_read(int dirfd, const char *attr, long long *val)
{
	char buf[32], *end;
	ssize_t n;
	int fd;

	fd = openat(dirfd, attr, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n ? -errno : -EIO;
	buf[n] = '\0';
	errno = 0;
	*val = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EIO;
	return 0;
}

/* What sysfs and the node say of the instance @name; -ENOENT if it went. */
static int instance_describe(int classfd, const char *name,
			     struct shmring_instinfo *info)
{
	char path[sizeof(SHMRING_INSTANCE_DIR) + SHMRING_INST_NAME_MAX];
	long long v;
	struct stat st;
	int dirfd, ret;

	memset(info, 0, sizeof(*info));
	memcpy(info->name, name, strlen(name));
	dirfd = openat(classfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	ret = sysfs_read(dirfd, "size", &v);
	if (!ret)
		info->size = v < 0 ? 0 : (uint64_t)v;
	if (!ret)
		ret = sysfs_read(dirfd, "numa_node", &v);
	if (!ret)
		info->node = (int32_t)v;
	if (!ret)
		ret = sysfs_read(dirfd, "creator", &v);
	if (!ret)
		info->creator = v < 0 ? SHMRING_ID_CALLER : (uint32_t)v;
	close(dirfd);
	if (ret)
		return ret;
	/* Owner, group and mode are the node's, as devtmpfs or udev set them. */
	if (!shmring_instance_path(name, path, sizeof(path)) &&
	    !stat(path, &st) && S_ISCHR(st.st_mode)) {
		info->flags |= SHMRING_INSTINFO_NODE;
		info->uid = st.st_uid;
		info->gid = st.st_gid;
		info->mode = st.st_mode & 07777;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct shmring_instinfo *)a)->name,
		      ((const struct shmring_instinfo *)b)->name);
}

int shmring_instances(struct shmring_instinfo *out, unsigned int max)
{
	struct shmring_instinfo one, *dst;
	struct dirent *de;
	unsigned int n = 0;
	int classfd, err;
	DIR *dir;

	if (!out && max)
		return sr_fail(EINVAL);
	classfd = open(SR_SYSFS_CLASS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (classfd < 0) {
		err = errno;
		/* The control device without the class: none created yet. */
		if (err == ENOENT && !no_instances_err())
			return 0;
		if (err == ENOENT)
			err = no_instances_err();
		return sr_fail(err);
	}
	dir = fdopendir(classfd);
	if (!dir) {
		err = errno;
		close(classfd);
		return sr_fail(err);
	}
	while ((de = readdir(dir))) {
		if (!shmring_instance_name_ok(de->d_name))
			continue;
		dst = n < max ? &out[n] : &one;
		err = -instance_describe(classfd, de->d_name, dst);
		/* Destroyed while we looked: not an instance any more. */
		if (err == ENOENT)
			continue;
		if (err) {
			closedir(dir);
			return sr_fail(err);
		}
		if (n == INT32_MAX)
			break;
		n++;
	}
	closedir(dir);
	if (n && max)
		qsort(out, n < max ? n : max, sizeof(*out), name_cmp);
	return (int)n;
}
