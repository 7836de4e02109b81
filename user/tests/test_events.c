// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel events (module ABI 2): the channel's watch fd and arm, and dead
 * peers told by the kernel's release actions.
 *
 * On the host (memfd) only what the backend must refuse is tested. On the
 * device, with the liveness slice stretched to 20 s, so that a death seen
 * by the old per-slice check alone would take that long and fail the
 * bound, the tests check that:
 *   fd_*          the fd becomes readable for data, room and end-of-file,
 *                 and only once armed; arm returns 1 for a change since
 *                 the EAGAIN, and for an arm without a new EAGAIN
 *   killed_*      a survivor blocked with no timeout gets EPIPE within
 *                 BOUND_NS of SIGKILL, with no WAIT that ran out, and its
 *                 watch fd turns readable
 *   exec          the same for a peer that execs without closing
 *   pidns         a peer in another pid namespace is not taken for dead
 *                 (its pid means nothing here), and its death is seen
 *   fork_child    a parent killed while its forked child lives is seen
 *   clean_close   a peer that closes and exits leaves EOF, not BROKEN
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define BUF		MiB
/* Far below the stretched slice; generous for a debug kernel under TCG. */
#define BOUND_NS	100000000LL
#define SLICE_NS	20000000000LL

static struct shmring_channel *open_c(struct shmring *sh, int role,
				      uint32_t kind)
{
	bool q = kind == SHMRING_MPMC;

	return chan(sh, "c", role, kind, q ? 4 : 256, q ? 64 : 0);
}

/* The memfd backend has no kernel to watch for it. */
static int unsupported(void)
{
	struct shmring *sh;
	struct shmring_channel *c;

	CHECK_OK(shmring_open_memfd(BUF, &sh));
	c = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	CHECK_ERR(shmring_channel_fd(NULL), EINVAL);
	CHECK_ERR(shmring_channel_arm(NULL), EINVAL);
	CHECK_ERR(shmring_channel_arm(c), EINVAL);
	CHECK_ERR(shmring_channel_fd(c), EOPNOTSUPP);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

#ifdef TEST_DEVICE
static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && p.revents & POLLIN;
}

static struct shmring *device_buffer(uint64_t feature)
{
	struct shmring *sh = buffer_new(BUF);
	struct shmring_info info;

	CHECK_OK(shmring_info(sh, &info));
	if (!(info.features & feature)) {
		printf("# the module lacks feature %#llx\n",
		       (unsigned long long)feature);
		exit(TAP_SKIP);
	}
	atomic_store(&sr_test_liveness_ns, SLICE_NS);
	return sh;
}

/* recv(0) until EAGAIN, then arm; the number of messages read. */
static int drain_and_arm(struct shmring_channel *c, int want_arm)
{
	char buf[64];
	int n = 0;

	while (shmring_msg_recv(c, buf, sizeof(buf), 0) > 0)
		n++;
	CHECK_EQ(errno, EAGAIN);
	CHECK_EQ(shmring_channel_arm(c), want_arm);
	return n;
}

static int fd_kind(uint32_t kind)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_WATCH);
	struct shmring_channel *p = open_c(sh, SHMRING_PRODUCER, kind);
	struct shmring_channel *c = open_c(sh, SHMRING_CONSUMER, kind);
	int fd = shmring_channel_fd(c), pfd = shmring_channel_fd(p), i;
	struct shmring_stats st;
	char buf[64];

	CHECK(fd >= 0 && pfd >= 0 && fd != pfd);
	CHECK_EQ(shmring_channel_fd(c), fd);
	/* Nothing since no EAGAIN: "call again". */
	CHECK_EQ(shmring_channel_arm(c), 1);
	CHECK_EQ(drain_and_arm(c, 0), 0);
	CHECK(!readable(fd, 0));
	CHECK_EQ(shmring_msg_send(p, "a", 1, 0), 1);
	CHECK(readable(fd, 5000));
	CHECK_EQ(drain_and_arm(c, 0), 1);
	/* arm drained it: no longer readable until the next ring. */
	CHECK(!readable(fd, 0));

	/* A message between the EAGAIN and the arm: arm says so. */
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_EQ(shmring_msg_send(p, "b", 1, 0), 1);
	CHECK_EQ(shmring_channel_arm(c), 1);
	CHECK_EQ(drain_and_arm(c, 0), 1);

	/* Room: fill, arm the producer, let the consumer take one. */
	for (i = 0; shmring_msg_send(p, "x", 1, 0) == 1; i++)
		;
	CHECK_EQ(errno, EAGAIN);
	CHECK(i > 0);
	CHECK_EQ(shmring_channel_arm(p), 0);
	CHECK(!readable(pfd, 0));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 1);
	CHECK(readable(pfd, 5000));
	CHECK_EQ(drain_and_arm(c, 0), i - 1);
	CHECK_EQ(shmring_channel_arm(p), 1);	/* no EAGAIN since */

	/* End-of-file rings the consumer. */
	CHECK(!readable(fd, 0));
	CHECK_OK(shmring_channel_close(p));
	CHECK(readable(fd, 5000));
	CHECK_EQ(shmring_msg_recv(c, buf, sizeof(buf), 0), 0);
	CHECK_OK(shmring_channel_stats(c, &st));
	CHECK_EQ(st.waits, 0);
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

static int fd_msg(void) { return fd_kind(SHMRING_MSG); }
static int fd_mpmc(void) { return fd_kind(SHMRING_MPMC); }

/* A stream consumer: the same, through the stream calls. */
static int fd_stream(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_WATCH);
	struct shmring_channel *p = open_c(sh, SHMRING_PRODUCER, SHMRING_STREAM);
	struct shmring_channel *c = open_c(sh, SHMRING_CONSUMER, SHMRING_STREAM);
	int fd = shmring_channel_fd(c);
	char buf[8];

	CHECK(fd >= 0);
	CHECK_ERR(shmring_stream_read(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_EQ(shmring_channel_arm(c), 0);
	CHECK_EQ(shmring_stream_write(p, "abc", 3, 0), 3);
	CHECK(readable(fd, 5000));
	CHECK_EQ(shmring_stream_read(c, buf, sizeof(buf), 0), 3);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/*
 * A peer whose end the kernel would not tell (an older library: no
 * SR_PEER_RELEASE on its entry) makes arm refuse, so that the caller
 * blocks with liveness slices instead; with the flag back, arm arms.
 */
static int arm_needs_told_peers(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct shmring_channel *p = open_c(sh, SHMRING_PRODUCER, SHMRING_MSG);
	struct shmring_channel *c = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	_Atomic uint32_t *pf = &p->r->ctl.peers[p->peer].flags;
	char buf[8];

	CHECK(shmring_channel_fd(c) >= 0);
	CHECK(atomic_load(pf) & SR_PEER_RELEASE);
	atomic_fetch_and(pf, ~SR_PEER_RELEASE);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_ERR(shmring_channel_arm(c), EOPNOTSUPP);
	atomic_fetch_or(pf, SR_PEER_RELEASE);
	CHECK_ERR(shmring_msg_recv(c, buf, sizeof(buf), 0), EAGAIN);
	CHECK_EQ(shmring_channel_arm(c), 0);
	CHECK_OK(shmring_channel_close(p));
	CHECK_OK(shmring_channel_close(c));
	shmring_close(sh);
	return 0;
}

/* ---- dead peers ---- */

struct peer {
	struct shmring *sh;
	uint32_t kind;
	int role;
	int how;		/* PEER_* */
	_Atomic int ready;
	_Atomic int go;		/* PEER_EXEC: exec now */
	_Atomic pid_t pid;	/* the participant, seen from here */
};

enum { PEER_PAUSE, PEER_EXEC, PEER_FORK, PEER_CLOSE, PEER_PIDNS };

/* A participant: attach, send one message (producer), then @how. */
static int participant(struct peer *v)
{
	struct shmring_channel *ch = open_c(v->sh, v->role, v->kind);
	pid_t child;

	if (v->role == SHMRING_PRODUCER)
		CHECK_EQ(v->kind == SHMRING_STREAM ?
			 shmring_stream_write(ch, "m", 1, -1) :
			 shmring_msg_send(ch, "m", 1, -1), 1);
	switch (v->how) {
	case PEER_EXEC:
		atomic_store(&v->ready, 1);
		while (!atomic_load(&v->go))
			sleep_ms(1);
		fflush(stdout);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		return 127;
	case PEER_FORK:
		/* A child that outlives us, holding what fork gave it. */
		child = fork();
		CHECK(child >= 0);
		if (!child) {
			prctl(PR_SET_PDEATHSIG, 0);
			sleep(30);
			_exit(0);
		}
		atomic_store(&v->pid, child);
		break;
	case PEER_CLOSE:
		CHECK_OK(shmring_channel_close(ch));
		atomic_store(&v->ready, 1);
		return 0;
	}
	atomic_store(&v->ready, 1);
	for (;;)
		pause();
}

static int participant_main(void *arg)
{
	struct peer *v = arg;

	/* A test that failed must not leave a participant behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (v->how != PEER_PIDNS)
		return participant(v);
	/* pid 1 of a namespace of its own; the parent waits for it. */
	CHECK_OK(unshare(CLONE_NEWPID));
	v->how = PEER_PAUSE;
	atomic_store(&v->pid, spawn(participant_main, v));
	return reap(atomic_load(&v->pid)) == 128 + SIGKILL ? 0 : 1;
}

static pid_t start(struct peer *v)
{
	pid_t pid = spawn(participant_main, v);

	while (!atomic_load(&v->ready))
		sleep_ms(1);
	return pid;
}

/* A consumer's read of one message, or of what a stream holds. */
static ssize_t take(struct shmring_channel *me, uint32_t kind, int64_t tmo)
{
	char buf[8];

	return kind == SHMRING_STREAM ?
	       shmring_stream_read(me, buf, sizeof(buf), tmo) :
	       shmring_msg_recv(me, buf, sizeof(buf), tmo);
}

/*
 * The survivor's side: the one message, then EPIPE within the bound of
 * the peer's end: SIGKILL of @victim, or, without one, the peer's exec.
 */
static void survive(struct shmring_channel *me, struct peer *v, pid_t victim)
{
	int fd = shmring_channel_fd(me);
	struct shmring_stats st;
	int64_t t0;
	ssize_t n;

	CHECK(fd >= 0);
	if (v->role == SHMRING_PRODUCER) {
		CHECK_EQ(take(me, v->kind, -1), 1);
		CHECK_ERR(take(me, v->kind, 0), EAGAIN);
	} else {
		while (shmring_msg_send(me, "s", 1, 0) == 1)
			;
		CHECK_EQ(errno, EAGAIN);
	}
	CHECK_EQ(shmring_channel_arm(me), 0);
	sleep_ms(50);	/* the survivor is asleep when it ends */
	t0 = now_ns();
	if (victim)
		CHECK_OK(kill(victim, SIGKILL));
	else
		atomic_store(&v->go, 1);
	if (v->role == SHMRING_PRODUCER)
		n = take(me, v->kind, -1);
	else
		n = shmring_msg_send(me, "s", 1, -1);
	t0 = now_ns() - t0;
	printf("# EPIPE %.3f ms after the end\n", (double)t0 / 1e6);
	CHECK_EQ(n, -EPIPE);
	CHECK(t0 < BOUND_NS);
	CHECK(readable(fd, 0));
	CHECK_OK(shmring_channel_stats(me, &st));
	CHECK_EQ(st.timeouts, 0);
}

static int killed(uint32_t kind, int role)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct peer *v = shared_alloc(sizeof(*v));
	int mine = role == SHMRING_PRODUCER ? SHMRING_CONSUMER :
		   SHMRING_PRODUCER;
	struct shmring_channel *me;
	pid_t pid;

	*v = (struct peer){ .sh = sh, .kind = kind, .role = role };
	me = open_c(sh, mine, kind);
	pid = start(v);
	survive(me, v, pid);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(me));
	shmring_close(sh);
	return 0;
}

static int killed_msg_producer(void)
{
	return killed(SHMRING_MSG, SHMRING_PRODUCER);
}

static int killed_msg_consumer(void)
{
	return killed(SHMRING_MSG, SHMRING_CONSUMER);
}

static int killed_stream_producer(void)
{
	return killed(SHMRING_STREAM, SHMRING_PRODUCER);
}

static int killed_mpmc_producer(void)
{
	return killed(SHMRING_MPMC, SHMRING_PRODUCER);
}

static int killed_mpmc_consumer(void)
{
	return killed(SHMRING_MPMC, SHMRING_CONSUMER);
}

/* exec without closing: the close-on-exec descriptor goes, and tells. */
static int exec_peer(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct peer *v = shared_alloc(sizeof(*v));
	struct shmring_channel *me;
	pid_t pid;

	*v = (struct peer){ .sh = sh, .kind = SHMRING_MSG,
			    .role = SHMRING_PRODUCER, .how = PEER_EXEC };
	me = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = spawn(participant_main, v);
	while (!atomic_load(&v->ready))
		sleep_ms(1);
	/* Its exec, once we armed, is the end. */
	survive(me, v, 0);
	CHECK_EQ(kill(pid, 0), 0);	/* it lives on, as sleep */
	kill(pid, SIGKILL);
	reap(pid);
	CHECK_OK(shmring_channel_close(me));
	shmring_close(sh);
	return 0;
}

/*
 * A producer that is pid 1 of its own namespace: its recorded pid names
 * init here, with another start time, which the /proc check took for a
 * dead peer. It must stay alive through slices, then be seen when killed.
 */
static int pidns(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct peer *v = shared_alloc(sizeof(*v));
	struct shmring_channel *me;
	char buf[8];
	pid_t pid;

	*v = (struct peer){ .sh = sh, .kind = SHMRING_MSG,
			    .role = SHMRING_PRODUCER, .how = PEER_PIDNS };
	me = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	CHECK(shmring_channel_fd(me) >= 0);
	atomic_store(&sr_test_liveness_ns, 20000000);	/* 20 ms slices */
	pid = start(v);
	while (!atomic_load(&v->pid))
		sleep_ms(1);
	CHECK_EQ(shmring_msg_recv(me, buf, sizeof(buf), -1), 1);
	/* Ten slices, each ending in a liveness check: still alive. */
	CHECK_ERR(shmring_msg_recv(me, buf, sizeof(buf), 200000000), ETIMEDOUT);
	atomic_store(&sr_test_liveness_ns, SLICE_NS);
	CHECK_ERR(shmring_msg_recv(me, buf, sizeof(buf), 0), EAGAIN);
	CHECK_EQ(shmring_channel_arm(me), 0);
	/* The participant, its namespace's init, as seen from here. */
	CHECK_OK(kill(atomic_load(&v->pid), SIGKILL));
	CHECK_ERR(shmring_msg_recv(me, buf, sizeof(buf), -1), EPIPE);
	CHECK_EQ(reap(pid), 0);
	CHECK_OK(shmring_channel_close(me));
	shmring_close(sh);
	return 0;
}

/* The parent dies; its forked child, which inherited the fds, lives on. */
static int fork_child(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct peer *v = shared_alloc(sizeof(*v));
	struct shmring_channel *me;
	pid_t pid, child;

	*v = (struct peer){ .sh = sh, .kind = SHMRING_MSG,
			    .role = SHMRING_PRODUCER, .how = PEER_FORK };
	me = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = start(v);
	child = atomic_load(&v->pid);
	survive(me, v, pid);
	CHECK_EQ(kill(child, 0), 0);
	kill(child, SIGKILL);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
	CHECK_OK(shmring_channel_close(me));
	shmring_close(sh);
	return 0;
}

/* A clean close cancels the actions: the exit after it breaks nothing. */
static int clean_close(void)
{
	struct shmring *sh = device_buffer(SHMRING_FEATURE_RELEASE);
	struct peer *v = shared_alloc(sizeof(*v));
	struct shmring_chinfo ci;
	struct shmring_channel *me;
	char buf[8];
	pid_t pid;

	*v = (struct peer){ .sh = sh, .kind = SHMRING_MSG,
			    .role = SHMRING_PRODUCER, .how = PEER_CLOSE };
	me = open_c(sh, SHMRING_CONSUMER, SHMRING_MSG);
	pid = start(v);
	CHECK_EQ(reap(pid), 0);
	CHECK_EQ(shmring_msg_recv(me, buf, sizeof(buf), -1), 1);
	CHECK_EQ(shmring_msg_recv(me, buf, sizeof(buf), -1), 0);
	CHECK_EQ(shmring_channels(sh, &ci, 1), 1);
	CHECK_EQ(ci.flags, SHMRING_CH_EOF);
	CHECK_OK(shmring_channel_close(me));
	shmring_close(sh);
	return 0;
}
#endif /* TEST_DEVICE */

#ifdef TEST_DEVICE
TAP_TESTS(
	{ "unsupported", unsupported, 30 },
	{ "fd_msg", fd_msg, 30 },
	{ "fd_mpmc", fd_mpmc, 30 },
	{ "fd_stream", fd_stream, 30 },
	{ "arm_needs_told_peers", arm_needs_told_peers, 30 },
	{ "killed_msg_producer", killed_msg_producer, 30 },
	{ "killed_msg_consumer", killed_msg_consumer, 30 },
	{ "killed_stream_producer", killed_stream_producer, 30 },
	{ "killed_mpmc_producer", killed_mpmc_producer, 30 },
	{ "killed_mpmc_consumer", killed_mpmc_consumer, 30 },
	{ "exec", exec_peer, 30 },
	{ "pidns", pidns, 30 },
	{ "fork_child", fork_child, 30 },
	{ "clean_close", clean_close, 30 },
)
#else
TAP_TESTS(
	{ "unsupported", unsupported, 30 },
)
#endif
