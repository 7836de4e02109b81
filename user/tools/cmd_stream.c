// SPDX-License-Identifier: GPL-2.0
/*
 * shmring send and recv: the two ends of a pipe through a SHMRING_STREAM
 * channel, without a copy of their own: send read(2)s straight into the
 * ring, recv write(2)s straight out of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#define DEFAULT_CHANNEL		"stream"
#define DEFAULT_CAPACITY	(1U << 20)

static const char send_usage[] =
"Usage: shmring send [-c NAME] [-s CAPACITY] [FILE]\n"
"\n"
"Stream FILE (standard input when FILE is absent or '-') into the stream\n"
"channel NAME, like the writing end of a pipe. The channel is created if\n"
"it does not exist; 'shmring recv' reads it, and either may start first.\n"
"At the end of the input send closes the channel and the receiver sees\n"
"end-of-file; what is sent before any receiver comes waits for it.\n"
"If the receiver goes away, send fails. If reading FILE fails, send\n"
"leaves without closing the channel, so that the receiver fails too\n"
"instead of taking a short stream for a whole one.\n"
"\n"
"Options:\n"
"  -c, --channel NAME    the channel, 1 to 31 bytes (default \"stream\")\n"
"  -s, --size CAPACITY   ring size if the channel is created: a power of\n"
"                        two from 64 to 1G, K, M or G suffix allowed\n"
"                        (default 1M); an existing channel keeps its own\n"
"  -h, --help            show this help and exit\n"
"\n"
"The buffer is the one of 'shmring -d PATH' (default " SHMRING_DEVICE ").\n"
"Without the module, a file on tmpfs serves too:\n"
"  truncate -s 4M /dev/shm/ring\n"
"  shmring -d /dev/shm/ring recv -o copy & shmring -d /dev/shm/ring send file\n"
"\n"
"Exit status: 0 when all of FILE was sent, 1 on an error, 2 on a usage\n"
"error.\n";

static const char recv_usage[] =
"Usage: shmring recv [-c NAME] [-s CAPACITY] [-o FILE]\n"
"\n"
"Copy the stream channel NAME to standard output (or FILE) until the\n"
"sender closes it, like the reading end of a pipe. The channel is created\n"
"if it does not exist; 'shmring send' writes it, and either may start\n"
"first. recv waits for a sender as long as none has closed the channel.\n"
"If the sender dies or fails before the end, recv fails.\n"
"\n"
"Options:\n"
"  -c, --channel NAME    the channel, 1 to 31 bytes (default \"stream\")\n"
"  -s, --size CAPACITY   ring size if the channel is created: a power of\n"
"                        two from 64 to 1G, K, M or G suffix allowed\n"
"                        (default 1M); an existing channel keeps its own\n"
"  -o, --output FILE     write to FILE (created or truncated) instead of\n"
"                        standard output; '-' is standard output\n"
"  -h, --help            show this help and exit\n"
"\n"
"The buffer is the one of 'shmring -d PATH' (default " SHMRING_DEVICE ");\n"
"see 'shmring send --help' for a file on tmpfs instead.\n"
"\n"
"Exit status: 0 when the whole stream was written, 1 on an error (the\n"
"output then holds only part of it), 2 on a usage error.\n";

struct stream_opts {
	const char *name;
	uint64_t capacity;
	const char *path;	/* FILE or -o FILE; NULL or "-": stdin/stdout */
};

static void parse(int argc, char **argv, bool sender, struct stream_opts *o)
{
	static const struct option send_opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option recv_opts[] = {
		{ "channel", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *opts = sender ? send_opts : recv_opts;
	const char *optstring = sender ? ":c:s:h" : ":c:s:o:h";
	size_t len;
	int c;

	o->name = DEFAULT_CHANNEL;
	o->capacity = DEFAULT_CAPACITY;
	o->path = NULL;
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->name = optarg;
			break;
		case 's':
			if (tool_parse_size(optarg, &o->capacity))
				tool_usage("invalid capacity '%s'", optarg);
			if (o->capacity < SHMRING_MIN_CAPACITY ||
			    o->capacity > SHMRING_MAX_CAPACITY ||
			    o->capacity & (o->capacity - 1))
				tool_usage("capacity '%s' is not a power of two from 64 to 1G",
					   optarg);
			break;
		case 'o':
			o->path = optarg;
			break;
		case 'h':
			fputs(sender ? send_usage : recv_usage, stdout);
			exit(0);
		default:
			tool_bad_option(argv, c, optstring);
		}
	}
	len = strlen(o->name);
	if (!len || len > SHMRING_NAME_MAX)
		tool_usage("channel name '%s' is not 1 to %d bytes long",
			   o->name, SHMRING_NAME_MAX);
	if (sender && optind < argc)
		o->path = argv[optind++];
	tool_no_operands(argc, argv);
	if (o->path && !strcmp(o->path, "-"))
		o->path = NULL;
}

static struct shmring_channel *open_channel(struct tool_buf *b,
					    const struct stream_opts *o,
					    int role)
{
	struct shmring_channel_attr attr = {
		.kind = SHMRING_STREAM,
		.capacity = o->capacity,
	};
	struct shmring_channel *ch;
	int ret;

	/* Both ends create: racing creators meet on one channel. */
	ret = shmring_channel_open(b->sh, o->name, role, SHMRING_CREATE,
				   &attr, &ch);
	switch (-ret) {
	case 0:
		return ch;
	case EBUSY:
		tool_err(EBUSY, "channel '%s' already has a %s", o->name,
			 role == SHMRING_PRODUCER ? "sender" : "receiver");
		break;
	case EPROTOTYPE:
		tool_err(EPROTOTYPE, "channel '%s' exists and is not a stream",
			 o->name);
		break;
	case ENOSPC:
		tool_err(ENOSPC, "channel '%s' of %llu bytes: no room in %s",
			 o->name, (unsigned long long)o->capacity, tool_device);
		break;
	case EPIPE:
		tool_err(EPIPE, "channel '%s' is broken (a participant died) and still in use",
			 o->name);
		break;
	case EBADMSG:
		tool_err(EBADMSG, "%s holds a foreign or corrupted layout; 'shmring format --force' rewrites it once nobody uses it",
			 tool_device);
		break;
	default:
		tool_err(-ret, "channel '%s'", o->name);
	}
	return NULL;
}

/* The channel's flags, to tell a peer that closed from one that died. */
static uint32_t channel_flags(struct tool_buf *b, const char *name)
{
	static struct shmring_chinfo tab[SHMRING_MAX_CHANNELS];
	int i, n;

	n = shmring_channels(b->sh, tab, SHMRING_MAX_CHANNELS);
	for (i = 0; i < n && i < SHMRING_MAX_CHANNELS; i++)
		if (!strcmp(tab[i].name, name))
			return tab[i].flags;
	return 0;
}

static void ring_error(struct tool_buf *b, const char *name, int err,
		       bool sender)
{
	if (err == EBADMSG)
		tool_err(err, "channel '%s': the ring is corrupted", name);
	else if (err != EPIPE)
		tool_err(err, "channel '%s'", name);
	else if (!sender)
		tool_err(err, "channel '%s': the sender died or failed before the end",
			 name);
	else if (channel_flags(b, name) & SHMRING_CH_BROKEN)
		tool_err(err, "channel '%s': the receiver died", name);
	else
		tool_err(err, "channel '%s': the receiver closed it", name);
}

/*
 * The next span to read, waiting for it through the channel's watch fd
 * (ABI 2 of the module): what an event loop would do. Where there is none
 * (the futex backend, an older module), the blocking peek sleeps instead.
 */
static ssize_t peek_waiting(struct shmring_channel *ch, const void **p)
{
	int fd = shmring_channel_fd(ch);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (fd < 0)
		return shmring_stream_peek(ch, p, -1);
	for (;;) {
		n = shmring_stream_peek(ch, p, 0);
		if (n != -EAGAIN)
			return n;
		n = shmring_channel_arm(ch);
		if (n < 0)
			return shmring_stream_peek(ch, p, -1);
		if (!n && poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * Caps the span moved at once to a quarter of the ring, so that the peer
 * works on one part while we fill or drain the next.
 */
static size_t chunk_size(const struct shmring_channel *ch)
{
	struct shmring_channel_attr attr;

	if (shmring_channel_attr(ch, &attr) || attr.capacity < 4)
		return SHMRING_MIN_CAPACITY;
	return (size_t)attr.capacity / 4;
}

static int close_channel(struct shmring_channel *ch, const char *name)
{
	int ret = shmring_channel_close(ch);

	if (ret)
		tool_err(-ret, "channel '%s': close", name);
	return ret;
}

/*
 * Whether @fd is open for @mode (O_RDONLY or O_WRONLY); else errno EBADF.
 * Checked before the channel is open, so that a closed stdin or stdout
 * fails at once rather than after the peer has started.
 */
static bool fd_can(int fd, int mode)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return false;
	if ((fl & O_ACCMODE) == O_RDWR || (fl & O_ACCMODE) == mode)
		return true;
	errno = EBADF;
	return false;
}

static int open_input(const char *path, const char **what)
{
	struct stat st;
	int fd = 0;

	*what = path ? path : "stdin";
	if (path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !fd_can(fd, O_RDONLY)) {
		tool_err(errno, "%s", *what);
		return -1;
	}
	/* Found now, not once the channel is open and the receiver waits. */
	if (S_ISDIR(st.st_mode)) {
		tool_err(EISDIR, "%s", *what);
		return -1;
	}
	return fd;
}

/*
 * Leaves without closing the channel: the receiver finds the sender dead
 * and fails, where a close would give it a clean end-of-file after a short
 * stream. The library resets the channel for the next pair.
 */
__attribute__((noreturn))
static void abandon(void)
{
	exit(1);
}

int cmd_send(int argc, char **argv)
{
	struct shmring_channel *ch;
	struct stream_opts o;
	struct tool_buf b;
	const char *what;
	size_t chunk;
	int in, ret = 1;

	parse(argc, argv, true, &o);
	in = open_input(o.path, &what);
	if (in < 0)
		return 1;
	if (tool_buf_open(tool_device, &b))
		return 1;
	ch = open_channel(&b, &o, SHMRING_PRODUCER);
	if (!ch)
		goto out_buf;
	chunk = chunk_size(ch);
	for (;;) {
		ssize_t span, n;
		void *p;

		span = shmring_stream_reserve(ch, &p, -1);
		if (span < 0) {
			ring_error(&b, o.name, (int)-span, true);
			close_channel(ch, o.name);
			goto out_buf;
		}
		n = tool_read(in, p, (size_t)span < chunk ? (size_t)span : chunk);
		if (!n)
			break;	/* the reservation is dropped by the close */
		if (n < 0) {
			tool_err(errno, "read %s", what);
			abandon();
		}
		if (shmring_stream_commit(ch, (size_t)n, 0)) {
			tool_err(errno, "channel '%s': commit", o.name);
			abandon();
		}
	}
	ret = close_channel(ch, o.name) ? 1 : 0;
out_buf:
	tool_buf_close(&b);
	return ret;
}

static int open_output(const char *path, const char **what)
{
	int fd = 1;

	*what = path ? path : "stdout";
	if (path)
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 || !fd_can(fd, O_WRONLY)) {
		tool_err(errno, "%s", *what);
		return -1;
	}
	return fd;
}

int cmd_recv(int argc, char **argv)
{
	struct shmring_channel *ch;
	struct stream_opts o;
	struct tool_buf b;
	const char *what;
	size_t chunk;
	int out, ret = 1;

	parse(argc, argv, false, &o);
	out = open_output(o.path, &what);
	if (out < 0)
		return 1;
	/* A reader that went away is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (tool_buf_open(tool_device, &b))
		return 1;
	ch = open_channel(&b, &o, SHMRING_CONSUMER);
	if (!ch)
		goto out_buf;
	chunk = chunk_size(ch);
	for (;;) {
		const void *p;
		ssize_t n;

		n = peek_waiting(ch, &p);
		if (!n) {
			ret = 0;	/* end-of-file */
			break;
		}
		if (n < 0) {
			ring_error(&b, o.name, (int)-n, false);
			break;
		}
		if ((size_t)n > chunk)
			n = (ssize_t)chunk;
		if (tool_write_all(out, p, (size_t)n)) {
			/* Closing below tells the sender: it gets EPIPE. */
			tool_err(errno, "write %s", what);
			break;
		}
		shmring_stream_release(ch, (size_t)n);
	}
	if (close_channel(ch, o.name))
		ret = 1;
out_buf:
	tool_buf_close(&b);
	if (close(out) && !ret) {
		tool_err(errno, "close %s", what);
		ret = 1;
	}
	return ret;
}
