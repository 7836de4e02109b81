// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Blocking: spin a bounded time, then announce, re-check, and WAIT; the other
 * side WAKEs only when someone announced.
 *
 * Each direction has one 32-bit bell in shared memory: consumers wait for
 * data on cons_bell, producers for room on prod_bell. A bell is an
 * eventcount, an epoch and an "armed" bit in one word:
 *	bell = epoch << 1 | armed
 * The index a sleeper watches (SPSC tail or head, or an MPMC slot's sequence)
 * and the channel flags are the condition; the bell is only what the kernel
 * sleeps on, so that any change can wake sleepers. A waker that finds the bell
 * armed moves it to the next epoch, unarmed, and wakes every sleeper, so one
 * WAKE serves a whole sleep however many messages follow; a sleeper arms the
 * bell anew each time. Clearing the armed bit always moves the epoch in the
 * same atomic step, so it can never be cleared under a sleeper that then
 * sleeps: that sleeper waits for the old word, which is gone.
 *
 * Why no wake-up is lost. The sleeper, having checked the index and the
 * flags as f (the caller's check; it passes f in), does
 *	S1 k = fetch_or(bell, 1) | 1	seq_cst
 *	S2 membarrier			SPSC only (barrier.c)
 *	S3 load(watch), load(flags)	seq_cst; still as seen and f? then
 *	S4 WAIT(bell, k)
 * and the waker does
 *	W1 store(watch) or set a flag	seq_cst (but see S2)
 *	W2 b = load(bell)		seq_cst; armed? then
 *	W3 CAS(bell, b, b + 1)		the next epoch, unarmed
 *	W4 WAKE(bell, all)
 * S1, S3, W1, W2 and W3 are seq_cst, so they sit in one total order that
 * agrees with program order (this is the store-buffering case, which only
 * seq_cst rules out). If W2 comes before S1, then W1 comes before S3, so S3
 * sees the change and the sleeper does not sleep. Otherwise W2 reads the bell
 * at or after S1: either still armed with k's epoch, and the waker's W3
 * moves it on (or fails because another waker did: then that one moved it
 * after S1 and wakes); or already in a later epoch, moved by some other
 * waker after S1. Either way the bell holds a value other than k from some
 * point after S1 on, and a WAKE follows that move. The kernel compares the
 * bell with k under its wait-queue lock, atomically with WAKE: WAIT either
 * returns EAGAIN at once or is queued before the WAKE and woken by it. A
 * sleeper that is woken, or finds the bell moved, checks again and, if it
 * still has to wait, arms again; so a WAKE meant for another slot (MPMC)
 * costs it one more round, never its wake-up. The epoch has 31 bits: it
 * would take 2^31 rings within one sleep (at most SHMRING_LIVENESS_NS) to
 * come back to k.
 *
 * user/model/bell.pml checks this for every interleaving of up to three
 * sleepers and wakers with spin(1), and finds the wake-up that the
 * protocol before it lost (a waiter flag the waker cleared, separate from
 * the bell word). The tests stop each side at each step (SR_HOOK()).
 *
 * The caller's f, not a second look at the flags here, is what S3 compares
 * with: a flag set between the caller's check and S1 must count as a change.
 *
 * An SPSC waker in a process registered for membarrier does W1 as a plain
 * store instead, which needs no ownership of the line before the waker goes
 * on. S2 then stands in for its fence: the kernel runs a full barrier on
 * the waker's CPU (or the waker was switched out, which is one) at a point
 * between S1 and S3. A W2 before that point follows W1 in program order,
 * so W1 is visible by S3; a W2 after it sees S1 (or a later epoch). A
 * sleeper that cannot order itself so (membarrier missing, refused, or opted
 * out of) sleeps in short slices while any peer on the channel publishes
 * with plain stores (each participant records which it does, barrier.c).
 * Flag changes are seq_cst read-modify-writes, W1 of a flag notify.
 *
 * On SPSC rings, whose sides have one sleeper each, a sleeper that did not
 * sleep or timed out disarms its bell (moving it from k back to k - 1, the
 * same epoch), or the peer's next publish would WAKE nobody. On MPMC another
 * sleeper may have armed the same k, and disarming under it would leave it
 * asleep with nobody to ring: there the bit stays, which costs at most one
 * spurious WAKE.
 *
 * Sleeps last at most SHMRING_LIVENESS_NS; after each such slice the
 * sleeper checks that every participant lives (sr_channel_reap()), so a dead
 * peer turns into EPIPE instead of a sleep without end.
 */
#include "internal.h"

#ifdef SR_TEST_HOOKS
void (*_Atomic sr_test_hook)(const struct shmring_channel *ch,
			     enum sr_step step);
_Atomic int64_t sr_test_liveness_ns = SHMRING_LIVENESS_NS;
#endif

/*
 * How long to spin before sleeping, adapted per handle like an adaptive
 * mutex. It starts at about what a WAIT and WAKE pair costs natively, so a
 * peer that keeps up is never slept on. A sleep that the peer ends within
 * twice the budget, or within SR_SPIN_REACH_NS, means the budget was just
 * short of a hiccup (the peer descheduled for a moment, a virtual CPU
 * stalled): double it. By the first bound alone, the budget could only grow
 * towards pauses under three budgets, less the wake-up, which the sleep's
 * length includes: from 30 us, a peer pausing 100 us before each message
 * was slept on for most of them, and the budget grew only when jitter made
 * a sleep short. A sleep over eight times the budget, or a whole slice,
 * halves it when the peer is really idle, that is when fewer than
 * SR_SPIN_BUSY_MSGS messages came since the last sleep; after a busy
 * stretch it was one long hiccup, which no budget would have spun through,
 * and the budget stays for the stream that follows. The cap keeps a spinner
 * from holding a CPU long against a peer that needs it. Spins are timed,
 * since a pause instruction takes 10 to 150 cycles depending on the CPU.
 * Bounds in internal.h.
 */
static void adapt_spin(struct shmring_channel *ch, int64_t slept, int ret)
{
	bool busy = ch->stats.messages - ch->spin_mark >= SR_SPIN_BUSY_MSGS;
	int64_t spin = ch->spin_ns;

	if (ret && ret != -EAGAIN && ret != -ETIMEDOUT)
		return;
	ch->spin_mark = ch->stats.messages;
	if (ret != -ETIMEDOUT &&
	    (slept < 2 * spin || slept < SR_SPIN_REACH_NS))
		spin = spin * 2 < SR_SPIN_MAX_NS ? spin * 2 : SR_SPIN_MAX_NS;
	else if ((ret == -ETIMEDOUT || slept > 8 * spin) && !busy)
		spin = spin / 2 > SR_SPIN_MIN_NS ? spin / 2 : SR_SPIN_MIN_NS;
	ch->spin_ns = spin;
}

static _Atomic uint32_t *bell_of(struct sr_ring *r, enum sr_side side)
{
	return side == SR_WAIT_DATA ? &r->wq.cons_bell : &r->wq.prod_bell;
}

static bool changed(struct sr_ring *r, const _Atomic uint32_t *watch,
		    uint32_t seen, uint32_t flags, memory_order mo)
{
	return atomic_load_explicit(watch, mo) != seen ||
	       atomic_load_explicit(&r->ctl.flags, mo) != flags;
}

/*
 * Spins until *@watch moves from @seen or the flags from @flags, for the
 * spin budget or until the deadline, whichever ends first. Returns 0 on a
 * change, 1 when the budget ran out, -ETIMEDOUT at the deadline.
 */
static int spin(struct shmring_channel *ch, const _Atomic uint32_t *watch,
		uint32_t seen, uint32_t flags, struct sr_deadline *dl)
{
	int64_t start = sr_deadline_start(dl), now;
	uint32_t i;

	for (i = 1;; i++) {
		if (changed(ch->r, watch, seen, flags, memory_order_acquire))
			return 0;
		sr_cpu_relax();
		if (i & 31)
			continue;
		now = sr_now_ns();
		if (now >= dl->end)
			return -ETIMEDOUT;
		if (now - start > ch->spin_ns)
			return 1;
	}
}

/*
 * After S1 armed the bell as @k, a sleeper that did not sleep (or timed
 * out) takes its armed bit back unless a waker moved the bell on. Only
 * SPSC: an MPMC bell has sleepers for other slots, whose bit this is too.
 */
static void disarm(const struct shmring_channel *ch, _Atomic uint32_t *bell,
		   uint32_t k)
{
	if (ch->kind != SHMRING_MPMC)
		atomic_compare_exchange_strong_explicit(bell, &k, k & ~1U,
							memory_order_relaxed,
							memory_order_relaxed);
}

/*
 * Waits until *@watch moves from @seen, the channel flags from @flags (what
 * the caller checked), or a slice passes. Returns 0 for "check again",
 * -EAGAIN for a non-blocking call, or -ETIMEDOUT once the deadline has passed.
 */
int sr_block(struct shmring_channel *ch, enum sr_side side,
	     const _Atomic uint32_t *watch, uint32_t seen, uint32_t flags,
	     struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	_Atomic uint32_t *bell = bell_of(r, side);
	int64_t left, slept, now;
	bool spsc = ch->kind != SHMRING_MPMC, slice;
	uint32_t k;
	int ret;

	if (dl->nonblock) {
		ch->pending = (struct sr_pending){
			.watch = watch, .seen = seen, .flags = flags,
			.messages = ch->stats.messages,
			.bytes = ch->stats.bytes,
		};
		return -EAGAIN;
	}
	if (!ch->spin_ns)
		ch->spin_ns = SR_SPIN_MIN_NS;
	ret = spin(ch, watch, seen, flags, dl);
	if (ret <= 0)
		return ret;
	left = sr_deadline_left(dl);
	if (!left)
		return -ETIMEDOUT;
	/* A whole slice, or the rest of the caller's time. */
	slice = left >= SR_LIVENESS_NS;
	if (slice)
		left = SR_LIVENESS_NS;

	k = atomic_fetch_or_explicit(bell, 1, memory_order_seq_cst) | 1; /* S1 */
	SR_HOOK(ch, SR_STEP_S1);
	if (spsc && !sr_barrier(ch) && sr_plain_peers(ch) &&		/* S2 */
	    left > SR_BARRIER_SLICE_NS) {
		left = SR_BARRIER_SLICE_NS;
		slice = false;
	}
	SR_HOOK(ch, SR_STEP_S2);
	ret = 1;	/* not slept */
	if (!changed(r, watch, seen, flags, memory_order_seq_cst)) {	/* S3 */
		SR_HOOK(ch, SR_STEP_S3);
		slept = sr_now_ns();
		ret = sr_wait_word(ch->sh, bell, k, left);		/* S4 */
		SR_HOOK(ch, SR_STEP_S4);
		ch->stats.waits++;
		adapt_spin(ch, sr_now_ns() - slept, ret);
	}
	/* Woken, the bell is past k; otherwise the armed bit may be ours. */
	if (ret)
		disarm(ch, bell, k);
	if (ret != -ETIMEDOUT)
		return 0;
	if (slice)
		ch->stats.timeouts++;
	if (!sr_deadline_left(dl))
		return -ETIMEDOUT;
	/* Sets BROKEN if someone died; the caller reports it. */
	now = sr_now_ns();
	if (now >= dl->reap_at) {
		dl->reap_at = now + SR_LIVENESS_NS;
		sr_channel_reap(ch);
	}
	return 0;
}

/* The bell this handle's side sleeps on: what its watch fd watches. */
_Atomic uint32_t *sr_bell(struct shmring_channel *ch)
{
	return bell_of(ch->r, ch->role == SHMRING_CONSUMER ? SR_WAIT_DATA :
						      SR_WAIT_ROOM);
}

/*
 * S1 to S3 for a sleeper whose S4 is a poll of the watch fd (events.c),
 * which the kernel makes readable on every WAKE of the bell: the argument
 * above holds with "WAIT(bell, k)" read as "poll until the bell is rung
 * after S1" (the caller drained the fd before S1). The condition is what
 * the handle's last non-blocking call found and returned EAGAIN on, if
 * nothing was consumed or produced since (the counters tell), and it is
 * used once: a second arm without a new EAGAIN in between, or one after
 * progress, returns 1 ("call again") rather than compare with an old
 * index that may have come round again. Returns 1 when the condition
 * moved, 0 when armed, -EOPNOTSUPP when a poll without liveness slices
 * could miss something: a peer whose end the kernel would not tell (it
 * registered no release actions), or a peer that publishes with plain
 * stores while this process cannot order itself against it (no
 * membarrier here). A peer that joins later rings both bells.
 */
int sr_arm(struct shmring_channel *ch)
{
	struct sr_pending p = ch->pending;
	_Atomic uint32_t *bell = sr_bell(ch);
	bool spsc = ch->kind != SHMRING_MPMC;
	uint32_t k;
	int ret = 0;

	ch->pending.watch = NULL;
	if (!p.watch || p.messages != ch->stats.messages ||
	    p.bytes != ch->stats.bytes)
		return 1;
	/* A peer whose end only a liveness slice would find. */
	if (!sr_peers_told(ch))
		return -EOPNOTSUPP;
	k = atomic_fetch_or_explicit(bell, 1, memory_order_seq_cst) | 1; /* S1 */
	SR_HOOK(ch, SR_STEP_S1);
	if (spsc && !sr_barrier(ch) && sr_plain_peers(ch))		/* S2 */
		ret = -EOPNOTSUPP;
	SR_HOOK(ch, SR_STEP_S2);
	if (!ret && changed(ch->r, p.watch, p.seen, p.flags,		/* S3 */
			    memory_order_seq_cst))
		ret = 1;
	if (!ret) {
		SR_HOOK(ch, SR_STEP_S3);
		return 0;
	}
	disarm(ch, bell, k);
	return ret;
}

/* W3 and W4, out of the publish path: move the armed bell on, and wake. */
static void __attribute__((noinline))
ring(struct shmring_channel *ch, _Atomic uint32_t *bell, uint32_t b)
{
	SR_HOOK(ch, SR_STEP_W2);
	do {								/* W3 */
		if (atomic_compare_exchange_weak_explicit(bell, &b, b + 1,
							  memory_order_seq_cst,
							  memory_order_seq_cst)) {
			SR_HOOK(ch, SR_STEP_W3);
			sr_wake_word(ch->sh, bell, UINT32_MAX);		/* W4 */
			ch->stats.wakes++;
			SR_HOOK(ch, SR_STEP_W4);
			return;
		}
	} while (b & 1);	/* else another waker moved it after our W1 */
}

/* After publishing (W1): ring the side that waits for it, if it armed. */
void sr_notify(struct shmring_channel *ch, enum sr_side side)
{
	_Atomic uint32_t *bell = bell_of(ch->r, side);
	uint32_t b;

	SR_HOOK(ch, SR_STEP_W1);
	b = atomic_load_explicit(bell, memory_order_seq_cst);		/* W2 */
	if (b & 1)
		ring(ch, bell, b);
}

/* After a flag change (W1, a seq_cst read-modify-write): ring both sides. */
void sr_notify_all(struct shmring_channel *ch)
{
	sr_notify(ch, SR_WAIT_DATA);
	sr_notify(ch, SR_WAIT_ROOM);
}
