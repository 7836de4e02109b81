// SPDX-License-Identifier: GPL-2.0
/*
 * Forced interleavings of the wake-up protocol (user/lib/block.c). Stress
 * runs of millions of messages miss windows a few instructions wide, so
 * these tests stop one side at a step of the protocol (the hooks of a
 * SR_TEST_HOOKS build) while the other side runs, and then let it go.
 *
 * For every ring kind and every event a sleeper waits for (data, room,
 * end-of-file, hang-up, a dead peer), the sleeper is stopped at each of its
 * steps (the caller's check, S1-S4) and the waker at each of its steps
 * (W1-W4), alone and both at once, released in either order. However the
 * two interleave, the sleeper must return what the event calls for, without
 * any WAIT having run out a liveness slice (stats.timeouts == 0), and soon
 * after the last release. The slice is made longer than anything a test
 * waits for, so that a WAIT runs out only when its wake-up was lost. MPMC also gets the cases where a wake-up meant
 * for another slot comes between a sleeper's steps.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#ifndef SR_TEST_HOOKS
/* cppcheck-suppress preprocessorErrorDirective */
#error "the library must be built with -DSR_TEST_HOOKS for these tests"
#endif

#define BUF		(1 * MiB)
#define MSG		8		/* bytes per message */
#define REACH_NS	5000000000LL	/* a stop must be reached within this */
/*
 * The sleeper's liveness slice, long enough that no WAIT runs out while a
 * test keeps its waker stopped, even under a sanitizer on a busy machine:
 * a WAIT that runs out here lost its wake-up.
 */
#define SLICE_NS	2000000000LL
/* A wake-up that comes this long after the last release was lost. */
#define LATE_NS		(SLICE_NS / 2)

enum event {
	EV_DATA,	/* a consumer waits; a producer sends */
	EV_ROOM,	/* a producer waits on a full ring; a consumer takes one */
	EV_EOF,		/* a consumer waits; the producer closes */
	EV_HUP,		/* a producer waits on a full ring; the consumer closes */
	EV_BROKEN_DATA,	/* a consumer waits; a joiner finds the producer dead */
	EV_BROKEN_ROOM,	/* a producer waits; a joiner finds the consumer dead */
};

static const char *const event_names[] = {
	"data", "room", "eof", "hup", "broken(data)", "broken(room)",
};

static const char *const step_names[] = {
	[SR_STEP_CHECKED] = "checked",
	[SR_STEP_S1] = "S1", [SR_STEP_S2] = "S2", [SR_STEP_S3] = "S3",
	[SR_STEP_S4] = "S4", [SR_STEP_W1] = "W1", [SR_STEP_W2] = "W2",
	[SR_STEP_W3] = "W3", [SR_STEP_W4] = "W4",
};

#define NO_STOP		(-1)

/*
 * A stop parks one thread at one step, the first time it gets there, until
 * the test lets it go. The hook runs in every thread of the test; it acts
 * only in the thread the stop names.
 */
struct stop {
	_Atomic pid_t tid;		/* 0: no stop */
	_Atomic int step;
	_Atomic int state;		/* 0 armed, 1 parked, 2 released */
};

/* What each side's thread did, for the checks and for "is it asleep?". */
struct side {
	pthread_t thread;
	_Atomic pid_t tid;
	_Atomic int last;		/* last step it passed */
	_Atomic bool go, done;
	long ret;
	int64_t end;			/* when the call returned */
	struct shmring_stats st;
};

static struct stop stops[2];		/* [0] the sleeper's, [1] the waker's */

static void hook(const struct shmring_channel *ch, enum sr_step step);

static pid_t self_tid(void)
{
	return gettid();
}

static struct side *side_of_tid(pid_t tid);

static void hook(const struct shmring_channel *ch, enum sr_step step)
{
	struct timespec nap = { .tv_nsec = 100000 };
	pid_t me = self_tid();
	struct side *s = side_of_tid(me);
	int i;

	(void)ch;
	if (s)
		atomic_store(&s->last, (int)step);
	for (i = 0; i < 2; i++) {
		int armed = 0;

		if (atomic_load(&stops[i].tid) != me ||
		    atomic_load(&stops[i].step) != (int)step ||
		    !atomic_compare_exchange_strong(&stops[i].state, &armed, 1))
			continue;
		while (atomic_load(&stops[i].state) != 2)
			nanosleep(&nap, NULL);
	}
}

/* ---- one scenario ---- */

struct scenario {
	uint32_t kind;
	enum event ev;
	int sleeper_stop;	/* a step, or NO_STOP */
	int waker_stop;
	bool waker_first;	/* with both parked, which goes first */
};

struct other_slot;

struct world {
	struct shmring *sh;
	struct scenario sc;
	struct shmring_channel *sleeper;	/* opened by the test */
	struct shmring_channel *other;		/* the peer, or NULL if dead */
	struct other_slot *os;			/* for the MPMC cases */
	struct side s, w;
	int err;				/* a line of a failed step */
};

static struct world *cur;

static struct side *side_of_tid(pid_t tid)
{
	if (!cur || !tid)
		return NULL;
	if (atomic_load(&cur->s.tid) == tid)
		return &cur->s;
	if (atomic_load(&cur->w.tid) == tid)
		return &cur->w;
	return NULL;
}

static bool waits_for_data(enum event ev)
{
	return ev == EV_DATA || ev == EV_EOF || ev == EV_BROKEN_DATA;
}

static struct shmring_channel *open_role(struct shmring *sh, uint32_t kind,
					 int role)
{
	bool q = kind == SHMRING_MPMC;

	return chan(sh, "x", role, kind, q ? 4 : 256, q ? MSG : 0);
}

static long send_one(struct shmring_channel *ch, uint32_t kind,
		     int64_t timeout)
{
	static const char msg[MSG] = "message";

	if (kind == SHMRING_STREAM)
		return shmring_stream_write(ch, msg, MSG, timeout);
	return shmring_msg_send(ch, msg, MSG, timeout);
}

static long recv_one(struct shmring_channel *ch, uint32_t kind,
		     int64_t timeout)
{
	char buf[64];

	if (kind == SHMRING_STREAM)
		return shmring_stream_read(ch, buf, MSG, timeout);
	return shmring_msg_recv(ch, buf, sizeof(buf), timeout);
}

/*
 * A participant that joins and is killed: it stays in the table, dead,
 * until a joiner's liveness check finds it. On the device the kernel
 * would tell of its end at once (release actions, events.c; the events
 * test checks that), so the corpse takes its actions back first and
 * stands for a peer whose end only that check can find: one of an older
 * library, which registered none.
 */
struct corpse {
	struct shmring *sh;
	uint32_t kind;
	int role;
	_Atomic int ready;
};

static int corpse_main(void *arg)
{
	struct corpse *c = arg;
	struct shmring_channel *ch = open_role(c->sh, c->kind, c->role);

	sr_release_cancel(ch);
	atomic_fetch_and(&ch->r->ctl.peers[ch->peer].flags, ~SR_PEER_RELEASE);
	atomic_store(&c->ready, 1);
	for (;;)
		pause();
	return 0;
}

static void make_corpse(struct world *w, int role)
{
	struct corpse *c = shared_alloc(sizeof(*c));
	pid_t pid;

	*c = (struct corpse){ .sh = w->sh, .kind = w->sc.kind, .role = role };
	pid = spawn(corpse_main, c);
	while (!atomic_load(&c->ready))
		sched_yield();
	kill(pid, SIGKILL);
	CHECK_EQ(reap(pid), 128 + SIGKILL);
}

static void *sleeper_main(void *arg)
{
	struct world *w = arg;
	struct side *s = &w->s;

	atomic_store(&s->tid, self_tid());
	while (!atomic_load(&s->go))
		sched_yield();
	if (waits_for_data(w->sc.ev))
		s->ret = recv_one(w->sleeper, w->sc.kind, -1);
	else
		s->ret = send_one(w->sleeper, w->sc.kind, -1);
	s->end = now_ns();
	shmring_channel_stats(w->sleeper, &s->st);
	atomic_store(&s->done, true);
	return NULL;
}

static void *waker_main(void *arg)
{
	struct world *w = arg;
	struct side *s = &w->w;
	struct shmring_channel *joiner;

	atomic_store(&s->tid, self_tid());
	while (!atomic_load(&s->go))
		sched_yield();
	switch (w->sc.ev) {
	case EV_DATA:
		s->ret = send_one(w->other, w->sc.kind, 0);
		break;
	case EV_ROOM:
		s->ret = recv_one(w->other, w->sc.kind, 0);
		break;
	case EV_EOF:
	case EV_HUP:
		s->ret = shmring_channel_close(w->other);
		w->other = NULL;
		break;
	case EV_BROKEN_DATA:
	case EV_BROKEN_ROOM:
		/* Finds the dead peer, marks the channel broken, fails. */
		s->ret = shmring_channel_open(w->sh, "x",
				w->sc.ev == EV_BROKEN_DATA ? SHMRING_PRODUCER :
				SHMRING_CONSUMER, 0, NULL, &joiner);
		break;
	}
	s->end = now_ns();
	atomic_store(&s->done, true);
	return NULL;
}

/* State letter of a thread of ours, from /proc. */
static char thread_state(pid_t tid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static bool parked(const struct stop *st)
{
	return atomic_load(&st->state) == 1;
}

/* The sleeper is in WAIT: past S3, not parked, and asleep in the kernel. */
static bool asleep(struct world *w)
{
	return atomic_load(&w->s.last) == SR_STEP_S3 && !parked(&stops[0]) &&
	       thread_state(atomic_load(&w->s.tid)) == 'S';
}

/* Waits until @what holds, or fails the scenario. */
#define WAIT_UNTIL(w, what) do {					\
	int64_t _end = now_ns() + REACH_NS;				\
	while (!(what)) {						\
		if (now_ns() > _end) {					\
			(w)->err = __LINE__;				\
			printf("# gave up waiting for %s\n", #what);	\
			goto out;					\
		}							\
		sched_yield();						\
	}								\
} while (0)

static void set_stop(struct stop *st, pid_t tid, int step)
{
	atomic_store(&st->state, 0);
	atomic_store(&st->step, step);
	atomic_store(&st->tid, step == NO_STOP ? 0 : tid);
}

static void release(struct stop *st)
{
	atomic_store(&st->state, 2);
}

static long expected(struct world *w)
{
	switch (w->sc.ev) {
	case EV_DATA:
	case EV_ROOM:
		return MSG;
	case EV_EOF:
		return 0;
	default:
		return -EPIPE;
	}
}

static void set_up(struct world *w)
{
	bool data = waits_for_data(w->sc.ev);
	int role = data ? SHMRING_CONSUMER : SHMRING_PRODUCER;
	int peer = data ? SHMRING_PRODUCER : SHMRING_CONSUMER;

	CHECK_OK(shmring_format(w->sh, SHMRING_FORMAT_FORCE));
	w->sleeper = open_role(w->sh, w->sc.kind, role);
	if (w->sc.ev == EV_BROKEN_DATA || w->sc.ev == EV_BROKEN_ROOM) {
		make_corpse(w, peer);
		w->other = NULL;
	} else {
		w->other = open_role(w->sh, w->sc.kind, peer);
	}
	if (!data)
		while (send_one(w->sleeper, w->sc.kind, 0) > 0)
			;
	w->sleeper->spin_ns = SR_SPIN_MIN_NS;
}

/* Runs one scenario; returns 0 or the line that failed. */
static int run(struct shmring *sh, const struct scenario *sc)
{
	struct world *w = calloc(1, sizeof(*w));
	int64_t released = now_ns();
	int err;

	CHECK(w);
	w->sh = sh;
	w->sc = *sc;
	set_up(w);
	cur = w;
	CHECK(!pthread_create(&w->s.thread, NULL, sleeper_main, w));
	CHECK(!pthread_create(&w->w.thread, NULL, waker_main, w));
	WAIT_UNTIL(w, atomic_load(&w->s.tid) && atomic_load(&w->w.tid));
	set_stop(&stops[0], w->s.tid, sc->sleeper_stop);
	set_stop(&stops[1], w->w.tid, sc->waker_stop);

	/* The sleeper runs to its stop, or into WAIT. */
	atomic_store(&w->s.go, true);
	WAIT_UNTIL(w, parked(&stops[0]) || asleep(w) || w->s.done);
	if (w->s.done) {
		w->err = __LINE__;
		printf("# the sleeper returned %ld before the event\n", w->s.ret);
		goto out;
	}
	/* The waker runs to its stop, or to the end. */
	atomic_store(&w->w.go, true);
	WAIT_UNTIL(w, parked(&stops[1]) || w->w.done);

	if (sc->waker_first) {
		release(&stops[1]);
		WAIT_UNTIL(w, w->w.done);
	}
	release(&stops[0]);
	/* Gone to sleep, stopped later on, or back with the result. */
	WAIT_UNTIL(w, asleep(w) || parked(&stops[0]) || w->s.done);
	release(&stops[1]);
	released = now_ns();
	WAIT_UNTIL(w, w->w.done);
	/* A lost wake-up returns only after a liveness slice. */
	while (!w->s.done) {
		if (parked(&stops[0]))
			release(&stops[0]);
		sched_yield();
	}
	if (w->s.ret != expected(w) || w->s.st.timeouts ||
	    w->s.end - released > LATE_NS)
		w->err = __LINE__;
	if (w->sc.ev >= EV_BROKEN_DATA ? w->w.ret != -EPIPE :
	    w->w.ret < 0)
		w->err = __LINE__;
out:
	release(&stops[0]);
	release(&stops[1]);
	atomic_store(&w->s.go, true);
	atomic_store(&w->w.go, true);
	pthread_join(w->s.thread, NULL);
	pthread_join(w->w.thread, NULL);
	cur = NULL;
	if (w->err)
		printf("# %s, sleeper stop %s, waker stop %s%s: sleeper returned "
		       "%ld (want %ld) after %.1f ms, %llu WAITs ran out; "
		       "waker returned %ld\n",
		       event_names[sc->ev],
		       sc->sleeper_stop < 0 ? "-" : step_names[sc->sleeper_stop],
		       sc->waker_stop < 0 ? "-" : step_names[sc->waker_stop],
		       sc->waker_first ? ", waker released first" : "",
		       w->s.ret, expected(w),
		       (double)(w->s.end - released) / 1e6,
		       (unsigned long long)w->s.st.timeouts, w->w.ret);
	if (w->sleeper)
		shmring_channel_close(w->sleeper);
	if (w->other)
		shmring_channel_close(w->other);
	err = w->err;
	free(w);
	return err;
}

/*
 * Every combination of stops for one kind and event: the sleeper at none or
 * one of its steps, the waker at none or one of its, and with both parked,
 * either released first.
 */
static int all_stops(uint32_t kind, enum event ev)
{
	static const int sleeper_steps[] = {
		NO_STOP, SR_STEP_CHECKED, SR_STEP_S1, SR_STEP_S2, SR_STEP_S3,
		SR_STEP_S4,
	};
	static const int waker_steps[] = {
		NO_STOP, SR_STEP_W1, SR_STEP_W2, SR_STEP_W3, SR_STEP_W4,
	};
	struct shmring *sh = buffer_new(BUF);
	unsigned int i, j, n = 0, bad = 0;
	int order;

	atomic_store(&sr_test_liveness_ns, SLICE_NS);
	atomic_store(&sr_test_hook, hook);
	for (i = 0; i < sizeof(sleeper_steps) / sizeof(*sleeper_steps); i++) {
		for (j = 0; j < sizeof(waker_steps) / sizeof(*waker_steps);
		     j++) {
			for (order = 0; order < 2; order++) {
				struct scenario sc = {
					.kind = kind, .ev = ev,
					.sleeper_stop = sleeper_steps[i],
					.waker_stop = waker_steps[j],
					.waker_first = order,
				};

				if (order && (sc.sleeper_stop == NO_STOP ||
					      sc.waker_stop == NO_STOP))
					continue;
				n++;
				if (run(sh, &sc))
					bad++;
			}
		}
	}
	printf("# %u interleavings, %u failed\n", n, bad);
	atomic_store(&sr_test_hook, NULL);
	shmring_close(sh);
	CHECK_EQ(bad, 0);
	return 0;
}

#define KIND_TESTS(tag, kind)						\
static int tag##_data(void) { return all_stops(kind, EV_DATA); }	\
static int tag##_room(void) { return all_stops(kind, EV_ROOM); }	\
static int tag##_eof(void) { return all_stops(kind, EV_EOF); }		\
static int tag##_hup(void) { return all_stops(kind, EV_HUP); }		\
static int tag##_broken_data(void)					\
{ return all_stops(kind, EV_BROKEN_DATA); }				\
static int tag##_broken_room(void)					\
{ return all_stops(kind, EV_BROKEN_ROOM); }

KIND_TESTS(msg, SHMRING_MSG)
KIND_TESTS(stream, SHMRING_STREAM)
KIND_TESTS(mpmc, SHMRING_MPMC)

/* ---- MPMC: a wake-up for another slot between the sleeper's steps ---- */

struct other_slot {
	struct shmring_channel *ch;
	bool data;
};

static void *other_slot_sleeper(void *arg)
{
	struct world *w = arg;
	struct other_slot *o = w->os;
	struct side *s = &w->s;
	char buf[64];

	atomic_store(&s->tid, self_tid());
	while (!atomic_load(&s->go))
		sched_yield();
	if (o->data)
		s->ret = shmring_msg_recv(o->ch, buf, sizeof(buf), -1);
	else
		s->ret = shmring_msg_send(o->ch, "message", MSG, -1);
	s->end = now_ns();
	shmring_channel_stats(o->ch, &s->st);
	atomic_store(&s->done, true);
	return NULL;
}

/*
 * Consumers (@data) or producers wait for slot 0 while the slot after it
 * completes first: producers P1 and P2 claim slots 0 and 1, the consumer
 * stops at @step, P2 commits slot 1 and rings, the consumer goes on and
 * sleeps, and P1 commits slot 0, which must wake it. Or the other way round:
 * two consumers hold slots 0 and 1 of a full ring, a producer waits for
 * slot 0, and slot 1 is released first.
 */
static int other_slot_case(struct shmring *sh, bool data, int step)
{
	struct other_slot o = { .data = data };
	struct shmring_channel *a, *b, *f;
	struct world *w = calloc(1, sizeof(*w));
	const void *pa, *pb;
	int64_t released = now_ns();
	void *d;
	int err;

	CHECK(w);
	CHECK_OK(shmring_format(sh, SHMRING_FORMAT_FORCE));
	o.ch = chan(sh, "o", data ? SHMRING_CONSUMER : SHMRING_PRODUCER,
		    SHMRING_MPMC, 2, MSG);
	a = chan(sh, "o", data ? SHMRING_PRODUCER : SHMRING_CONSUMER,
		 SHMRING_MPMC, 2, MSG);
	b = chan(sh, "o", data ? SHMRING_PRODUCER : SHMRING_CONSUMER,
		 SHMRING_MPMC, 2, MSG);
	if (data) {
		CHECK_OK(shmring_msg_reserve(a, MSG, &d, 0));	/* slot 0 */
		memset(d, 'a', MSG);
		CHECK_OK(shmring_msg_reserve(b, MSG, &d, 0));	/* slot 1 */
		memset(d, 'b', MSG);
	} else {
		f = chan(sh, "o", SHMRING_PRODUCER, SHMRING_MPMC, 2, MSG);
		CHECK_EQ(shmring_msg_send(f, "message", MSG, 0), MSG);
		CHECK_EQ(shmring_msg_send(f, "message", MSG, 0), MSG);
		CHECK_OK(shmring_channel_close(f));
		CHECK_EQ(shmring_msg_peek(a, &pa, 0), MSG);	/* slot 0 */
		CHECK_EQ(shmring_msg_peek(b, &pb, 0), MSG);	/* slot 1 */
	}
	o.ch->spin_ns = SR_SPIN_MIN_NS;
	w->os = &o;
	cur = w;
	CHECK(!pthread_create(&w->s.thread, NULL, other_slot_sleeper, w));
	WAIT_UNTIL(w, atomic_load(&w->s.tid));
	set_stop(&stops[1], 0, NO_STOP);
	set_stop(&stops[0], w->s.tid, step);
	atomic_store(&w->s.go, true);
	WAIT_UNTIL(w, parked(&stops[0]) || w->s.done);
	/* The other slot completes and rings. */
	if (data)
		CHECK_OK(shmring_msg_commit(b, MSG, 0));
	else
		CHECK_OK(shmring_msg_release(b));
	release(&stops[0]);
	WAIT_UNTIL(w, asleep(w) || w->s.done);
	/* Then the slot the sleeper waits for. */
	released = now_ns();
	if (data)
		CHECK_OK(shmring_msg_commit(a, MSG, 0));
	else
		CHECK_OK(shmring_msg_release(a));
	while (!atomic_load(&w->s.done))
		sched_yield();
	if (w->s.ret != MSG || w->s.st.timeouts ||
	    w->s.end - released > LATE_NS)
		w->err = __LINE__;
out:
	release(&stops[0]);
	atomic_store(&w->s.go, true);
	pthread_join(w->s.thread, NULL);
	cur = NULL;
	if (w->err)
		printf("# %s, sleeper stop %s: it returned %ld after %.1f ms, "
		       "%llu WAITs ran out\n", data ? "data" : "room",
		       step_names[step], w->s.ret,
		       (double)(w->s.end - released) / 1e6,
		       (unsigned long long)w->s.st.timeouts);
	shmring_channel_close(o.ch);
	shmring_channel_close(a);
	shmring_channel_close(b);
	err = w->err;
	free(w);
	return err;
}

static int other_slot(bool data)
{
	static const int steps[] = {
		SR_STEP_CHECKED, SR_STEP_S1, SR_STEP_S2, SR_STEP_S3,
	};
	struct shmring *sh = buffer_new(BUF);
	unsigned int i, bad = 0;

	atomic_store(&sr_test_liveness_ns, SLICE_NS);
	atomic_store(&sr_test_hook, hook);
	for (i = 0; i < sizeof(steps) / sizeof(*steps); i++)
		if (other_slot_case(sh, data, steps[i]))
			bad++;
	atomic_store(&sr_test_hook, NULL);
	shmring_close(sh);
	CHECK_EQ(bad, 0);
	return 0;
}

static int mpmc_other_slot_data(void) { return other_slot(true); }
static int mpmc_other_slot_room(void) { return other_slot(false); }

TAP_TESTS(
	{ "msg_data", msg_data, 120 },
	{ "msg_room", msg_room, 120 },
	{ "msg_eof", msg_eof, 120 },
	{ "msg_hup", msg_hup, 120 },
	{ "msg_broken_data", msg_broken_data, 120 },
	{ "msg_broken_room", msg_broken_room, 120 },
	{ "stream_data", stream_data, 120 },
	{ "stream_room", stream_room, 120 },
	{ "stream_eof", stream_eof, 120 },
	{ "stream_hup", stream_hup, 120 },
	{ "stream_broken_data", stream_broken_data, 120 },
	{ "stream_broken_room", stream_broken_room, 120 },
	{ "mpmc_data", mpmc_data, 120 },
	{ "mpmc_room", mpmc_room, 120 },
	{ "mpmc_eof", mpmc_eof, 120 },
	{ "mpmc_hup", mpmc_hup, 120 },
	{ "mpmc_broken_data", mpmc_broken_data, 120 },
	{ "mpmc_broken_room", mpmc_broken_room, 120 },
	{ "mpmc_other_slot_data", mpmc_other_slot_data, 60 },
	{ "mpmc_other_slot_room", mpmc_other_slot_room, 60 },
)
