// SPDX-License-Identifier: GPL-2.0
/* CPU pinning for both halves of `make bench`. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "cpu.h"

int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* pid 0: the calling thread */
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}
