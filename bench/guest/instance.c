// SPDX-License-Identifier: GPL-2.0
/*
 * What an instance costs to set up and tear down: SHMRING_IOC_CREATE of
 * cfg.inst_bytes, open of its node, mmap, munmap, close and
 * SHMRING_IOC_DESTROY, against memfd_create, ftruncate, mmap, munmap and
 * close of the same size. Both whole cycles are timed, so each side pays
 * for its memory where it does: the instance allocates and zeroes every
 * page at CREATE and frees them at DESTROY; the memfd allocates none
 * until a fault. The same cycles with a write to every page in between
 * (the memory used once, as a buffer is) are the fair comparison of the
 * two; both are reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define INST_ALARM_S	300
#define INST_NAME	"bench-inst"

enum { INST, MEMFD, INST_TOUCH, MEMFD_TOUCH, NR_KINDS };
static const char *const kind_name[] = {
	"instance_create_map_destroy", "memfd_create_map",
	"instance_create_map_touch_destroy", "memfd_create_map_touch",
};

static void touch(volatile unsigned char *p, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t off;

	for (off = 0; off < size; off += page)
		p[off] = (unsigned char)off | 1;
}

/* One whole cycle of @kind; the ms it took into *@ms. */
static int cycle(int ctl, int kind, size_t size, double *ms)
{
	bool inst = kind == INST || kind == INST_TOUCH;
	int64_t t0 = now_ns();
	void *p;
	int fd, ret;

	if (inst) {
		ret = inst_create(ctl, INST_NAME, size);
		if (ret) {
			errorf("create %s: %s", INST_NAME, strerror(-ret));
			return -1;
		}
		fd = open(SHMRING_INST_DIR INST_NAME, O_RDWR | O_CLOEXEC);
	} else {
		fd = memfd_create("bench-inst", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, size)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		errorf("%s: %s", kind_name[kind], strerror(errno));
		goto err;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		errorf("%s: mmap: %s", kind_name[kind], strerror(errno));
		close(fd);
		goto err;
	}
	if (kind == INST_TOUCH || kind == MEMFD_TOUCH)
		touch(p, size);
	munmap(p, size);
	close(fd);
	if (inst) {
		ret = inst_destroy(ctl, INST_NAME);
		if (ret) {
			errorf("destroy %s: %s", INST_NAME, strerror(-ret));
			return -1;
		}
	}
	*ms = (double)(now_ns() - t0) / 1e6;
	return 0;
err:
	if (inst)
		inst_destroy(ctl, INST_NAME);
	return -1;
}

static int instance_child(void)
{
	unsigned int R = cfg.repeats, k;
	double reps[NR_KINDS][R], ms;
	size_t size = cfg.inst_bytes;
	int rep, ctl, ret = 0;

	alarm(INST_ALARM_S);
	if (pin_self(CPU_A))
		return -1;
	ctl = open(SHMRING_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		errorf("open %s: %s", SHMRING_CONTROL_PATH, strerror(errno));
		return -1;
	}
	/* Repeat -1 is the warm-up; the kinds take turns. */
	for (rep = -1; rep < (int)R && !ret; rep++)
		for (k = 0; k < NR_KINDS && !ret; k++) {
			ret = cycle(ctl, k, size, &ms);
			if (!ret && rep >= 0)
				reps[k][rep] = ms;
		}
	close(ctl);
	if (ret)
		return ret;
	for (k = 0; k < NR_KINDS; k++) {
		struct row r = {
			.group = "instance", .transport = kind_name[k],
			.msg_bytes = size, .metric = "ms_per_cycle",
			.unit = "ms",
		};

		csv_row(&r, reps[k], R, NULL);
	}
	return 0;
}

int bench_instance(void)
{
	return run_in_child(instance_child, "instance test");
}
