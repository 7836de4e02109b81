// SPDX-License-Identifier: GPL-2.0
/*
 * Dead peers: a participant SIGKILLed in the middle of a message must not
 * wedge the survivor, which gets EPIPE within a bounded time (a liveness
 * slice is SHMRING_LIVENESS_NS); a participant that calls exec without
 * closing is gone as well, though its pid lives on; a live but idle peer
 * must not look dead, nor one whose forked child execs; and once the
 * survivor closes, the channel works for a new pair.
 *
 * Where the kernel does not report deaths (the memfd backend), a survivor
 * checks its peers through pidfds, tested on a memfd buffer as pidfd_*:
 * one per peer, kept across slices and closed with the handle and in a
 * forked child; replaced when the entry names another process; a zombie
 * dead even without /proc; a pid whose start time differs dead; and the
 * /proc check standing in where pidfd_open() fails.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define BUF		(4 * MiB)
#define BOUND_NS	2000000000LL	/* EPIPE must come within this */

struct victim {
	struct shmring *sh;
	uint32_t kind;
	int role;
	_Atomic int ready;	/* set once it is stuck mid-message */
};

/* Channel "c" of @kind with a small ring. */
static struct shmring_channel *chan_c(struct shmring *sh, int role,
				      uint32_t kind)
{
	bool q = kind == SHMRING_MPMC;

	return chan(sh, "c", role, kind, q ? 16 : 4096, q ? 64 : 0);
}

/* The child: some complete traffic, then stuck half way through one more. */
static int victim_main(void *arg)
{
	struct victim *v = arg;
	struct shmring_channel *ch = chan_c(v->sh, v->role, v->kind);
	const void *cp;
	void *d;
	int i;

	if (v->role == SHMRING_PRODUCER) {
		for (i = 0; i < 10; i++) {
			if (v->kind == SHMRING_STREAM)
				CHECK_EQ(shmring_stream_write(ch, &i, sizeof(i), -1),
					 sizeof(i));
			else
				CHECK_EQ(shmring_msg_send(ch, &i, sizeof(i), -1),
					 sizeof(i));
		}
		if (v->kind == SHMRING_STREAM) {
			CHECK(shmring_stream_reserve(ch, &d, -1) > 0);
		} else {
			CHECK_OK(shmring_msg_reserve(ch, 64, &d, -1));
		}
		memset(d, 0xee, 32);	/* half a message */
	} else {
		CHECK(shmring_msg_peek(ch, &cp, -1) > 0);	/* held */
	}
	atomic_store(&v->ready, 1);
	for (;;)
		pause();
	return 0;
}

struct killer {
	pid_t pid;
	int64_t when;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	sleep_ms(100);
	k->when = now_ns();
	kill(k->pid, SIGKILL);
	return NULL;
}

static pid_t start_victim(struct victim *v)
{
	pid_t pid = spawn(victim_main, v);

	while (!atomic_load(&v->ready))
		sleep_ms(1);
	return pid;
}

/* Kills @pid from a thread while the caller blocks; checks the bound. */
static void kill_during(pid_t pid, pthread_t *t, struct killer *k)
{
	k->pid = pid;
	k->when = 0;
	CHECK(!pthread_create(t, NULL, kill_later, k));
}

static void check_bound(pthread_t t, struct killer *k)
{
	int64_t late;

	pthread_join(t, NULL);
	late = now_ns() - k->when;
	printf("# EPIPE %.1f ms after SIGKILL\n", (double)late / 1e6);
	CHECK(late < BOUND_NS);
}

/* After the survivor closes, a new pair gets a clean channel. */
static void check_reusable(struct shmring *sh, uint32_t kind)
{
	struct shmring_channel *p = chan_c(sh, SHMRING_PRODUCER, kind);
	struct shmring_channel *c = chan_c(sh, SHMRING_CONSUMER, kind);
	char buf[64];

	if (kind == SHMRING_STREAM) {
		CHECK_EQ(shmring_stream_write(p, "new", 3, 0), 3);
		CHECK_EQ(shmring_stream_read(c, buf, sizeof(buf), 0), 3);
	} else {
		CHECK_EQ(shmring_msg_send(p, "new", 3, 0), 3);
		CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 3);
	}
	CHECK(!memcmp(buf, "new", 3));
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
}

/* The consumer survives a producer killed mid-message. */
static int producer_killed(uint32_t kind)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c;
	struct killer k;
	pthread_t t;
	char buf[64];
	ssize_t n;
	int i = 0, got = 0;
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = kind, .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, kind);
	pid = start_victim(v);
	kill_during(pid, &t, &k);
	/* All that was committed arrives; then EPIPE, not a hang. */
	for (;;) {
		if (kind == SHMRING_STREAM)
			n = shmring_stream_read(c, buf, sizeof(buf), -1);
		else
			n = shmring_msg_recv(c, buf, sizeof(buf), -1);
		if (n < 0)
			break;
		CHECK(n > 0);
		if (kind != SHMRING_STREAM) {
			CHECK_EQ(n, sizeof(i));
			CHECK(!memcmp(buf, &i, sizeof(i)));
			i++;
		}
		got += (int)n;
	}
	CHECK_EQ(n, -EPIPE);
	CHECK_EQ(errno, EPIPE);
	check_bound(t, &k);
	CHECK_EQ(got, 10 * (int)sizeof(i));
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(c));
	check_reusable(sh, kind);
	shmring_close(sh);
	return 0;
}

static int msg_producer_killed(void) { return producer_killed(SHMRING_MSG); }
static int stream_producer_killed(void) { return producer_killed(SHMRING_STREAM); }

/* The producer, blocked on a full ring, survives a consumer killed while
 * holding a message.
 */
static int consumer_killed(uint32_t kind)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *p;
	struct killer k;
	pthread_t t;
	ssize_t n;
	pid_t pid;
	int i = 0;

	*v = (struct victim){ .sh = sh, .kind = kind, .role = SHMRING_CONSUMER };
	p = chan_c(sh, SHMRING_PRODUCER, kind);
	CHECK_EQ(shmring_msg_send(p, &i, sizeof(i), -1), sizeof(i));
	pid = start_victim(v);
	kill_during(pid, &t, &k);
	do {
		n = shmring_msg_send(p, &i, sizeof(i), -1);
	} while (n > 0 && ++i < 100000);
	CHECK_EQ(n, -EPIPE);
	check_bound(t, &k);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(p));
	check_reusable(sh, kind);
	shmring_close(sh);
	return 0;
}

static int msg_consumer_killed(void) { return consumer_killed(SHMRING_MSG); }
static int mpmc_consumer_killed(void) { return consumer_killed(SHMRING_MPMC); }

/*
 * MPMC: a producer killed after claiming a slot leaves a hole the consumers
 * can't pass. They get EPIPE, and so does the other producer.
 */
static int mpmc_producer_killed(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *p, *c;
	struct killer k;
	pthread_t t;
	char buf[64];
	ssize_t n;
	int i, got = 0;
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MPMC,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MPMC);
	p = chan_c(sh, SHMRING_PRODUCER, SHMRING_MPMC);
	pid = start_victim(v);
	/* Behind the hole. */
	for (i = 0; i < 3; i++)
		CHECK_EQ(shmring_msg_send(p, &i, sizeof(i), 0), sizeof(i));
	kill_during(pid, &t, &k);
	while ((n = shmring_msg_recv(c, buf, sizeof(buf), -1)) > 0)
		got++;
	CHECK_EQ(n, -EPIPE);
	check_bound(t, &k);
	CHECK_EQ(got, 10);
	CHECK_ERR(shmring_msg_send(p, &i, sizeof(i), 0), EPIPE);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	check_reusable(sh, SHMRING_MPMC);
	shmring_close(sh);
	return 0;
}

/* How long a participant that exec'ed lives on, as /bin/sleep. */
#define EXEC_LIFE	"5"

static void exec_sleep(void)
{
	fflush(stdout);
	execl("/bin/sleep", "sleep", EXEC_LIFE, (char *)NULL);
	_exit(127);
}

/* A participant that sends (or holds) a little, then execs. */
static int exec_main(void *arg)
{
	struct victim *v = arg;
	struct shmring_channel *ch = chan_c(v->sh, v->role, v->kind);
	const void *cp;
	int i;

	if (v->role == SHMRING_PRODUCER) {
		for (i = 0; i < 3; i++)
			CHECK_EQ(v->kind == SHMRING_STREAM ?
				 shmring_stream_write(ch, &i, sizeof(i), -1) :
				 shmring_msg_send(ch, &i, sizeof(i), -1),
				 sizeof(i));
	} else {
		CHECK(shmring_msg_peek(ch, &cp, -1) > 0);	/* held */
	}
	atomic_store(&v->ready, 1);
	exec_sleep();
	return 1;
}

/* The exec'ed process still runs, so only its lost lock can tell. */
static void check_exec_alive(pid_t pid)
{
	CHECK_EQ(kill(pid, 0), 0);
	CHECK_EQ(waitpid(pid, NULL, WNOHANG), 0);
}

/*
 * A participant that calls exec without closing: same pid, same start
 * time, but its mapping and its fds are gone. The survivor, blocked,
 * gets EPIPE within a slice or two, long before the process ends.
 */
static int exec_peer(uint32_t kind, int role)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *me;
	int mine = role == SHMRING_PRODUCER ? SHMRING_CONSUMER :
		   SHMRING_PRODUCER;
	char buf[64];
	int64_t t0;
	ssize_t n;
	pid_t pid;
	int i = 0, got = 0;

	*v = (struct victim){ .sh = sh, .kind = kind, .role = role };
	me = chan_c(sh, mine, kind);
	if (mine == SHMRING_PRODUCER)
		CHECK_EQ(shmring_msg_send(me, &i, sizeof(i), -1), sizeof(i));
	pid = spawn(exec_main, v);
	while (!atomic_load(&v->ready))
		sleep_ms(1);
	t0 = now_ns();
	if (mine == SHMRING_CONSUMER) {
		while ((n = kind == SHMRING_STREAM ?
			    shmring_stream_read(me, buf, sizeof(buf), -1) :
			    shmring_msg_recv(me, buf, sizeof(buf), -1)) > 0)
			got += (int)n;
		CHECK_EQ(got, 3 * (int)sizeof(i));
	} else {
		do {
			n = shmring_msg_send(me, &i, sizeof(i), -1);
		} while (n > 0 && ++i < 100000);
	}
	CHECK_EQ(n, -EPIPE);
	printf("# EPIPE %.1f ms after the peer's exec\n",
	       (double)(now_ns() - t0) / 1e6);
	CHECK(now_ns() - t0 < BOUND_NS);
	check_exec_alive(pid);
	kill(pid, SIGKILL);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(me));
	check_reusable(sh, kind);
	shmring_close(sh);
	return 0;
}

static int msg_producer_exec(void)
{
	return exec_peer(SHMRING_MSG, SHMRING_PRODUCER);
}

static int stream_producer_exec(void)
{
	return exec_peer(SHMRING_STREAM, SHMRING_PRODUCER);
}

static int msg_consumer_exec(void)
{
	return exec_peer(SHMRING_MSG, SHMRING_CONSUMER);
}

static int mpmc_producer_exec(void)
{
	return exec_peer(SHMRING_MPMC, SHMRING_PRODUCER);
}

static int mpmc_consumer_exec(void)
{
	return exec_peer(SHMRING_MPMC, SHMRING_CONSUMER);
}

/*
 * A joiner sees it too: the producer's role of an SPSC channel is free once
 * its holder exec'ed, and the channel is broken (EPIPE, not EBUSY).
 */
static int exec_seen_by_joiner(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c, *p;
	char buf[16];
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = spawn(exec_main, v);
	while (!atomic_load(&v->ready))
		sleep_ms(1);
	/* The exec closes the lock's fd: wait for the new program. */
	sleep_ms(200);
	check_exec_alive(pid);
	CHECK_ERR(shmring_channel_open(sh, "c", SHMRING_PRODUCER, 0, NULL, &p),
		  EPIPE);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), sizeof(int));
	kill(pid, SIGKILL);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/*
 * A participant that forks a helper which execs (fork and exec of a
 * program, as system() and popen() do) is still there: the child shares
 * its liveness lock's description until the exec closes the child's copy.
 */
static int fork_exec_main(void *arg)
{
	struct victim *v = arg;
	struct shmring_channel *ch = chan_c(v->sh, v->role, v->kind);
	pid_t child;

	child = fork();
	if (!child)
		exec_sleep();
	CHECK(child > 0);
	atomic_store(&v->ready, 1);
	while (atomic_load(&v->ready) != 2)
		sleep_ms(1);
	kill(child, SIGKILL);
	CHECK_EQ(reap(child), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(ch));
	return 0;
}

static int fork_exec_alive(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c;
	char buf[16];
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = spawn(fork_exec_main, v);
	while (!atomic_load(&v->ready))
		sleep_ms(1);
	/* Three liveness slices, each ending in a check of the producer. */
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 350000000), ETIMEDOUT);
	atomic_store(&v->ready, 2);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 0);
	CHECK_EQ(reap(pid), 0);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int idle_main(void *arg)
{
	struct victim *v = arg;
	struct shmring_channel *ch = chan_c(v->sh, v->role, v->kind);

	atomic_store(&v->ready, 1);
	while (atomic_load(&v->ready) != 2)
		sleep_ms(1);
	CHECK_OK(shmring_channel_close(ch));
	return 0;
}

/* A live peer that sends nothing: a timeout, never EPIPE; then its clean
 * close is end-of-file.
 */
static int idle_peer_alive(void)
{
	struct shmring *sh = buffer_new(BUF);
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c;
	char buf[16];
	int64_t t0;
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = spawn(idle_main, v);
	while (!atomic_load(&v->ready))
		sleep_ms(1);
	t0 = now_ns();
	/* Several liveness slices pass inside this call. */
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 350000000), ETIMEDOUT);
	CHECK(now_ns() - t0 >= 350000000);
	atomic_store(&v->ready, 2);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 0);
	CHECK_EQ(reap(pid), 0);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* ---- pidfds (memfd backend) ---- */

#define PIDFD_SLICE_NS	10000000LL	/* 10 ms slices: several per wait */

/*
 * The pidfds this process holds: the fds whose fdinfo has a "Pid:" line.
 * Returns how many; the last one's fd and pid go to @fd and @pid.
 */
static int pidfds(int *fd, long *pid)
{
	char path[300], line[128];
	struct dirent *d;
	int n = 0;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc/self/fdinfo");
	CHECK(dir);
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;	/* the directory's own fd, gone */
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Pid:", 4)) {
				n++;
				if (fd)
					*fd = atoi(d->d_name);
				if (pid)
					*pid = strtol(line + 4, NULL, 10);
			}
		fclose(f);
	}
	closedir(dir);
	return n;
}

static struct shmring *memfd_buffer(void)
{
	struct shmring *sh;

	CHECK_OK(shmring_open_memfd(BUF, &sh));
	atomic_store(&sr_test_liveness_ns, PIDFD_SLICE_NS);
	return sh;
}

/* A live idle producer: recv(@ms) runs out (several slices), not EPIPE. */
static void wait_out(struct shmring_channel *c, int ms)
{
	char buf[16];

	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf),
				   (int64_t)ms * 1000000), ETIMEDOUT);
}

/*
 * Blocks @ch a few slices at a time (a producer on a full ring, a consumer
 * on an empty one) until this process holds @want pidfds, the last one on
 * @want_pid unless that is 0: a loaded machine may let a whole wait pass
 * without a liveness check, never a hundred. The last pidfd's fd to @fd.
 */
static void waits_until(struct shmring_channel *ch, int want, pid_t want_pid,
			int *fd)
{
	long pid = 0;
	int i, x = 0;

	for (i = 0; i < 100; i++) {
		if (pidfds(fd, &pid) == want && (!want_pid || pid == want_pid))
			return;
		if (ch->role == SHMRING_PRODUCER)
			CHECK_ERR(shmring_msg_send(ch, &x, sizeof(x), 30000000),
				  ETIMEDOUT);
		else
			wait_out(ch, 30);
	}
	CHECK_EQ(pidfds(fd, &pid), want);
	CHECK(!want_pid || pid == want_pid);
}

static pid_t start_idle(struct victim *v)
{
	pid_t pid = spawn(idle_main, v);

	while (!atomic_load(&v->ready))
		sleep_ms(1);
	return pid;
}

/* Lets an idle_main() child close and exit; EOF follows. */
static void stop_idle(struct victim *v, pid_t pid,
		      struct shmring_channel *c)
{
	char buf[16];

	atomic_store(&v->ready, 2);
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), -1), 0);
	CHECK_EQ(reap(pid), 0);
}

/*
 * One pidfd per peer, on that peer, opened at the first check and kept:
 * the same fd after more slices. Closing the handle closes it.
 */
static int pidfd_one_per_peer(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c;
	int before = pidfds(NULL, NULL), fd = -1, fd2 = -1;
	long pid2 = 0;
	pid_t child;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	child = start_idle(v);
	waits_until(c, before + 1, child, &fd);
	wait_out(c, 100);
	CHECK_EQ(pidfds(&fd2, &pid2), before + 1);
	CHECK_EQ(pid2, child);
	CHECK_EQ(fd2, fd);
	stop_idle(v, child, c);
	CHECK_OK(shmring_channel_close(c));
	CHECK_EQ(pidfds(NULL, NULL), before);
	shmring_close(sh);
	return 0;
}

/*
 * A peer that leaves cleanly and another that takes its entry: the pidfd
 * follows the entry to the new process, which is alive, and whose death
 * is then seen.
 */
static int pidfd_follows_entry(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	struct shmring_channel *c;
	int before = pidfds(NULL, NULL);
	struct killer k;
	pthread_t t;
	char buf[16];
	pid_t a, b;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	a = start_idle(v);
	waits_until(c, before + 1, a, NULL);
	stop_idle(v, a, c);
	/* The second producer, stuck in a message, in the same entry. */
	v->ready = 0;
	b = start_victim(v);
	CHECK(b != a);
	while (shmring_msg_recv(c, buf, sizeof(buf), 0) > 0)
		;
	/* b lives: not taken for a */
	waits_until(c, before + 1, b, NULL);
	kill_during(b, &t, &k);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), -1), EPIPE);
	check_bound(t, &k);
	CHECK_EQ(reap(b), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(c));
	CHECK_EQ(pidfds(NULL, NULL), before);
	shmring_close(sh);
	return 0;
}

/* The entry @pid holds on @ch's channel: it must hold one. */
static struct sr_peer *entry_of(struct shmring_channel *ch, pid_t pid)
{
	int i;

	for (i = 0; i < (int)SHMRING_MAX_PEERS; i++)
		if (atomic_load(&ch->r->ctl.peers[i].pid) == (uint32_t)pid)
			return &ch->r->ctl.peers[i];
	CHECK(!"no entry for the pid");
	return NULL;
}

/* Clears @bits in the entry of @pid, as if it had never set them. */
static void entry_clear(struct shmring_channel *ch, pid_t pid, uint32_t bits)
{
	atomic_fetch_and(&entry_of(ch, pid)->flags, ~bits);
}

/*
 * Without /proc, a killed peer that nobody has reaped, a zombie, still
 * exists for kill(0): only the pidfd can tell that it has exited. The
 * pidfd was opened while /proc was there, so its start time was checked.
 * The peer holds no liveness lock, as one that could not take it, so the
 * lock cannot tell instead.
 */
static int pidfd_zombie_without_proc(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	int before = pidfds(NULL, NULL);
	struct shmring_channel *p;
	int i = 0;
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_CONSUMER };
	p = chan_c(sh, SHMRING_PRODUCER, SHMRING_MSG);
	CHECK_EQ(shmring_msg_send(p, &i, sizeof(i), -1), sizeof(i));
	pid = start_victim(v);
	entry_clear(p, pid, SR_PEER_LOCKED);
	/* The ring is full; a wait opens the pidfd. */
	while (shmring_msg_send(p, &i, sizeof(i), 0) > 0)
		;
	waits_until(p, before + 1, pid, NULL);
	atomic_store(&sr_test_no_proc, true);
	CHECK_OK(kill(pid, SIGKILL));
	/* A zombie until reaped below; EPIPE within the bound, not a hang. */
	CHECK_ERR(shmring_msg_send(p, &i, sizeof(i), BOUND_NS), EPIPE);
	CHECK_EQ(kill(pid, 0), 0);
	atomic_store(&sr_test_no_proc, false);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(p));
	shmring_close(sh);
	return 0;
}

/*
 * An entry whose start time is not its live process's (what a reused pid
 * looks like): dead at the first check, and no pidfd is kept on the
 * stranger.
 */
static int pidfd_other_start_dead(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	int before = pidfds(NULL, NULL);
	struct shmring_channel *c;
	char buf[16];
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = start_idle(v);
	atomic_fetch_add(&entry_of(c, pid)->start, 1);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), BOUND_NS), EPIPE);
	CHECK_EQ(pidfds(NULL, NULL), before);
	CHECK_EQ(kill(pid, 0), 0);
	CHECK_OK(kill(pid, SIGKILL));
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int child_pidfds(void *arg)
{
	(void)arg;
	return pidfds(NULL, NULL);
}

/* A child of fork() holds no copy of its parent's pidfds. */
static int pidfd_not_inherited(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	int before = pidfds(NULL, NULL);
	struct shmring_channel *c;
	pid_t pid;

	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = start_idle(v);
	waits_until(c, before + 1, pid, NULL);
	CHECK_EQ(reap(spawn(child_pidfds, NULL)), before);
	stop_idle(v, pid, c);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* Where pidfd_open() fails, /proc tells: a killed peer is still seen. */
static int pidfd_missing_proc_tells(void)
{
	struct shmring *sh = memfd_buffer();
	struct victim *v = shared_alloc(sizeof(*v));
	int before = pidfds(NULL, NULL);
	struct shmring_channel *c;
	struct killer k;
	pthread_t t;
	char buf[16];
	pid_t pid;

	atomic_store(&sr_test_no_pidfd, true);
	*v = (struct victim){ .sh = sh, .kind = SHMRING_MSG,
			      .role = SHMRING_PRODUCER };
	c = chan_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = start_victim(v);
	entry_clear(c, pid, SR_PEER_LOCKED);	/* only the pid tells */
	while (shmring_msg_recv(c, buf, sizeof(buf), 0) > 0)
		;
	wait_out(c, 30);
	CHECK_EQ(pidfds(NULL, NULL), before);
	kill_during(pid, &t, &k);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), -1), EPIPE);
	check_bound(t, &k);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

TAP_TESTS(
	{ "msg_producer_killed", msg_producer_killed, 30 },
	{ "stream_producer_killed", stream_producer_killed, 30 },
	{ "msg_consumer_killed", msg_consumer_killed, 30 },
	{ "mpmc_consumer_killed", mpmc_consumer_killed, 30 },
	{ "mpmc_producer_killed", mpmc_producer_killed, 30 },
	{ "idle_peer_alive", idle_peer_alive, 30 },
	{ "msg_producer_exec", msg_producer_exec, 30 },
	{ "stream_producer_exec", stream_producer_exec, 30 },
	{ "msg_consumer_exec", msg_consumer_exec, 30 },
	{ "mpmc_producer_exec", mpmc_producer_exec, 30 },
	{ "mpmc_consumer_exec", mpmc_consumer_exec, 30 },
	{ "exec_seen_by_joiner", exec_seen_by_joiner, 30 },
	{ "fork_exec_alive", fork_exec_alive, 30 },
	{ "pidfd_one_per_peer", pidfd_one_per_peer, 30 },
	{ "pidfd_follows_entry", pidfd_follows_entry, 30 },
	{ "pidfd_zombie_without_proc", pidfd_zombie_without_proc, 30 },
	{ "pidfd_other_start_dead", pidfd_other_start_dead, 30 },
	{ "pidfd_not_inherited", pidfd_not_inherited, 30 },
	{ "pidfd_missing_proc_tells", pidfd_missing_proc_tells, 30 },
)
