/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The shmring command-line tool: what its files share. Messages, option
 * errors, size parsing, I/O loops and opening the buffer live in util.c.
 */
#ifndef SHMRING_TOOL_H
#define SHMRING_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmring.h>

#define EXIT_USAGE	2

/* -d PATH, and the command running, for messages. */
extern const char *tool_device;
extern const char *tool_cmd;

/* "shmring CMD: <what>: strerror(err)" on stderr; err 0 leaves it off. */
__attribute__((format(printf, 2, 3)))
void tool_err(int err, const char *fmt, ...);

/* "shmring CMD: <what>" and "Try 'shmring CMD --help'"; exits 2. */
__attribute__((format(printf, 1, 2), noreturn))
void tool_usage(const char *fmt, ...);

/* Reports what getopt_long() returned for a bad option; exits 2. */
__attribute__((noreturn))
void tool_bad_option(char **argv, int c, const char *optstring);

/* Rejects operands left after the options; exits 2. */
void tool_no_operands(int argc, char **argv);
/* The first line of @path, without its newline, into @buf: 0 or -1. */
int tool_read_line(const char *path, char *buf, size_t len);
/* Options of a command that takes only -h, --help: prints @usage, exits 0. */
void tool_help_only(int argc, char **argv, const char *usage);

/*
 * A byte count: digits with an optional K, M or G suffix (powers of 1024).
 * Returns 0, or -1 for garbage, overflow or zero.
 */
int tool_parse_size(const char *s, uint64_t *out);

/* "4194304 (4 MiB)" when it is a whole number of KiB, MiB or GiB. */
const char *tool_bytes(uint64_t n, char *buf, size_t len);

/* "crw-------" for a st_mode. */
void tool_mode_str(unsigned int mode, char buf[11]);

/* read(2) that retries EINTR and waits out EAGAIN; -1 with errno. */
ssize_t tool_read(int fd, void *buf, size_t len);
/* Writes all of @buf, through short writes, EINTR and EAGAIN. */
int tool_write_all(int fd, const void *buf, size_t len);

/*
 * The buffer behind -d: the device, or a regular file of whole pages mapped
 * shared with futex wait/wake (for hosts without the module).
 */
struct tool_buf {
	struct shmring *sh;
	void *map;		/* the file's mapping; NULL for the device */
	size_t len;
};

/* Opens @path into @b; prints why not and returns -1. */
int tool_buf_open(const char *path, struct tool_buf *b);
void tool_buf_close(struct tool_buf *b);

/*
 * The module's state as "key: value" lines on stdout (shmring status).
 * Returns 1 when live or built in, 0 when not, -1 when libkmod failed.
 */
int module_print_status(const char *device);

/* The instance NAME when @path is SHMRING_INSTANCE_DIR/NAME, else NULL. */
const char *instance_of_path(const char *path);
/* "key: value" lines about instance @name: node, creator, memcg, users. */
void instance_print(const char *name);

int cmd_info(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_format(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_list(int argc, char **argv);

#endif /* SHMRING_TOOL_H */
