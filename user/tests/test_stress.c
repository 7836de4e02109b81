// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: SHMRING_STRESS_MSGS messages (default STRESS_MSGS: 10 million on
 * the host, fewer in the kselftest build, for a TCG guest) of random sizes
 * with checksummed contents, across two threads and across two processes,
 * for SPSC messages, the SPSC byte stream, and MPMC with 2 producers and
 * 2 consumers; SHMRING_STRESS_OTHER_MSGS, when set, is the count of the
 * stream and MPMC runs. Every side uses both the copying and the zero-copy calls, in
 * batches. Prints messages/s and WAIT+WAKE calls per message.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "util.h"

#ifndef STRESS_MSGS
#define STRESS_MSGS	10000000
#endif
#define BUF		(4 * MiB)
#define RING		65536
#define SLOTS		1024
#define SLOT_SIZE	128
#define STREAM_CHUNK	256

struct msg_hdr {
	uint64_t seq;		/* producer id in the top byte */
	uint32_t len;		/* whole message */
	uint32_t csum;		/* of the payload after this header */
};

struct side {
	struct shmring *sh;
	struct barrier *start;
	const char *name;
	uint32_t kind;
	int role;
	int id;
	uint64_t count;		/* producer: messages to send */
	/* results */
	uint64_t msgs;
	uint64_t bytes;
	uint64_t seq_sum;
	uint64_t syscalls;
	int err;		/* first error, or a mismatch as -EILSEQ */
	int line;
};

#define FAIL(s, e) do { (s)->err = (e); (s)->line = __LINE__; goto out; } while (0)

static struct shmring_channel *side_open(struct side *s)
{
	struct shmring_channel_attr a = { .kind = s->kind, .capacity = RING };
	struct shmring_channel *ch;

	if (s->kind == SHMRING_MPMC) {
		a.capacity = SLOTS;
		a.slot_size = SLOT_SIZE;
	}
	s->err = shmring_channel_open(s->sh, s->name, s->role, SHMRING_CREATE,
				      &a, &ch);
	barrier_wait(s->start);
	return s->err ? NULL : ch;
}

static void side_close(struct side *s, struct shmring_channel *ch)
{
	struct shmring_stats st;

	shmring_channel_stats(ch, &st);
	s->syscalls = st.waits + st.wakes + st.barriers;
	if (shmring_channel_close(ch) && !s->err)
		s->err = -errno;
}

static size_t msg_len(uint64_t seq, size_t max)
{
	uint64_t r = mix64(seq);

	/* Mostly small, now and then large: both wrap often. */
	if (!(r & 63))
		return sizeof(struct msg_hdr) + (r >> 8) % (max - sizeof(struct msg_hdr) + 1);
	return sizeof(struct msg_hdr) + (r >> 8) % 113;
}

static void msg_fill(void *p, uint64_t seq, size_t len)
{
	struct msg_hdr h = { .seq = seq, .len = (uint32_t)len };
	unsigned char *payload = (unsigned char *)p + sizeof(h);
	size_t n = len - sizeof(h);

	memcpy(payload, pattern(mix64(seq)), n);
	h.csum = checksum(payload, n);
	memcpy(p, &h, sizeof(h));
}

/* Checks one message; returns its seq, or UINT64_MAX when it is wrong. */
static uint64_t msg_check(const void *p, size_t len)
{
	struct msg_hdr h;

	if (len < sizeof(h))
		return UINT64_MAX;
	memcpy(&h, p, sizeof(h));
	if (h.len != len ||
	    h.csum != checksum((const unsigned char *)p + sizeof(h),
			       len - sizeof(h)))
		return UINT64_MAX;
	return h.seq;
}

static int msg_producer(void *arg)
{
	struct side *s = arg;
	struct shmring_channel *ch = side_open(s);
	uint64_t i, seq, base = (uint64_t)s->id << 56;
	size_t max, len;
	void *d;
	int ret;

	if (!ch)
		return 1;
	max = shmring_channel_max_msg(ch);
	if (max > 2048)
		max = 2048;
	for (i = 0; i < s->count; i++) {
		seq = base | i;
		len = msg_len(seq, max);
		if (i % 4 == 0) {
			unsigned char buf[2048];

			msg_fill(buf, seq, len);
			ret = (int)shmring_msg_send(ch, buf, len, -1);
			if (ret != (int)len)
				FAIL(s, ret);
			s->bytes += len;
			continue;
		}
		ret = shmring_msg_reserve(ch, len, &d, -1);
		if (ret)
			FAIL(s, ret);
		msg_fill(d, seq, len);
		/* Batches of up to four, published at once. */
		ret = shmring_msg_commit(ch, len, i % 4 == 3 ? 0 : SHMRING_MORE);
		if (ret)
			FAIL(s, ret);
		s->bytes += len;
	}
out:
	s->msgs = i;
	side_close(s, ch);
	return s->err != 0;
}

static int msg_consumer(void *arg)
{
	struct side *s = arg;
	struct shmring_channel *ch = side_open(s);
	uint64_t last[256] = { 0 }, seq, lo;
	unsigned char buf[SLOT_SIZE > 2048 ? SLOT_SIZE : 2048];
	const void *p;
	ssize_t n;
	int round = 0, k;

	if (!ch)
		return 1;
	for (;; round++) {
		if (round & 1) {
			n = shmring_msg_recv(ch, buf, sizeof(buf), -1);
			p = buf;
		} else {
			n = shmring_msg_peek(ch, &p, -1);
		}
		for (k = 0; n > 0; k++) {
			seq = msg_check(p, (size_t)n);
			if (seq == UINT64_MAX)
				FAIL(s, -EILSEQ);
			/* FIFO per producer, as each consumer sees it. */
			lo = seq & ((1ULL << 56) - 1);
			if (s->kind == SHMRING_MPMC ? lo < last[seq >> 56] :
			    lo != last[seq >> 56])
				FAIL(s, -EILSEQ);
			last[seq >> 56] = lo + 1;
			s->msgs++;
			s->bytes += (uint64_t)n;
			s->seq_sum += lo;
			/* A batch of up to 16 peeks per release (SPSC). */
			if (round & 1 || s->kind == SHMRING_MPMC || k == 15)
				break;
			n = shmring_msg_peek(ch, &p, 0);
		}
		if (!(round & 1))
			shmring_msg_release(ch);
		if (n == 0)
			break;
		if (n < 0 && n != -EAGAIN)
			FAIL(s, (int)n);
	}
out:
	side_close(s, ch);
	return s->err != 0;
}

static int stream_producer(void *arg)
{
	struct side *s = arg;
	struct shmring_channel *ch = side_open(s);
	uint64_t i, wr = 0;
	size_t len;
	ssize_t n;
	void *d;

	if (!ch)
		return 1;
	for (i = 0; i < s->count; i++) {
		len = 1 + mix64(i) % STREAM_CHUNK;
		if (i & 1) {
			n = shmring_stream_write(ch, pattern(wr), len, -1);
			if (n != (ssize_t)len)
				FAIL(s, (int)n);
		} else {
			n = shmring_stream_reserve(ch, &d, -1);
			if (n <= 0)
				FAIL(s, (int)n);
			if ((size_t)n > len)
				n = (ssize_t)len;
			memcpy(d, pattern(wr), (size_t)n);
			if (shmring_stream_commit(ch, (size_t)n,
						  i % 8 ? SHMRING_MORE : 0))
				FAIL(s, -errno);
		}
		wr += (uint64_t)n;
	}
out:
	s->msgs = i;
	s->bytes = wr;
	side_close(s, ch);
	return s->err != 0;
}

static int stream_consumer(void *arg)
{
	struct side *s = arg;
	struct shmring_channel *ch = side_open(s);
	unsigned char buf[STREAM_CHUNK];
	uint64_t i, rd = 0;
	const void *p;
	size_t len;
	ssize_t n;

	if (!ch)
		return 1;
	for (i = 0;; i++) {
		len = 1 + mix64(i ^ 0x5555) % STREAM_CHUNK;
		if (i & 1) {
			n = shmring_stream_read(ch, buf, len, -1);
			p = buf;
		} else {
			n = shmring_stream_peek(ch, &p, -1);
			if (n > (ssize_t)len)
				n = (ssize_t)len;
		}
		if (n == 0)
			break;
		if (n < 0)
			FAIL(s, (int)n);
		if (memcmp(p, pattern(rd), (size_t)n))
			FAIL(s, -EILSEQ);
		if (!(i & 1) && shmring_stream_release(ch, (size_t)n))
			FAIL(s, -errno);
		rd += (uint64_t)n;
		s->msgs++;
	}
out:
	s->bytes = rd;
	side_close(s, ch);
	return s->err != 0;
}

static void *thread_main(void *arg)
{
	struct side *s = arg;

	if (s->kind == SHMRING_STREAM)
		s->role == SHMRING_PRODUCER ? stream_producer(s) :
					      stream_consumer(s);
	else
		s->role == SHMRING_PRODUCER ? msg_producer(s) : msg_consumer(s);
	return NULL;
}

static int side_main(void *arg)
{
	thread_main(arg);
	return 0;
}

/* nprod producers and as many consumers, as threads or as processes. */
static int run(uint32_t kind, int nprod, bool procs)
{
	uint64_t total = env_u64("SHMRING_STRESS_MSGS", STRESS_MSGS);
	struct shmring *sh = buffer_new(BUF);
	int i, n = 2 * nprod;
	struct side *sides = shared_alloc(sizeof(*sides) * (size_t)n);
	struct barrier *start = shared_alloc(sizeof(*start));
	uint64_t msgs = 0, bytes = 0, sum = 0, want = 0, sys = 0;
	pthread_t threads[8];
	pid_t pids[8];
	int64_t t0;
	double secs;

	if (kind != SHMRING_MSG)
		total = env_u64("SHMRING_STRESS_OTHER_MSGS", total);
	pattern(0);
	start->n = (uint32_t)n;
	for (i = 0; i < n; i++) {
		sides[i] = (struct side){
			.sh = sh, .start = start, .name = "stress", .kind = kind,
			.role = i < nprod ? SHMRING_PRODUCER : SHMRING_CONSUMER,
			.id = i, .count = total / (uint64_t)nprod,
		};
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (procs)
			pids[i] = spawn(side_main, &sides[i]);
		else
			CHECK(!pthread_create(&threads[i], NULL, thread_main,
					      &sides[i]));
	}
	for (i = 0; i < n; i++) {
		if (procs)
			CHECK_EQ(reap(pids[i]), 0);
		else
			pthread_join(threads[i], NULL);
	}
	secs = (double)(now_ns() - t0) / 1e9;
	for (i = 0; i < n; i++) {
		if (sides[i].err)
			printf("# side %d: error %d at line %d\n", i,
			       sides[i].err, sides[i].line);
		CHECK_EQ(sides[i].err, 0);
		sys += sides[i].syscalls;
		if (i < nprod) {
			want += sides[i].count * (sides[i].count - 1) / 2;
			bytes += sides[i].bytes;
			continue;
		}
		msgs += sides[i].msgs;
		sum += sides[i].seq_sum;
	}
	if (kind == SHMRING_STREAM) {
		CHECK_EQ(sides[1].bytes, sides[0].bytes);
		msgs = sides[0].msgs;
		bytes = sides[0].bytes;
	} else {
		CHECK_EQ(msgs, total / (uint64_t)nprod * (uint64_t)nprod);
		CHECK_EQ(sum, want);
	}
	printf("# %llu %s in %.2f s: %.2f M/s, %.1f MiB/s, "
	       "%.4f WAIT+WAKE per message\n", (unsigned long long)msgs,
	       kind == SHMRING_STREAM ? "writes" : "messages", secs,
	       (double)msgs / secs / 1e6, (double)bytes / secs / MiB,
	       (double)sys / (double)msgs);
	shmring_close(sh);
	return 0;
}

static int msg_threads(void) { return run(SHMRING_MSG, 1, false); }
static int msg_procs(void) { return run(SHMRING_MSG, 1, true); }
static int stream_threads(void) { return run(SHMRING_STREAM, 1, false); }
static int stream_procs(void) { return run(SHMRING_STREAM, 1, true); }
static int mpmc_threads(void) { return run(SHMRING_MPMC, 2, false); }
static int mpmc_procs(void) { return run(SHMRING_MPMC, 2, true); }

TAP_TESTS(
	{ "spsc_msg_threads", msg_threads, 900 },
	{ "spsc_msg_procs", msg_procs, 900 },
	{ "spsc_stream_threads", stream_threads, 900 },
	{ "spsc_stream_procs", stream_procs, 900 },
	{ "mpmc_2x2_threads", mpmc_threads, 900 },
	{ "mpmc_2x2_procs", mpmc_procs, 900 },
)
