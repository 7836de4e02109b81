// SPDX-License-Identifier: GPL-2.0
/*
 * Lost wake-up soak: two processes, each with its own open and mapping of
 * /dev/shmring and pinned to a CPU of its own, pass a turn back and forth on
 * one word with the futex protocol: store the next value (release), then
 * WAKE; WAIT while the word still holds the old value, and check it again
 * after every return. Each WAIT has a generous timeout; one that expires
 * means a lost wake-up, and the test fails naming the round.
 *
 * SHMRING_SOAK_ROUNDS sets the number of round trips (default 100000).
 * The time per round trip is printed, never judged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "shmring_util.h"

#define DEFAULT_ROUNDS		100000
/* No wake-up takes this long, even under KASAN in an emulated guest. */
#define STALL_NS		(10 * NSEC_PER_SEC)

/* What one side saw; the ponger's copy lives in shared memory. */
struct side {
	int fd;
	uint64_t off;
	uint32_t *word;
	unsigned long rounds;
	int cpu;
	unsigned long slept;	/* WAITs ended by a WAKE */
	unsigned long eagain;	/* WAITs that found the turn already passed */
	unsigned long woke;	/* WAKEs that found the other side asleep */
	char why[192];		/* the first failure */
};

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* Blocks until the word is @want, which the other side stores. */
static int await_turn(struct side *s, uint32_t want, unsigned long round)
{
	uint32_t v;
	int ret;

	for (;;) {
		v = __atomic_load_n(s->word, __ATOMIC_ACQUIRE);
		if (v == want)
			return 0;
		if (v != want - 1) {
			snprintf(s->why, sizeof(s->why),
				 "round %lu: the word holds %u, expected %u or %u",
				 round, v, want - 1, want);
			return -EPROTO;
		}
		ret = shmring_wait(s->fd, s->off, v, 0, STALL_NS);
		if (!ret) {
			s->slept++;
			continue;
		}
		if (ret == -EAGAIN) {
			s->eagain++;
			continue;
		}
		if (ret != -ETIMEDOUT) {
			snprintf(s->why, sizeof(s->why),
				 "round %lu: WAIT returned %d", round, ret);
			return ret;
		}
		v = __atomic_load_n(s->word, __ATOMIC_ACQUIRE);
		if (v == want - 1)
			snprintf(s->why, sizeof(s->why),
				 "stall in round %lu: the CPU %d side waited %lld s and the word still holds %u; the other side never passed the turn back",
				 round, s->cpu, STALL_NS / NSEC_PER_SEC, v);
		else
			snprintf(s->why, sizeof(s->why),
				 "lost wake-up in round %lu: the word became %u, but no WAKE reached the CPU %d side in %lld s",
				 round, v, s->cpu, STALL_NS / NSEC_PER_SEC);
		return -ETIMEDOUT;
	}
}

/*
 * The word counts turns: in round i, side @first (0 or 1) waits for
 * 2i + first, then stores 2i + first + 1 and wakes the other side. Side 0
 * also waits for the last answer, so it times whole round trips.
 */
static int play(struct side *s, uint32_t first)
{
	unsigned long i;
	uint32_t turn;
	int ret;

	for (i = 0; i < s->rounds; i++) {
		turn = 2 * i + first;
		ret = await_turn(s, turn, i);
		if (ret)
			return ret;
		__atomic_store_n(s->word, turn + 1, __ATOMIC_RELEASE);
		ret = shmring_wake(s->fd, s->off, 1);
		if (ret < 0 || ret > 1) {
			snprintf(s->why, sizeof(s->why),
				 "round %lu: WAKE returned %d", i, ret);
			return ret < 0 ? ret : -EPROTO;
		}
		s->woke += ret;
	}
	return first ? 0 : await_turn(s, 2 * s->rounds, s->rounds);
}

/* The ponger: its own open and mapping of the word's page, its own CPU. */
static void ponger(struct side *s, uint64_t page, int ready_fd)
{
	uint8_t *p;
	int ret;

	ret = pin_to(s->cpu);
	if (ret)
		goto out;
	s->fd = shmring_open(O_RDWR);
	if (s->fd < 0) {
		ret = -errno;
		goto out;
	}
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
		 s->off - s->off % page);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	s->word = (uint32_t *)(p + s->off % page);
	if (write(ready_fd, "", 1) != 1)
		_exit(2);
	ret = play(s, 1);
out:
	if (ret && !s->why[0])
		snprintf(s->why, sizeof(s->why), "setting up: %s",
			 strerror(-ret));
	_exit(ret ? 1 : 0);
}

FIXTURE(shmring_soak) {
	int fd;
	size_t size, page;
	uint8_t *map;
	struct side *pong;	/* shared with the ponger */
	pid_t child;
};

FIXTURE_SETUP(shmring_soak)
{
	struct shmring_info info;

	self->map = MAP_FAILED;
	self->pong = MAP_FAILED;
	self->fd = shmring_open(O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", SHMRING_DEV, strerror(errno));
	ASSERT_EQ(0, shmring_get_info(self->fd, &info));
	self->size = info.size;
	self->page = info.page_size;
	ASSERT_LE(8 * self->page, self->size);
	self->map = shmring_map_zeroed(self->fd, self->size);
	ASSERT_NE(MAP_FAILED, self->map);
	self->pong = mmap(NULL, sizeof(*self->pong), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->pong);
	ASSERT_EQ(0, await_nr_waiters(self->fd, 0));
}

FIXTURE_TEARDOWN(shmring_soak)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	if (self->pong != MAP_FAILED)
		munmap(self->pong, sizeof(*self->pong));
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	close(self->fd);
}

TEST_F_TIMEOUT(shmring_soak, ping_pong_two_cpus, 3600)
{
	/* The word holds 2 * rounds. */
	unsigned long rounds = env_ulong("SHMRING_SOAK_ROUNDS", DEFAULT_ROUNDS,
					 INT32_MAX);
	uint64_t off = 5 * self->page + 12;
	struct side ping = {
		.fd = self->fd, .off = off, .rounds = rounds, .cpu = 0,
		.word = (uint32_t *)(self->map + off),
	};
	int pipefd[2], status, ret;
	int64_t t0, el;
	char byte;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	ASSERT_EQ(0, pin_to(ping.cpu));
	*self->pong = ping;
	self->pong->cpu = 1;
	ASSERT_EQ(0, pipe(pipefd));

	self->child = spawn();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(pipefd[0]);
		ponger(self->pong, self->page, pipefd[1]);
	}
	close(pipefd[1]);
	/* Time the round trips, not the ponger's start-up. */
	ASSERT_EQ(1, read(pipefd[0], &byte, 1))
		TH_LOG("ponger did not start: %s", self->pong->why);
	close(pipefd[0]);

	t0 = now_ns();
	ret = play(&ping, 0);
	el = now_ns() - t0;
	if (ret) {
		/* The ponger's failure, if any, came first. */
		if (waitpid(self->child, &status, WNOHANG) == self->child) {
			self->child = 0;
			TH_LOG("ponger: %s", self->pong->why);
		}
		ASSERT_EQ(0, ret) TH_LOG("pinger: %s", ping.why);
	}
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	self->child = 0;
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("ponger: %s", self->pong->why);
	ASSERT_EQ(2 * rounds, __atomic_load_n(ping.word, __ATOMIC_SEQ_CST));

	ksft_print_msg("soak: %lu round trips in %.1f s, %lld ns per round trip\n",
		       rounds, el / 1e9, (long long)(el / (int64_t)rounds));
	ksft_print_msg("soak: %lu WAITs slept until woken, %lu found the turn passed; %lu WAKEs woke the other side\n",
		       ping.slept + self->pong->slept,
		       ping.eagain + self->pong->eagain,
		       ping.woke + self->pong->woke);
	fflush(stdout);
	/* The turns really were passed through sleeps and wake-ups. */
	ASSERT_LT(0UL, ping.slept + self->pong->slept);
	/* Each WAIT that returned 0 was counted by exactly one WAKE. */
	ASSERT_EQ(ping.slept + self->pong->slept, ping.woke + self->pong->woke);
	ASSERT_EQ(0, await_nr_waiters(self->fd, 0));
}

TEST_HARNESS_MAIN
