/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmring-bench-guest: the kernel half of `make bench`, run inside the 6.12
 * guest where the module is loaded. The guest is TCG, so only ratios
 * between paths measured in the same run mean anything.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "stats.h"

/* What to measure and how long: set once by main.c. */
struct bench_cfg {
	bool quick;
	unsigned int repeats;		/* measured runs per configuration */
	unsigned long rt_iters;		/* round trips per run */
	unsigned long rt_warmup;
	unsigned long wake_iters;	/* WAKEs per run in the scale test */
	unsigned long wake_warmup;
	unsigned long map_bytes;	/* module size for the mapping test */
	unsigned long inst_bytes;	/* instance size, create+map+destroy */
	unsigned long msgs;		/* messages per run, syscall count */
	unsigned long msgs_warmup;
	unsigned long slow_work_ns;	/* per-message work, slow consumer */
	unsigned long keepup_work_ns;	/* per-message work, producer */
	unsigned long kills;		/* SIGKILLs per run, epipe test */
};

extern struct bench_cfg cfg;

/* The two CPUs the sides of every test are pinned to. */
#define CPU_A	0
#define CPU_B	1

/* util.c */
void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void spin_ns(int64_t ns);
/* pin_cpu() (common/cpu.h), saying why on failure: 0 or -1. */
int pin_self(int cpu);
void *shared_alloc(size_t size);
void shared_free(void *p, size_t size);
int wait_child(int pid, const char *what);
int wait_pair(const int pid[2], const char *const what[2]);
int run_in_child(int (*fn)(void), const char *what);
int run_cmd(const char *const argv[]);
int reformat_device(void);
long nvcsw_self(void);

/* main.c: one CSV row per measurement on stdout, in the format of
 * common/stats.h: median, min and max of @nreps repeats (left as they are)
 * and the percentiles of @lat (NULL: none).
 */
void csv_row(const struct row *r, const double *reps, unsigned int nreps,
	     struct lat_buf *lat);
/* @n runs of @what ran again, past @limit (in @unit), at most @redo_max
 * times each.
 */
void redone_row(const char *what, unsigned int n, double limit,
		const char *unit, unsigned int redo_max);

/* The parts; each returns 0 or -1 after printing why. */
int bench_roundtrip(void);
int bench_scale(void);
int bench_syscalls(void);
int bench_mapping(void);
int bench_epipe(void);
int bench_instance(void);
int bench_callcost(void);	/* diagnostics only */

/* shmring_dev.c: raw ioctls on /dev/shmring, its instances and control. */
#define SHMRING_CONTROL_PATH	"/dev/shmring-control"
#define SHMRING_INST_DIR	"/dev/shmrings/"
struct shmring_map {
	int fd;
	unsigned char *base;
	size_t size;
};

int shmring_map_open(struct shmring_map *m);
int shmring_map_open_path(struct shmring_map *m, const char *path);
void shmring_map_close(struct shmring_map *m);
int dev_wait(int fd, uint64_t offset, uint32_t expected, int64_t timeout_ns);
int dev_wake(int fd, uint64_t offset, uint32_t count);
int dev_nr_waiters(int fd);
int module_reload(const char *size);
/* On an fd of SHMRING_CONTROL_PATH: 0 or -errno. */
int inst_create(int ctl, const char *name, uint64_t size);
int inst_destroy(int ctl, const char *name);

#endif /* BENCH_H */
