// SPDX-License-Identifier: GPL-2.0
/*
 * Diagnostics for the round trip, no CSV rows: what one call costs when it
 * does not sleep, for the device and for a shared futex side by side, next
 * to a null system call and a bare ioctl on the device. The difference in
 * round trips between shmring and the futex should be about two WAKEs and
 * two WAITs' worth of the differences here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define WORD_OFF	0x10000UL
/* Watchdog: far above any honest run, even under TCG. */
#define CALLCOST_ALARM_S	300

enum call {
	NULL_SYSCALL, BAD_IOCTL, INFO, SHM_WAKE, FUTEX_WAKE0, SHM_EAGAIN,
	FUTEX_EAGAIN, NR_CALLS
};

static const char *const call_name[] = {
	"getppid()", "ioctl(ENOTTY) on the device", "SHMRING_IOC_INFO",
	"SHMRING_IOC_WAKE, nobody waiting", "FUTEX_WAKE, nobody waiting",
	"SHMRING_IOC_WAIT, word differs", "FUTEX_WAIT, word differs",
};

static int do_call(enum call c, int dev, uint32_t *dword, uint32_t *fword)
{
	switch (c) {
	case NULL_SYSCALL:
		return getppid() > 0 ? 0 : -1;
	case BAD_IOCTL:
		return ioctl(dev, _IO(0xD5, 0x7f)) < 0 && errno == ENOTTY ?
		       0 : -1;
	case INFO:
		return dev_nr_waiters(dev) < 0 ? -1 : 0;
	case SHM_WAKE:
		return dev_wake(dev, WORD_OFF, 1) == 0 ? 0 : -1;
	case FUTEX_WAKE0:
		return syscall(SYS_futex, fword, FUTEX_WAKE, 1, NULL, NULL,
			       0) == 0 ? 0 : -1;
	case SHM_EAGAIN:
		return dev_wait(dev, WORD_OFF, *dword + 1, -1) == -EAGAIN ?
		       0 : -1;
	case FUTEX_EAGAIN:
		return syscall(SYS_futex, fword, FUTEX_WAIT, *fword + 1, NULL,
			       NULL, 0) < 0 && errno == EAGAIN ? 0 : -1;
	default:
		return -1;
	}
}

static int callcost_child(void)
{
	unsigned long n = cfg.rt_iters * 5, i;
	unsigned int R = cfg.repeats, rep, c;
	double ns[NR_CALLS][R];
	struct summary s;
	struct shmring_map m;
	uint32_t *fword;
	int64_t t0;
	int mfd, ret = 0;

	alarm(CALLCOST_ALARM_S);
	if (pin_self(CPU_A) || shmring_map_open(&m))
		return -1;
	mfd = memfd_create("bench-cost", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 1 << 20)) {
		errorf("memfd: %m");
		shmring_map_close(&m);
		return -1;
	}
	fword = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		     0);
	if (fword == MAP_FAILED) {
		errorf("mmap memfd: %m");
		ret = -1;
		goto out;
	}
	fword += WORD_OFF / sizeof(*fword);
	*fword = 0;
	/* Repeat -1 warms up; the calls take turns. */
	for (rep = 0; rep <= R && !ret; rep++)
		for (c = 0; c < NR_CALLS && !ret; c++) {
			t0 = now_ns();
			for (i = 0; i < n && !ret; i++)
				ret = do_call(c, m.fd,
					      (uint32_t *)(m.base + WORD_OFF),
					      fword);
			if (ret)
				errorf("%s failed: %m", call_name[c]);
			else if (rep)
				ns[c][rep - 1] = (double)(now_ns() - t0) / n;
		}
	for (c = 0; c < NR_CALLS && !ret; c++) {
		stats_summary(ns[c], (int)R, &s);
		diag("call cost %-34s %8.0f ns (median of %u)", call_name[c],
		     s.median, R);
	}
	munmap(fword - WORD_OFF / sizeof(*fword), 1 << 20);
out:
	close(mfd);
	shmring_map_close(&m);
	return ret;
}

int bench_callcost(void)
{
	return run_in_child(callcost_child, "call cost");
}
