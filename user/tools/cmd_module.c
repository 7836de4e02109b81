// SPDX-License-Identifier: GPL-2.0
/*
 * shmring load, unload and status, on libkmod: the calls modprobe and rmmod
 * make, with the errors worded for this module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libkmod.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "tool.h"

#define MODNAME		"shmring"
#define SYSFS_MOD	"/sys/module/" MODNAME
/* The module refuses a size= over 1 GiB; say so before loading. */
#define MAX_BUF_SIZE	(1ULL << 30)
/* Room for the options passed to the module. */
#define OPTS_MAX	4096

static const char load_usage[] =
"Usage: shmring load [-m MODULE.ko] [size=BYTES] [PARAM=VALUE...]\n"
"\n"
"Load the shmring module: the one modules.dep names for the running\n"
"kernel (installed under /lib/modules/$(uname -r)), or the file MODULE.ko.\n"
"Needs root (CAP_SYS_MODULE).\n"
"\n"
"Options:\n"
"  -m, --module FILE   load this .ko file instead\n"
"  -h, --help          show this help and exit\n"
"\n"
"Module parameters:\n"
"  size=BYTES          the buffer, 1 byte to 1G, K, M or G suffix allowed,\n"
"                      rounded up to whole pages (default 4M)\n"
"  mode=OCTAL          permission bits of " SHMRING_DEVICE ", 0001 to 0777\n"
"                      (default 0600), for systems without udev\n"
"  PARAM=VALUE         passed to the module as is\n"
"\n"
"As with modprobe, \"options shmring ...\" lines in /etc/modprobe.d come\n"
"first and the parameters given here, after them, override theirs.\n"
"Install and blacklist lines are modprobe's alone.\n"
"\n"
"Exit status: 0 when loaded, 1 on an error (already loaded, not root,\n"
"module not found, refused by the kernel), 2 on a usage error.\n";

static const char unload_usage[] =
"Usage: shmring unload\n"
"\n"
"Unload the shmring module. The kernel refuses while any process has\n"
SHMRING_DEVICE " open or mapped. Needs root (CAP_SYS_MODULE).\n"
"\n"
"Options:\n"
"  -h, --help   show this help and exit\n"
"\n"
"Exit status: 0 when unloaded, 1 on an error (not loaded, in use, not\n"
"root), 2 on a usage error.\n";

static const char status_usage[] =
"Usage: shmring status\n"
"\n"
"Show the module's state (live, coming, going, builtin or not loaded),\n"
"its reference count and holders, its size and mode parameters, its\n"
"version, the module file for the running kernel, and the device node\n"
"with its mode and owner, as \"key: value\" lines.\n"
"\n"
"Options:\n"
"  -h, --help   show this help and exit\n"
"\n"
"Exit status, like 'systemctl is-active': 0 when the module is loaded\n"
"(live or built in), 1 when it is not (or is coming or going, or on an\n"
"error), 2 on a usage error.\n";

/* -h and no operands: what unload and status take. */
static void parse_plain(int argc, char **argv, const char *usage)
{
	tool_help_only(argc, argv, usage);
	tool_no_operands(argc, argv);
}

static struct kmod_ctx *kmod_open(void)
{
	struct kmod_ctx *ctx;

	errno = 0;
	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		tool_err(errno ? errno : ENOMEM, "libkmod");
		return NULL;
	}
	/* Errors are worded here; KMOD_LOG=info shows libkmod's own. */
	if (!getenv("KMOD_LOG"))
		kmod_set_log_priority(ctx, LOG_EMERG);
	return ctx;
}

/* Without CONFIG_MODULES procfs has no "modules": say that, not ENOENT. */
static bool kernel_lacks_modules(void)
{
	return access("/proc/modules", F_OK) && errno == ENOENT &&
	       !access("/proc/self", F_OK);
}

static void print_holders(const struct kmod_module *mod)
{
	struct kmod_list *list = kmod_module_get_holders(mod), *l;
	const char *sep = "";

	fputs("holders:", stdout);
	if (!list)
		fputs(" none", stdout);
	kmod_list_foreach(l, list) {
		struct kmod_module *h = kmod_module_get_module(l);

		printf("%s %s", sep, kmod_module_get_name(h));
		sep = ",";
		kmod_module_unref(h);
	}
	putchar('\n');
	kmod_module_unref_list(list);
}

/*
 * A loaded module's sysfs tells what is loaded (no file means it has
 * none); the file on disk may be another build, so its modinfo is shown
 * only when the module is not loaded.
 */
static void print_version(const struct kmod_module *mod, bool loaded)
{
	char ver[128] = "", src[128] = "";
	struct kmod_list *info = NULL, *l;

	if (loaded) {
		tool_read_line(SYSFS_MOD "/version", ver, sizeof(ver));
		tool_read_line(SYSFS_MOD "/srcversion", src, sizeof(src));
	} else {
		/* Neither loaded nor found: nothing to tell. */
		if (kmod_module_get_info(mod, &info) <= 0)
			return;
		kmod_list_foreach(l, info) {
			const char *key = kmod_module_info_get_key(l);
			const char *val = kmod_module_info_get_value(l);

			if (!val)
				continue;
			if (!strcmp(key, "version"))
				snprintf(ver, sizeof(ver), "%s", val);
			else if (!strcmp(key, "srcversion"))
				snprintf(src, sizeof(src), "%s", val);
		}
		kmod_module_info_free_list(info);
	}
	printf("version: %s\n", *ver ? ver : "none");
	printf("srcversion: %s\n", *src ? src : "none");
}

static void print_node(const char *path)
{
	char mode[11], user[32], group[32];
	struct passwd *pw;
	struct group *gr;
	struct stat st;

	if (stat(path, &st)) {
		printf("node: %s (%s)\n", path,
		       errno == ENOENT ? "missing" : strerror(errno));
		return;
	}
	tool_mode_str(st.st_mode, mode);
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%u", (unsigned int)st.st_uid);
	if (gr)
		snprintf(group, sizeof(group), "%s", gr->gr_name);
	else
		snprintf(group, sizeof(group), "%u", (unsigned int)st.st_gid);
	printf("node: %s (%s %s:%s", path, mode, user, group);
	if (S_ISCHR(st.st_mode))
		printf(", char %u:%u", major(st.st_rdev), minor(st.st_rdev));
	puts(")");
}

int module_print_status(const char *device)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	const char *path;
	char buf[64], line[64];
	uint64_t size;
	int st, n, ret;

	ctx = kmod_open();
	if (!ctx)
		return -1;
	ret = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (ret) {
		tool_err(-ret, "libkmod: %s", MODNAME);
		kmod_unref(ctx);
		return -1;
	}
	st = kmod_module_get_initstate(mod);
	printf("module: %s\n", MODNAME);
	if (st >= 0)
		printf("state: %s\n", kmod_module_initstate_str(st));
	else if (st == -ENOENT && kernel_lacks_modules())
		puts("state: not loaded (this kernel has no module support)");
	else if (st == -ENOENT)
		puts("state: not loaded");
	else
		printf("state: unknown (%s)\n", strerror(-st));
	if (st >= 0 && st != KMOD_MODULE_BUILTIN) {
		n = kmod_module_get_refcnt(mod);
		if (n >= 0)
			printf("refcount: %d\n", n);
		print_holders(mod);
	}
	if (st >= 0 && !tool_read_line(SYSFS_MOD "/parameters/size", line,
				       sizeof(line))) {
		if (!tool_parse_size(line, &size))
			printf("param-size: %s\n",
			       tool_bytes(size, buf, sizeof(buf)));
		else
			printf("param-size: %s\n", line);
	}
	/* The node's bits at load time; a chmod since shows under node:. */
	if (st >= 0 && !tool_read_line(SYSFS_MOD "/parameters/mode", line,
				       sizeof(line)))
		printf("param-mode: %s\n", line);
	print_version(mod, st >= 0);
	path = kmod_module_get_path(mod);
	if (path)
		printf("file: %s\n", path);
	else
		printf("file: none in %s/modules.dep\n", kmod_get_dirname(ctx));
	print_node(device);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return st == KMOD_MODULE_LIVE || st == KMOD_MODULE_BUILTIN;
}

int cmd_status(int argc, char **argv)
{
	int loaded;

	parse_plain(argc, argv, status_usage);
	loaded = module_print_status(tool_device);
	return loaded > 0 ? 0 : 1;
}

/* Appends " WORD" to the options; size= is checked and made bytes. */
static void add_param(char *opts, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t len = strlen(opts);
	uint64_t size;
	int n;

	if (!eq || eq == word)
		tool_usage("'%s' is not PARAM=VALUE", word);
	/* The kernel splits the options at blanks. */
	if (strpbrk(word, " \t\n"))
		tool_usage("'%s' holds a blank", word);
	if (eq - word == 4 && !strncmp(word, "size", 4)) {
		if (tool_parse_size(eq + 1, &size) || size > MAX_BUF_SIZE)
			tool_usage("invalid size '%s': give 1 byte to 1G, K, M or G suffix allowed",
				   eq + 1);
		n = snprintf(opts + len, OPTS_MAX - len, "%ssize=%llu",
			     len ? " " : "", (unsigned long long)size);
	} else {
		n = snprintf(opts + len, OPTS_MAX - len, "%s%s",
			     len ? " " : "", word);
	}
	if (n < 0 || (size_t)n >= OPTS_MAX - len)
		tool_usage("too many module parameters");
}

static void load_error(int err, const char *name, const char *file,
		       const char *params)
{
	switch (err) {
	case EPERM:
		if (geteuid())
			tool_err(err, "not root (loading a module needs CAP_SYS_MODULE)");
		else
			tool_err(err, "refused: module loading is disabled or the kernel is locked down (see dmesg)");
		break;
	case EEXIST:
		tool_err(err, "%s: already loaded", name);
		break;
	case ENOENT:
		/* From the kernel, ENOENT means an unknown symbol. */
		if (access(file, F_OK))
			tool_err(err, "%s: module not found", file);
		else
			tool_err(err, "%s: unknown symbol in module (see dmesg)",
				 file);
		break;
	case EINVAL:
		if (*params)
			tool_err(err, "invalid parameter in '%s' (see dmesg)",
				 params);
		else
			tool_err(err, "%s: refused as invalid (see dmesg)",
				 file);
		break;
	case ENOEXEC:
		tool_err(err, "%s: invalid module format, built for another kernel? (see dmesg)",
			 file);
		break;
	case EKEYREJECTED:
	case ENOKEY:
		tool_err(err, "%s: module signature rejected (see dmesg)",
			 file);
		break;
	case ENOSYS:
		tool_err(err, "this kernel does not support loadable modules");
		break;
	case ENOMEM:
		tool_err(err, "no memory for the buffer (try a smaller size=)");
		break;
	default:
		tool_err(err, "%s", file);
	}
}

int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = ":m:h";
	static char params[OPTS_MAX], all[2 * OPTS_MAX];
	const char *path = NULL, *name, *file, *conf;
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int c, st, err, n, ret = 1;

	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			path = optarg;
			break;
		case 'h':
			fputs(load_usage, stdout);
			return 0;
		default:
			tool_bad_option(argv, c, optstring);
		}
	}
	for (; optind < argc; optind++)
		add_param(params, argv[optind]);
	if (path && !*path)
		tool_usage("the module path is empty");

	if (kernel_lacks_modules()) {
		tool_err(ENOSYS, "this kernel does not support loadable modules");
		return 1;
	}
	ctx = kmod_open();
	if (!ctx)
		return 1;
	if (path)
		err = kmod_module_new_from_path(ctx, path, &mod);
	else
		err = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (err) {
		tool_err(-err, "%s", path ? path : MODNAME);
		goto out_ctx;
	}
	name = kmod_module_get_name(mod);
	st = kmod_module_get_initstate(mod);
	if (st == KMOD_MODULE_LIVE || st == KMOD_MODULE_COMING) {
		tool_err(EEXIST, "%s: already loaded", name);
		goto out_mod;
	}
	if (st == KMOD_MODULE_BUILTIN) {
		tool_err(EEXIST, "%s: built into the kernel", name);
		goto out_mod;
	}
	if (st == KMOD_MODULE_GOING) {
		tool_err(EBUSY, "%s: being unloaded, try again", name);
		goto out_mod;
	}
	file = kmod_module_get_path(mod);
	if (!file) {
		tool_err(ENOENT, "%s: module not found in %s/modules.dep (give the file with -m)",
			 name, kmod_get_dirname(ctx));
		goto out_mod;
	}
	/* The kernel applies them in order: the command line's win. */
	conf = kmod_module_get_options(mod);
	n = snprintf(all, sizeof(all), "%s%s%s", conf ? conf : "",
		     conf && *conf && *params ? " " : "", params);
	if (n < 0 || (size_t)n >= sizeof(all)) {
		tool_err(E2BIG, "%s: the options in modprobe.d are too long",
			 name);
		goto out_mod;
	}
	err = kmod_module_insert_module(mod, 0, all);
	if (err) {
		load_error(-err, name, file, all);
		goto out_mod;
	}
	printf("%s: loaded %s%s%s\n", name, file, *all ? " " : "", all);
	ret = 0;
out_mod:
	kmod_module_unref(mod);
out_ctx:
	kmod_unref(ctx);
	return ret;
}

static void in_use(const char *name, int users)
{
	if (users > 0)
		tool_err(EBUSY, "%s: in use by %d user%s (close %s everywhere first)",
			 name, users, users == 1 ? "" : "s", SHMRING_DEVICE);
	else
		tool_err(EBUSY, "%s: in use (close %s everywhere first)", name,
			 SHMRING_DEVICE);
}

int cmd_unload(int argc, char **argv)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int st, n, err, ret = 1;

	parse_plain(argc, argv, unload_usage);
	ctx = kmod_open();
	if (!ctx)
		return 1;
	err = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (err) {
		tool_err(-err, "libkmod: %s", MODNAME);
		goto out_ctx;
	}
	st = kmod_module_get_initstate(mod);
	if (st < 0) {
		tool_err(0, "%s: not loaded", MODNAME);
		goto out_mod;
	}
	if (st == KMOD_MODULE_BUILTIN) {
		tool_err(EPERM, "%s: built into the kernel", MODNAME);
		goto out_mod;
	}
	if (st != KMOD_MODULE_LIVE) {
		tool_err(EBUSY, "%s: %s, try again", MODNAME,
			 kmod_module_initstate_str(st));
		goto out_mod;
	}
	n = kmod_module_get_refcnt(mod);
	if (n > 0) {
		in_use(MODNAME, n);
		goto out_mod;
	}
	err = kmod_module_remove_module(mod, KMOD_REMOVE_NOLOG);
	switch (-err) {
	case 0:
		printf("%s: unloaded\n", MODNAME);
		ret = 0;
		break;
	case EBUSY:
	case EAGAIN:
		in_use(MODNAME, kmod_module_get_refcnt(mod));
		break;
	case EPERM:
		tool_err(EPERM, "not root (unloading a module needs CAP_SYS_MODULE)");
		break;
	case ENOENT:
		tool_err(0, "%s: not loaded", MODNAME);
		break;
	default:
		tool_err(-err, "%s", MODNAME);
	}
out_mod:
	kmod_module_unref(mod);
out_ctx:
	kmod_unref(ctx);
	return ret;
}
