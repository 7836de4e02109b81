// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the shmring tool: messages and exit codes, option errors,
 * sizes, I/O loops that survive EINTR and non-blocking descriptors, and
 * opening the buffer named by -d.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

/* The library's limits for a buffer: two pages (header and data), 1 GiB. */
#define BUF_MAX		(1ULL << 30)

const char *tool_device = SHMRING_DEVICE;
const char *tool_cmd;

static void prefix(void)
{
	if (tool_cmd)
		fprintf(stderr, "shmring %s: ", tool_cmd);
	else
		fputs("shmring: ", stderr);
}

void tool_err(int err, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
}

void tool_usage(const char *fmt, ...)
{
	va_list ap;

	prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'shmring %s%s--help'\n", tool_cmd ? tool_cmd : "",
		tool_cmd ? " " : "");
	exit(EXIT_USAGE);
}

/*
 * opterr is 0, so getopt_long() says nothing; word it here. An unknown
 * short option leaves its letter in optopt, an unknown long one leaves 0,
 * and a long one given an argument it does not take leaves its own letter.
 */
void tool_bad_option(char **argv, int c, const char *optstring)
{
	const char *arg = argv[optind - 1];
	bool is_long = !strncmp(arg, "--", 2);

	if (c == ':' && is_long)
		tool_usage("option '%s' requires an argument", arg);
	if (c == ':')
		tool_usage("option requires an argument -- '%c'", optopt);
	if (!optopt)
		tool_usage("unrecognized option '%s'", arg);
	if (!strchr(optstring, optopt) || !is_long)
		tool_usage("invalid option -- '%c'", optopt);
	tool_usage("option '%s' does not take an argument", arg);
}

void tool_no_operands(int argc, char **argv)
{
	if (optind < argc)
		tool_usage("unexpected argument '%s'", argv[optind]);
}

int tool_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

void tool_help_only(int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char optstring[] = ":h";
	int c;

	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (c != 'h')
			tool_bad_option(argv, c, optstring);
		fputs(usage, stdout);
		exit(0);
	}
}

int tool_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	/* strtoull() would take blanks, a sign and base prefixes. */
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift)
		end++;
	if (*end || !v || v > UINT64_MAX >> shift)
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *tool_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB" };
	int i;

	for (i = 2; i >= 0; i--) {
		uint64_t u = 1ULL << (10 * (i + 1));

		if (n >= u && !(n % u)) {
			snprintf(buf, len, "%" PRIu64 " (%" PRIu64 " %s)", n,
				 n / u, unit[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64, n);
	return buf;
}

void tool_mode_str(unsigned int m, char b[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	b[0] = S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISDIR(m) ? 'd' :
	       S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
	for (i = 0; i < 9; i++)
		b[i + 1] = m & (0400U >> i) ? rwx[i] : '-';
	if (m & S_ISUID)
		b[3] = b[3] == 'x' ? 's' : 'S';
	if (m & S_ISGID)
		b[6] = b[6] == 'x' ? 's' : 'S';
	if (m & S_ISVTX)
		b[9] = b[9] == 'x' ? 't' : 'T';
	b[10] = '\0';
}

/* An inherited O_NONBLOCK descriptor would otherwise end the copy early. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

ssize_t tool_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = read(fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLIN))
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
}

int tool_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT))
				return -1;
		} else if (n < 0 && errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/*
 * A regular file instead of the device: mapped shared, it gives every
 * process the same pages, and futex(2) works on a file mapping across
 * processes. What the library's memfd backend does, with a name.
 */
static int buf_open_file(const char *path, struct tool_buf *b)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *map;
	int fd, ret;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		tool_err(errno, "%s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		tool_err(ENOTTY, "%s: not a shmring device", path);
		goto fail;
	}
	if (page <= 0 || st.st_size < 2 * page || st.st_size % page ||
	    (uint64_t)st.st_size > BUF_MAX) {
		tool_err(EINVAL,
			 "%s: a buffer file must be 2 pages to 1 GiB, a multiple of %ld bytes (it has %jd)",
			 path, page, (intmax_t)st.st_size);
		goto fail;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		tool_err(errno, "%s: mmap", path);
		goto fail;
	}
	close(fd);
	ret = shmring_attach(map, (size_t)st.st_size, SHMRING_BACKEND_FUTEX,
			     -1, &b->sh);
	if (ret) {
		tool_err(-ret, "%s", path);
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	b->map = map;
	b->len = (size_t)st.st_size;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int tool_buf_open(const char *path, struct tool_buf *b)
{
	int ret;

	memset(b, 0, sizeof(*b));
	ret = shmring_open(path, &b->sh);
	if (!ret)
		return 0;
	/* Only the device answers SHMRING_IOC_INFO. */
	if (ret == -ENOTTY)
		return buf_open_file(path, b);
	if (instance_of_path(path) && ret == -ENOENT &&
	    !access(SHMRING_CONTROL, F_OK)) {
		tool_err(0, "%s: no such instance (see 'shmring list')", path);
		return -1;
	}
	if (instance_of_path(path) && ret == -ENOENT) {
		tool_err(0, "%s: %s", path,
			 access(SHMRING_DEVICE, F_OK) ?
			 "the shmring module is not loaded (see 'shmring load')" :
			 "the loaded shmring module has no instances");
		return -1;
	}
	if (instance_of_path(path) && ret == -ENODEV) {
		tool_err(0, "%s: the instance was destroyed", path);
		return -1;
	}
	tool_err(-ret, "%s", path);
	if (ret == -ENOENT && !strcmp(path, SHMRING_DEVICE) &&
	    access("/sys/module/shmring", F_OK))
		tool_err(0, "the shmring module is not loaded (see 'shmring load')");
	return -1;
}

void tool_buf_close(struct tool_buf *b)
{
	shmring_close(b->sh);
	if (b->map)
		munmap(b->map, b->len);
	memset(b, 0, sizeof(*b));
}
