// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping cost: mmap plus a first write to every page of the whole buffer,
 * with the module loaded at cfg.map_bytes, against a fresh memfd of the
 * same size. Opening the file, creating and sizing the memfd, unmapping and
 * closing stay outside the timed part. shmring inserts every PTE at mmap
 * time from pages allocated at load; the memfd allocates and zeroes each
 * page in its first fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MAP_ALARM_S	300

enum { SHM, MEMFD, NR_KINDS };
static const char *const kind_name[] = { "shmring", "memfd" };

/* The timed part: mmap and touch; the ms it took into *@ms. */
static int map_touch(int fd, size_t size, double *ms)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile unsigned char *p;
	int64_t t0, t1;
	size_t off;

	t0 = now_ns();
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		errorf("mmap of %zu bytes: %s", size, strerror(errno));
		return -1;
	}
	for (off = 0; off < size; off += page)
		p[off] = (unsigned char)off | 1;
	t1 = now_ns();
	munmap((void *)p, size);
	*ms = (double)(t1 - t0) / 1e6;
	return 0;
}

static int one(int kind, size_t size, double *ms)
{
	int fd, ret;

	if (kind == SHM) {
		fd = open("/dev/shmring", O_RDWR | O_CLOEXEC);
	} else {
		fd = memfd_create("bench-map", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, size)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		errorf("%s: %s", kind_name[kind], strerror(errno));
		return -1;
	}
	ret = map_touch(fd, size, ms);
	close(fd);
	return ret;
}

static int mapping_child(void)
{
	unsigned int R = cfg.repeats, k;
	double reps[NR_KINDS][R], ms;
	size_t size = cfg.map_bytes;
	int rep;

	alarm(MAP_ALARM_S);
	if (pin_self(CPU_A))
		return -1;
	/* Repeat -1 is the warm-up; the kinds take turns. */
	for (rep = -1; rep < (int)R; rep++)
		for (k = 0; k < NR_KINDS; k++) {
			if (one(k, size, &ms))
				return -1;
			if (rep >= 0)
				reps[k][rep] = ms;
		}
	for (k = 0; k < NR_KINDS; k++) {
		struct row r = {
			.group = "mapping", .transport = kind_name[k],
			.msg_bytes = size, .metric = "ms_map_touch",
			.unit = "ms",
		};

		csv_row(&r, reps[k], R, NULL);
	}
	return 0;
}

int bench_mapping(void)
{
	char size[32];
	int ret;

	snprintf(size, sizeof(size), "%luM", cfg.map_bytes >> 20);
	if (module_reload(size))
		return -1;
	ret = run_in_child(mapping_child, "mapping test");
	/* Back to the default size for whatever runs next. */
	if (module_reload(NULL))
		ret = -1;
	return ret;
}
