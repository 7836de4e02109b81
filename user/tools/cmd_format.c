// SPDX-License-Identifier: GPL-2.0
/*
 * shmring format: lay out the channel directory, or with --force wipe a
 * foreign or corrupted one. Channels create the layout on their own in a
 * zeroed buffer; this is for a buffer something else wrote into.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "tool.h"

static const char format_usage[] =
"Usage: shmring format [-f|--force]\n"
"\n"
"Write the header and an empty channel directory at the start of the\n"
"buffer. Without --force this only formats an all-zero buffer and leaves\n"
"a valid layout as it is; a foreign or corrupted one is an error.\n"
"\n"
"Options:\n"
"  -f, --force  rewrite the layout whatever is there, dropping every\n"
"               channel. Only when nobody uses the buffer.\n"
"  -h, --help   show this help and exit\n"
"\n"
"Exit status: 0 when the buffer holds a valid layout afterwards, 1 on an\n"
"error, 2 on a usage error.\n";

int cmd_format(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = ":fh";
	unsigned int flags = 0;
	struct tool_buf b;
	int c, ret;

	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			flags |= SHMRING_FORMAT_FORCE;
			break;
		case 'h':
			fputs(format_usage, stdout);
			return 0;
		default:
			tool_bad_option(argv, c, optstring);
		}
	}
	tool_no_operands(argc, argv);

	if (tool_buf_open(tool_device, &b))
		return 1;
	ret = shmring_format(b.sh, flags);
	tool_buf_close(&b);
	if (ret == -EBADMSG) {
		tool_err(EBADMSG, "%s holds a foreign or corrupted layout; 'shmring format --force' rewrites it",
			 tool_device);
		return 1;
	}
	if (ret) {
		tool_err(-ret, "%s", tool_device);
		return 1;
	}
	return 0;
}
