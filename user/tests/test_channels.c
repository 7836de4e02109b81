// SPDX-License-Identifier: GPL-2.0
/*
 * Named channels under races: many processes, released together by a
 * barrier, create and attach the same and different names. Each case runs
 * several rounds on a fresh buffer.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "util.h"

#define BUF	(4 * MiB)
#define NPROC	24
#define ROUNDS	env_u64("SHMRING_RACE_ROUNDS", 10)

struct race {
	struct shmring *sh;
	struct barrier start;
	struct barrier done;
	_Atomic int wins[8];
	_Atomic int eexist;
	_Atomic int enospc;
	_Atomic int ebusy;
	_Atomic int eproto;
	_Atomic int other;
};

/*
 * In private memory: each child has its own copy from fork, and its leak
 * checker finds the handle here.
 */
struct child {
	struct race *r;
	struct shmring *sh;
	int idx;
};

static struct race *race_new(void)
{
	struct race *r = shared_alloc(sizeof(*r));

	r->sh = buffer_new(BUF);
	r->start.n = r->done.n = NPROC;
	return r;
}

static void race_free(struct race *r)
{
	shmring_close(r->sh);
}

static int race_run(struct race *r, int (*fn)(void *))
{
	struct child kids[NPROC];
	pid_t pids[NPROC];
	int i, failed = 0;

	for (i = 0; i < NPROC; i++) {
		kids[i] = (struct child){ .r = r, .sh = r->sh, .idx = i };
		pids[i] = spawn(fn, &kids[i]);
	}
	for (i = 0; i < NPROC; i++)
		failed |= reap(pids[i]) != 0;
	return failed;
}

static void tally(struct race *r, int ret)
{
	switch (ret) {
	case 0:
		break;
	case -EEXIST:
		atomic_fetch_add(&r->eexist, 1);
		break;
	case -ENOSPC:
		atomic_fetch_add(&r->enospc, 1);
		break;
	case -EBUSY:
		atomic_fetch_add(&r->ebusy, 1);
		break;
	case -EPROTOTYPE:
		atomic_fetch_add(&r->eproto, 1);
		break;
	default:
		printf("# unexpected %d\n", ret);
		atomic_fetch_add(&r->other, 1);
	}
}

static const struct shmring_channel_attr mpmc = {
	.kind = SHMRING_MPMC, .capacity = 64, .slot_size = 16,
};

/* Everyone creates-or-attaches "shared" and sends its index into it. */
static int same_child(void *arg)
{
	struct child *k = arg;
	struct race *r = k->r;
	struct shmring_channel *ch;
	int idx = k->idx;

	barrier_wait(&r->start);
	CHECK_OK(shmring_channel_open(r->sh, "shared", SHMRING_PRODUCER,
				      SHMRING_CREATE, &mpmc, &ch));
	CHECK_EQ(shmring_msg_send(ch, &idx, sizeof(idx), -1), sizeof(idx));
	CHECK_OK(shmring_channel_close(ch));
	return 0;
}

static int same_name(void)
{
	unsigned int round;

	for (round = 0; round < ROUNDS; round++) {
		struct race *r = race_new();
		struct shmring_channel *c;
		struct shmring_chinfo ci[4];
		int seen[NPROC] = { 0 }, idx, n = 0;

		CHECK_EQ(race_run(r, same_child), 0);
		CHECK_EQ(shmring_channels(r->sh, ci, 4), 1);
		CHECK(!strcmp(ci[0].name, "shared") && ci[0].used == NPROC);
		CHECK_OK(shmring_channel_open(r->sh, "shared", SHMRING_CONSUMER,
					      0, NULL, &c));
		/* All producers are gone: everything, then end-of-file. */
		while (shmring_msg_recv(c, &idx, sizeof(idx), 0) == sizeof(idx)) {
			CHECK(idx >= 0 && idx < NPROC && !seen[idx]);
			seen[idx] = 1;
			n++;
		}
		CHECK_EQ(n, NPROC);
		CHECK_EQ(shmring_msg_recv(c, &idx, sizeof(idx), 0), 0);
		CHECK_OK(shmring_channel_close(c));
		CHECK_OK(shmring_check(r->sh));
		race_free(r);
	}
	return 0;
}

/* CREATE|EXCL on four names, each child in its own order: one winner each. */
static int excl_child(void *arg)
{
	struct child *kid = arg;
	struct race *r = kid->r;
	struct shmring_channel *ch;
	char name[16];
	int i, k, ret;

	barrier_wait(&r->start);
	for (i = 0; i < 4; i++) {
		k = (i + kid->idx) % 4;
		snprintf(name, sizeof(name), "excl-%d", k);
		ret = shmring_channel_open(r->sh, name, SHMRING_CONSUMER,
					   SHMRING_CREATE | SHMRING_EXCL,
					   &mpmc, &ch);
		tally(r, ret);
		if (!ret) {
			atomic_fetch_add(&r->wins[k], 1);
			CHECK_OK(shmring_channel_close(ch));
		}
	}
	return 0;
}

static int excl(void)
{
	unsigned int round;
	int k;

	for (round = 0; round < ROUNDS; round++) {
		struct race *r = race_new();

		CHECK_EQ(race_run(r, excl_child), 0);
		for (k = 0; k < 4; k++)
			CHECK_EQ(atomic_load(&r->wins[k]), 1);
		CHECK_EQ(atomic_load(&r->eexist), 4 * (NPROC - 1));
		CHECK_EQ(atomic_load(&r->other), 0);
		CHECK_EQ(shmring_channels(r->sh, NULL, 0), 4);
		race_free(r);
	}
	return 0;
}

/* 24 x 8 distinct names into a directory of 63: exactly 63 get in. */
static int fill_child(void *arg)
{
	struct child *k = arg;
	struct race *r = k->r;
	struct shmring_channel_attr a = { .kind = SHMRING_MSG, .capacity = 64 };
	struct shmring_channel *ch;
	char name[32];
	int i, ret;

	barrier_wait(&r->start);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "fill-%d-%d", k->idx, i);
		ret = shmring_channel_open(r->sh, name, SHMRING_PRODUCER,
					   SHMRING_CREATE | SHMRING_EXCL, &a,
					   &ch);
		tally(r, ret);
		if (!ret) {
			atomic_fetch_add(&r->wins[0], 1);
			CHECK_OK(shmring_channel_close(ch));
		}
	}
	return 0;
}

static int directory_fill(void)
{
	struct shmring_chinfo ci[SHMRING_MAX_CHANNELS];
	unsigned int round;
	int i, j;

	for (round = 0; round < ROUNDS; round++) {
		struct race *r = race_new();

		CHECK_EQ(race_run(r, fill_child), 0);
		CHECK_EQ(atomic_load(&r->wins[0]), SHMRING_MAX_CHANNELS);
		CHECK_EQ(atomic_load(&r->enospc),
			 NPROC * 8 - SHMRING_MAX_CHANNELS);
		CHECK_EQ(atomic_load(&r->other), 0);
		CHECK_EQ(shmring_channels(r->sh, ci, SHMRING_MAX_CHANNELS),
			 SHMRING_MAX_CHANNELS);
		/* Unique names, regions that don't overlap. */
		for (i = 0; i < SHMRING_MAX_CHANNELS; i++)
			for (j = i + 1; j < SHMRING_MAX_CHANNELS; j++) {
				CHECK(strcmp(ci[i].name, ci[j].name));
				CHECK(ci[i].offset + ci[i].length <= ci[j].offset ||
				      ci[j].offset + ci[j].length <= ci[i].offset);
			}
		CHECK_OK(shmring_check(r->sh));
		race_free(r);
	}
	return 0;
}

/*
 * One SPSC channel, everyone wants to be its producer, and creators disagree
 * on the kind: one wins the role, the rest get EBUSY or EPROTOTYPE.
 */
static int role_child(void *arg)
{
	struct child *k = arg;
	struct race *r = k->r;
	struct shmring_channel_attr a = {
		.kind = k->idx % 3 ? SHMRING_MSG : SHMRING_STREAM,
		.capacity = 4096,
	};
	struct shmring_channel *ch;
	int ret;

	barrier_wait(&r->start);
	ret = shmring_channel_open(r->sh, "role", SHMRING_PRODUCER,
				   SHMRING_CREATE, &a, &ch);
	tally(r, ret);
	if (!ret)
		atomic_fetch_add(&r->wins[a.kind], 1);
	/* Hold the role until everyone has tried. */
	barrier_wait(&r->done);
	if (!ret)
		CHECK_OK(shmring_channel_close(ch));
	return 0;
}

static int spsc_role(void)
{
	unsigned int round;

	for (round = 0; round < ROUNDS; round++) {
		struct race *r = race_new();
		int wins;

		CHECK_EQ(race_run(r, role_child), 0);
		wins = atomic_load(&r->wins[SHMRING_MSG]) +
		       atomic_load(&r->wins[SHMRING_STREAM]);
		CHECK_EQ(wins, 1);
		CHECK_EQ(atomic_load(&r->ebusy) + atomic_load(&r->eproto),
			 NPROC - 1);
		CHECK_EQ(atomic_load(&r->other), 0);
		race_free(r);
	}
	return 0;
}

TAP_TESTS(
	{ "same_name", same_name, 300 },
	{ "excl", excl, 300 },
	{ "directory_fill", directory_fill, 300 },
	{ "spsc_role", spsc_role, 300 },
)
