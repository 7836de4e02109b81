// SPDX-License-Identifier: GPL-2.0
/*
 * shmring create, destroy and list: named instances through libshmring,
 * with the kernel's errors worded for each command; and the lines about an
 * instance that 'shmring info' shows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define INST_MAX_SIZE	(1ULL << 30)
#define SYSFS_CLASS	"/sys/class/shmring"

static const char create_usage[] =
"Usage: shmring create NAME --size BYTES [--mode OCTAL] [--owner USER]\n"
"                      [--group GROUP] [--node N]\n"
"\n"
"Create the instance NAME: a buffer of its own, " SHMRING_INSTANCE_DIR "/NAME,\n"
"all of its pages allocated now and charged to the caller's memory cgroup.\n"
"NAME is 1 to 31 characters of A-Z a-z 0-9 _ . -, not starting with '.'\n"
"or '-'. Any user may create instances, within the module's per-user\n"
"limits (user_instances, user_bytes); root is not limited.\n"
"\n"
"Options:\n"
"  -s, --size BYTES   1 byte to 1G, K, M or G suffix allowed, rounded up\n"
"                     to whole pages (required; channels need 2 pages)\n"
"  -m, --mode OCTAL   permission bits of the node, 0001 to 0777\n"
"                     (default 0600)\n"
"  -o, --owner USER   owner of the node, a name or a number (default:\n"
"                     the caller); others need root (CAP_SYS_ADMIN)\n"
"  -g, --group GROUP  group of the node, a name or a number (default:\n"
"                     the caller's); without root, one of the caller's\n"
"                     groups: the way to give a group access (with\n"
"                     --mode 0660)\n"
"  -n, --node N       take the pages from NUMA node N only\n"
"  -h, --help         show this help and exit\n"
"\n"
"Exit status: 0 when created, 1 on an error (name taken, over a limit,\n"
"out of memory, no module), 2 on a usage error.\n";

static const char destroy_usage[] =
"Usage: shmring destroy NAME\n"
"\n"
"Destroy the instance NAME: its name and node go at once, so that it may\n"
"be created again; its memory when the last process that has it open or\n"
"mapped lets go. Only the owner of its node, or root, may destroy it.\n"
"\n"
"Options:\n"
"  -h, --help   show this help and exit\n"
"\n"
"Exit status: 0 when destroyed, 1 on an error (no such instance, not the\n"
"owner, no module), 2 on a usage error.\n";

static const char list_usage[] =
"Usage: shmring list\n"
"\n"
"List the instances, sorted by name, in a table whose columns are:\n"
"  NAME     the instance, " SHMRING_INSTANCE_DIR "/NAME\n"
"  SIZE     bytes\n"
"  NODE     NUMA node of its pages, '-' for any\n"
"  CREATOR  the user whose limits it counts against, '-' for none\n"
"           (created when the module loaded)\n"
"  OWNER    owner of the node\n"
"  GROUP    group of the node\n"
"  MODE     permission bits of the node\n"
"Nothing but the header when there are none.\n"
"\n"
"Options:\n"
"  -h, --help   show this help and exit\n"
"\n"
"Exit status: 0 when listed, 1 on an error (no module, a module without\n"
"instances), 2 on a usage error.\n";

/* NAME, the one operand of create and destroy; exits 2 on a bad one. */
static const char *name_operand(int argc, char **argv)
{
	const char *name;

	if (optind == argc)
		tool_usage("missing instance name");
	name = argv[optind];
	if (optind + 1 < argc)
		tool_usage("unexpected argument '%s'", argv[optind + 1]);
	if (!shmring_instance_name_ok(name))
		tool_usage("bad instance name '%s': 1 to %d characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'",
			   name, SHMRING_INST_NAME_MAX - 1);
	return name;
}

/* A plain decimal number up to @max; -1 for anything else. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static uint32_t parse_owner(const char *s)
{
	struct passwd *pw;
	unsigned long v;

	if (!parse_uint(s, UINT32_MAX - 1, &v))
		return (uint32_t)v;
	errno = 0;
	pw = getpwnam(s);
	if (!pw) {
		if (errno)
			tool_err(errno, "looking up user '%s'", s);
		tool_usage("no such user '%s'", s);
	}
	return pw->pw_uid;
}

static uint32_t parse_group(const char *s)
{
	struct group *gr;
	unsigned long v;

	if (!parse_uint(s, UINT32_MAX - 1, &v))
		return (uint32_t)v;
	errno = 0;
	gr = getgrnam(s);
	if (!gr) {
		if (errno)
			tool_err(errno, "looking up group '%s'", s);
		tool_usage("no such group '%s'", s);
	}
	return gr->gr_gid;
}

/* The library's ENODEV and EOPNOTSUPP: the host, not the instance. */
static bool no_instances(int err)
{
	if (err == EOPNOTSUPP) {
		tool_err(0, "the loaded shmring module has no instances (no %s): it predates them",
			 SHMRING_CONTROL);
		return true;
	}
	if (err == ENODEV && access(SHMRING_CONTROL, F_OK)) {
		tool_err(0, "the shmring module is not loaded (see 'shmring load')");
		return true;
	}
	return false;
}

static void create_error(const char *name, const struct shmring_instance_attr *a,
			 int err)
{
	if (no_instances(err))
		return;
	switch (err) {
	case EEXIST:
		tool_err(0, "%s: an instance of that name exists", name);
		break;
	case EPERM:
		tool_err(0, "%s: only root (CAP_SYS_ADMIN) may give the node an owner or group other than the caller's own",
			 name);
		break;
	case ENOSPC:
		tool_err(0, "%s: over a limit: the instances or bytes each user may have (module parameters user_instances and user_bytes), or the module's maximum of instances",
			 name);
		break;
	case ENOMEM:
		tool_err(0, "%s: out of memory: the memory cgroup's limit (memory.max), or the system's, is below %llu bytes, or the size is above half of RAM",
			 name, (unsigned long long)a->size);
		break;
	case ENODEV:
		tool_err(0, "%s: NUMA node %d has no memory (offline or memoryless)",
			 name, a->node);
		break;
	case EINVAL:
		tool_err(0, "%s: the kernel refused the owner, group or node (an id not mapped in this user namespace, a node that cannot exist)",
			 name);
		break;
	case EACCES:
		tool_err(err, "%s", SHMRING_CONTROL);
		break;
	default:
		tool_err(err, "%s", name);
	}
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "owner", required_argument, NULL, 'o' },
		{ "group", required_argument, NULL, 'g' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = ":s:m:o:g:n:h";
	struct shmring_instance_attr a;
	const char *name;
	unsigned long v;
	char *end;
	int c, ret;

	shmring_instance_attr_init(&a);
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tool_parse_size(optarg, &a.size) ||
			    a.size > INST_MAX_SIZE)
				tool_usage("bad size '%s': 1 byte to 1G, with an optional K, M or G suffix",
					   optarg);
			break;
		case 'm':
			errno = 0;
			v = strtoul(optarg, &end, 8);
			if (*optarg < '0' || *optarg > '7' || errno || *end ||
			    !v || v > 0777)
				tool_usage("bad mode '%s': octal 0001 to 0777",
					   optarg);
			a.mode = (uint32_t)v;
			break;
		case 'o':
			a.uid = parse_owner(optarg);
			break;
		case 'g':
			a.gid = parse_group(optarg);
			break;
		case 'n':
			if (parse_uint(optarg, INT_MAX, &v))
				tool_usage("bad node '%s': a NUMA node number",
					   optarg);
			a.flags |= SHMRING_INSTANCE_NODE;
			a.node = (int32_t)v;
			break;
		case 'h':
			fputs(create_usage, stdout);
			return 0;
		default:
			tool_bad_option(argv, c, optstring);
		}
	}
	name = name_operand(argc, argv);
	if (!a.size)
		tool_usage("missing --size");

	ret = shmring_instance_create(name, &a);
	if (ret) {
		create_error(name, &a, -ret);
		return 1;
	}
	return 0;
}

/* -h only, then NAME. */
static const char *parse_name_only(int argc, char **argv, const char *usage)
{
	tool_help_only(argc, argv, usage);
	return name_operand(argc, argv);
}

int cmd_destroy(int argc, char **argv)
{
	const char *name = parse_name_only(argc, argv, destroy_usage);
	int ret;

	ret = shmring_instance_destroy(name);
	if (!ret)
		return 0;
	if (no_instances(-ret))
		return 1;
	switch (-ret) {
	case ENOENT:
		tool_err(0, "%s: no such instance", name);
		break;
	case EPERM:
		tool_err(0, "%s: only the owner of its node, or root (CAP_SYS_ADMIN), may destroy it",
			 name);
		break;
	case EACCES:
		tool_err(-ret, "%s", SHMRING_CONTROL);
		break;
	default:
		tool_err(-ret, "%s", name);
	}
	return 1;
}

static const char *user_str(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", uid);
	return buf;
}

static const char *group_str(uint32_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", gid);
	return buf;
}

/* The sysfs attribute @attr of instance @name, or NULL when absent. */
static const char *sysfs_attr(const char *name, const char *attr, char *buf,
			      size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS_CLASS "/%s/%s", name, attr);
	return tool_read_line(path, buf, len) ? NULL : buf;
}

int cmd_list(int argc, char **argv)
{
	struct shmring_instinfo *tab = NULL;
	char node[16], creator[64], owner[64], group[64], mode[8];
	int i, n, max = 0, w = 4;

	tool_help_only(argc, argv, list_usage);
	tool_no_operands(argc, argv);

	/* Instances come and go meanwhile: ask until the table holds all. */
	for (;;) {
		n = shmring_instances(tab, (unsigned int)max);
		if (n < 0) {
			if (!no_instances(-n))
				tool_err(-n, "%s", SYSFS_CLASS);
			free(tab);
			return 1;
		}
		if (n <= max)
			break;
		free(tab);
		max = n + 8;
		tab = calloc((size_t)max, sizeof(*tab));
		if (!tab) {
			tool_err(ENOMEM, "listing instances");
			return 1;
		}
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(tab[i].name) > w)
			w = (int)strlen(tab[i].name);
	printf("%-*s  %10s  %4s  %-8s  %-8s  %-8s  %s\n", w, "NAME", "SIZE",
	       "NODE", "CREATOR", "OWNER", "GROUP", "MODE");
	for (i = 0; i < n; i++) {
		const struct shmring_instinfo *in = &tab[i];
		bool has_node = in->flags & SHMRING_INSTINFO_NODE;

		if (in->node < 0)
			snprintf(node, sizeof(node), "-");
		else
			snprintf(node, sizeof(node), "%d", in->node);
		if (in->creator == SHMRING_ID_CALLER)
			snprintf(creator, sizeof(creator), "-");
		else
			user_str(in->creator, creator, sizeof(creator));
		snprintf(mode, sizeof(mode), "%04o", in->mode);
		printf("%-*s  %10llu  %4s  %-8s  %-8s  %-8s  %s\n", w, in->name,
		       (unsigned long long)in->size, node, creator,
		       has_node ? user_str(in->uid, owner, sizeof(owner)) : "?",
		       has_node ? group_str(in->gid, group, sizeof(group)) : "?",
		       has_node ? mode : "?");
	}
	free(tab);
	return 0;
}

const char *instance_of_path(const char *path)
{
	static const char dir[] = SHMRING_INSTANCE_DIR "/";
	const char *name;

	if (strncmp(path, dir, sizeof(dir) - 1))
		return NULL;
	name = path + sizeof(dir) - 1;
	return shmring_instance_name_ok(name) ? name : NULL;
}

void instance_print(const char *name)
{
	struct shmring_instinfo *tab;
	char buf[4096], owner[64], group[64], mode[11];
	const char *v;
	int i, n, max;

	printf("instance: %s\n", name);
	/* Room for a few created meanwhile; one destroyed may be missed. */
	max = shmring_instances(NULL, 0);
	max = max < 0 ? 0 : max + 8;
	tab = max ? calloc((size_t)max, sizeof(*tab)) : NULL;
	n = tab ? shmring_instances(tab, (unsigned int)max) : 0;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		const struct shmring_instinfo *in = &tab[i];

		if (strcmp(in->name, name))
			continue;
		if (in->node < 0)
			puts("numa-node: any");
		else
			printf("numa-node: %d\n", in->node);
		if (in->creator == SHMRING_ID_CALLER)
			puts("creator: none (created when the module loaded)");
		else
			printf("creator: %s (uid %u)\n",
			       user_str(in->creator, buf, sizeof(buf)),
			       in->creator);
		if (in->flags & SHMRING_INSTINFO_NODE) {
			tool_mode_str(in->mode, mode);
			printf("node: %s/%s %s %s %s (%04o)\n",
			       SHMRING_INSTANCE_DIR, name, mode + 1,
			       user_str(in->uid, owner, sizeof(owner)),
			       group_str(in->gid, group, sizeof(group)),
			       in->mode);
		}
		break;
	}
	if (i >= n)
		puts("creator: unknown (not in " SYSFS_CLASS ")");
	free(tab);
	/* Shown as soon as the module reports them; older ones do not. */
	v = sysfs_attr(name, "memcg", buf, sizeof(buf));
	if (v && !strcmp(v, "-"))
		v = "none (created when the module loaded, or no memory controller)";
	printf("memcg: %s\n", v ? v : "unknown (not reported by this module)");
	/* This process's own open file is one of them. */
	v = sysfs_attr(name, "users", buf, sizeof(buf));
	if (v)
		printf("users: %s open files, this one included\n", v);
	else
		puts("users: unknown (not reported by this module)");
}
