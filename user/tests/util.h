/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the host tests. */
#ifndef SHMRING_TEST_UTIL_H
#define SHMRING_TEST_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shmring.h>

#include "tap.h"

#define MiB	(1024 * 1024)

int64_t now_ns(void);
void sleep_ms(unsigned int ms);
uint64_t env_u64(const char *name, uint64_t def);

/* A fresh zeroed buffer: a memfd, or the device (SHMRING_TEST_DEVICE). */
bool on_device(void);
struct shmring *buffer_new(size_t size);
struct shmring_channel *chan(struct shmring *sh, const char *name, int role,
			     uint32_t kind, uint64_t cap, uint32_t slot);

/* Deterministic content: bytes of a fixed random table, from any offset. */
uint64_t mix64(uint64_t x);
const unsigned char *pattern(uint64_t off);
#define PATTERN_SPAN	(1u << 20)	/* pattern(off) is valid this far */
uint32_t checksum(const void *p, size_t len);

/* Shared memory for results from forked children. */
void *shared_alloc(size_t size);
/* Forks a child that runs @fn(@arg) and exits with its result. */
pid_t spawn(int (*fn)(void *), void *arg);
/* Waits for @pid; returns its exit code, or 128 + signal. */
int reap(pid_t pid);

/* A barrier in shared memory for @n processes or threads. */
struct barrier {
	_Atomic uint32_t count;
	uint32_t n;
};
void barrier_wait(struct barrier *b);

#endif /* SHMRING_TEST_UTIL_H */
