// SPDX-License-Identifier: GPL-2.0
/*
 * shmring info: the buffer as SHMRING_IOC_INFO reports it, the state of its
 * layout, its channels, and the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char info_usage[] =
"Usage: shmring info\n"
"\n"
"Show the buffer (size, page size, ABI version, tasks waiting; for an\n"
"instance also its NUMA node, creator, node owner, group and mode, and\n"
"its memory cgroup and users where the module reports them), its layout\n"
"(formatted, unformatted or corrupted), a table of its channels, and the\n"
"module as 'shmring status' shows it. One \"key: value\" per line, and\n"
"the table, whose columns are:\n"
"  NAME      the channel's name\n"
"  KIND      msg, stream or mpmc\n"
"  CAPACITY  ring bytes (msg, stream) or slots (mpmc)\n"
"  SLOT      bytes per slot (mpmc)\n"
"  USED      bytes (msg, stream) or slots (mpmc) queued\n"
"  PROD      producers attached\n"
"  CONS      consumers attached\n"
"  FLAGS     EOF (producers closed), HUP (consumers closed),\n"
"            BROKEN (a participant died)\n"
"\n"
"Options:\n"
"  -h, --help   show this help and exit\n"
"\n"
"The buffer is the one of 'shmring -d PATH' (default " SHMRING_DEVICE "),\n"
"or the instance of 'shmring -i NAME'.\n"
"\n"
"Exit status: 0 when the buffer could be read (even if its layout is\n"
"corrupted), 1 on an error (no device, no access), 2 on a usage error.\n";

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case SHMRING_MSG:
		return "msg";
	case SHMRING_STREAM:
		return "stream";
	case SHMRING_MPMC:
		return "mpmc";
	}
	return "?";
}

static const char *flags_str(uint32_t f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", f & SHMRING_CH_EOF ? ",EOF" : "",
		 f & SHMRING_CH_HUP ? ",HUP" : "",
		 f & SHMRING_CH_BROKEN ? ",BROKEN" : "");
	return *buf ? buf + 1 : "-";
}

/* Who is attached: "p:PID c:PID", a dead one as "c:PID(dead)". */
static const char *peers_str(struct shmring *sh, const char *name, char *buf,
			     size_t len)
{
	struct shmring_peerinfo tab[SHMRING_MAX_PEERS];
	size_t used = 0;
	int i, n;

	n = shmring_channel_peers(sh, name, tab, SHMRING_MAX_PEERS);
	if (n < 0)
		return "?";
	*buf = '\0';
	for (i = 0; i < n && i < SHMRING_MAX_PEERS && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%c:%u%s",
					 i ? " " : "",
					 tab[i].role == SHMRING_PRODUCER ?
					 'p' : 'c', tab[i].pid,
					 tab[i].dead ? "(dead)" : "");
	return *buf ? buf : "-";
}

static void print_channels(struct shmring *sh)
{
	static struct shmring_chinfo tab[SHMRING_MAX_CHANNELS];
	char flags[32], slot[16], peers[256];
	int i, n, w = 4;

	n = shmring_channels(sh, tab, SHMRING_MAX_CHANNELS);
	if (n < 0) {
		printf("channels: unknown (%s)\n", strerror(-n));
		return;
	}
	printf("channels: %d of %d\n", n, SHMRING_MAX_CHANNELS);
	if (n > SHMRING_MAX_CHANNELS)
		n = SHMRING_MAX_CHANNELS;
	if (!n)
		return;
	for (i = 0; i < n; i++)
		if ((int)strlen(tab[i].name) > w)
			w = (int)strlen(tab[i].name);
	printf("%-*s  %-6s  %10s  %7s  %10s  %4s  %4s  %-6s  %s\n", w, "NAME",
	       "KIND", "CAPACITY", "SLOT", "USED", "PROD", "CONS", "FLAGS",
	       "PEERS");
	for (i = 0; i < n; i++) {
		const struct shmring_chinfo *c = &tab[i];

		if (c->kind == SHMRING_MPMC)
			snprintf(slot, sizeof(slot), "%u", c->slot_size);
		else
			snprintf(slot, sizeof(slot), "-");
		printf("%-*s  %-6s  %10llu  %7s  %10llu  %4u  %4u  %-6s  %s\n",
		       w, c->name, kind_name(c->kind),
		       (unsigned long long)c->capacity, slot,
		       (unsigned long long)c->used, c->producers, c->consumers,
		       flags_str(c->flags, flags, sizeof(flags)),
		       peers_str(sh, c->name, peers, sizeof(peers)));
	}
}

int cmd_info(int argc, char **argv)
{
	struct shmring_info info;
	struct tool_buf b;
	char buf[64];
	int ret;

	tool_help_only(argc, argv, info_usage);
	tool_no_operands(argc, argv);

	if (tool_buf_open(tool_device, &b))
		return 1;
	ret = shmring_info(b.sh, &info);
	if (ret) {
		tool_err(-ret, "%s: SHMRING_IOC_INFO", tool_device);
		tool_buf_close(&b);
		return 1;
	}
	printf("device: %s\n", tool_device);
	if (instance_of_path(tool_device))
		instance_print(instance_of_path(tool_device));
	printf("backend: %s\n", b.map ? "futex (a regular file, not the device)" :
	       "device");
	printf("size: %s\n", tool_bytes(info.size, buf, sizeof(buf)));
	printf("page-size: %u\n", info.page_size);
	if (info.abi_version == SHMRING_ABI_VERSION)
		printf("abi-version: %u\n", info.abi_version);
	else
		printf("abi-version: %u (this tool knows %u)\n",
		       info.abi_version, (unsigned int)SHMRING_ABI_VERSION);
	if (b.map)
		puts("waiters: unknown (futex backend)");
	else
		printf("waiters: %u\n", info.nr_waiters);

	ret = shmring_check(b.sh);
	switch (-ret) {
	case 0:
		puts("layout: formatted");
		print_channels(b.sh);
		break;
	case ENOENT:
		puts("layout: unformatted");
		break;
	case EBADMSG:
		puts("layout: corrupted (a foreign or damaged header)");
		break;
	case ETIMEDOUT:
		puts("layout: unknown (the directory lock stays held)");
		break;
	default:
		printf("layout: unknown (%s)\n", strerror(-ret));
	}
	tool_buf_close(&b);

	putchar('\n');
	module_print_status(tool_device);
	return 0;
}
