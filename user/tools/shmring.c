// SPDX-License-Identifier: GPL-2.0
/*
 * shmring: look at /dev/shmring, stream data through it, and load or unload
 * its module. This file takes the global options and runs the command;
 * cmd_*.c hold the commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "info", "show the buffer, its channels and the module", cmd_info },
	{ "send", "stream a file or stdin into a channel", cmd_send },
	{ "recv", "write a channel's stream to stdout or a file", cmd_recv },
	{ "format", "lay out an empty channel directory", cmd_format },
	{ "create", "create a named instance", cmd_create },
	{ "destroy", "destroy a named instance", cmd_destroy },
	{ "list", "list the named instances", cmd_list },
	{ "status", "show whether the module is loaded (exit 1 if not)",
	  cmd_status },
	{ "load", "load the shmring module", cmd_load },
	{ "unload", "unload the shmring module", cmd_unload },
	{ "help", "show this help, or a command's: help COMMAND", cmd_help },
};

#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(void)
{
	size_t i;

	fputs("Usage: shmring [-d PATH | -i NAME] COMMAND [ARGS...]\n"
	      "\n"
	      "Look at the shmring buffer, stream data through it, create,\n"
	      "list and destroy named instances, and load or unload its kernel\n"
	      "module.\n"
	      "\n"
	      "Commands:\n", stdout);
	for (i = 0; i < NR_CMDS; i++)
		printf("  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -d, --device PATH  the buffer (default " SHMRING_DEVICE ").\n"
	      "                     PATH may also be a regular file of whole\n"
	      "                     pages, 2 pages to 1 GiB, which is then\n"
	      "                     mapped shared and uses futex wait/wake:\n"
	      "                     a way to use send and recv without the\n"
	      "                     module, e.g. after\n"
	      "                     'truncate -s 4M /dev/shm/ring'.\n"
	      "                     An instance is " SHMRING_INSTANCE_DIR "/NAME.\n"
	      "  -i, --instance NAME\n"
	      "                     the instance NAME: the same as\n"
	      "                     -d " SHMRING_INSTANCE_DIR "/NAME\n"
	      "  -h, --help         show this help and exit\n"
	      "\n"
	      "Exit status: 0 on success, 1 on a runtime error, 2 on a usage\n"
	      "error ('status' also exits 1 when the module is not loaded).\n"
	      "Run 'shmring COMMAND --help' for a command's options.\n", stdout);
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NR_CMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

/* Starts getopt_long() over on a command's own argv (a glibc feature). */
static int run(const struct cmd *c, int argc, char **argv)
{
	tool_cmd = c->name;
	optind = 0;
	return c->run(argc, argv);
}

static int cmd_help(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = ":h";
	char *args[] = { NULL, "--help", NULL };
	const struct cmd *c;
	int o;

	while ((o = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (o != 'h')
			tool_bad_option(argv, o, optstring);
		usage();
		return 0;
	}
	if (optind == argc) {
		usage();
		return 0;
	}
	c = find_cmd(argv[optind]);
	if (!c)
		tool_usage("unknown command '%s'", argv[optind]);
	if (optind + 1 < argc)
		tool_usage("unexpected argument '%s'", argv[optind + 1]);
	args[0] = argv[optind];
	return run(c, 2, args);
}

/*
 * With 0, 1 or 2 closed, the buffer could be opened as one of them and the
 * stream or a message written into it. Fill them with /dev/null, opened
 * the other way round, so that using them still fails with EBADF.
 */
static void hold_std_fds(void)
{
	int fd, got;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		got = open("/dev/null", fd ? O_RDONLY : O_WRONLY);
		if (got != fd) {
			if (got >= 0)
				close(got);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "instance", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* '+': stop at the command, whose options are its own. */
	static const char optstring[] = "+:d:i:h";
	static char inst_path[64];
	const struct cmd *c;
	int o, ret;

	hold_std_fds();
	opterr = 0;
	while ((o = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			if (!*optarg)
				tool_usage("the device path is empty");
			tool_device = optarg;
			break;
		case 'i':
			if (shmring_instance_path(optarg, inst_path,
						  sizeof(inst_path)))
				tool_usage("bad instance name '%s': 1 to %d characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'",
					   optarg, SHMRING_INST_NAME_MAX - 1);
			tool_device = inst_path;
			break;
		case 'h':
			usage();
			return 0;
		default:
			tool_bad_option(argv, o, optstring);
		}
	}
	if (optind == argc)
		tool_usage("missing command");
	c = find_cmd(argv[optind]);
	if (!c)
		tool_usage("unknown command '%s'", argv[optind]);
	ret = run(c, argc - optind, argv + optind);
	/* Output to a full disk or a closed pipe is an error too. */
	if (fflush(stdout) || ferror(stdout)) {
		tool_err(errno, "write error on stdout");
		return 1;
	}
	return ret;
}
