// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Blocking: spin a bounded time, then announce, re-check, and WAIT; the other
 * side WAKEs only when someone announced.
 *
 * Each direction has a waiter flag and a doorbell word in shared memory:
 * consumers wait for data on cons_bell, producers for room on prod_bell. The
 * index a sleeper watches (SPSC tail or head, or an MPMC slot's sequence) is
 * the condition; the doorbell is only what the kernel sleeps on, so that
 * flag changes (EOF, HUP, BROKEN) can wake sleepers too. A waker clears the
 * flag it acts on and wakes every sleeper, so one WAKE serves a whole sleep
 * however many messages follow; a sleeper sets the flag again each time.
 *
 * Why no wake-up is lost. The sleeper does
 *	S1 store(waiter, 1)		seq_cst
 *	S1' membarrier			SPSC only (barrier.c)
 *	S2 b = load(bell)		seq_cst
 *	S3 load(watch), load(flags)	seq_cst; still as seen? then
 *	S4 WAIT(bell, b)
 * and the waker does
 *	W1 store(watch)			seq_cst (publish the index or seq)
 *	W2 load(waiter)			seq_cst; set? then
 *	W3 exchange(waiter, 0), fetch_add(bell)
 *	W4 WAKE(bell, all)
 * All of S1-S3 and W1-W3 are seq_cst, so they sit in one total order that
 * agrees with program order (this is the store-buffering case, which only
 * seq_cst rules out; release/acquire alone would let both sides read stale
 * values). If W2 comes before S1, then W1 comes before S3, so S3 sees the
 * new index and the sleeper does not sleep. Otherwise W2 sees the flag (ours,
 * or an older sleeper's still set) and the waker rings: if the bell increment
 * comes before S2, S3 again sees the new index (W1 precedes it); if after,
 * the bell differs from b, and the kernel re-checks the bell against b under
 * its wait-queue lock, atomically with respect to WAKE: WAIT either returns
 * EAGAIN at once or is queued before W4 and woken by it.
 *
 * An SPSC waker in a process registered for membarrier does W1 as a plain
 * store instead, which needs no ownership of the line before the waker goes
 * on. S1' then stands in for its fence: the kernel runs a full barrier on
 * the waker's CPU (or the waker was switched out, which is one) at a point
 * between S1 and S2. A W2 before that point follows W1 in program order,
 * so W1 is visible by S3; a W2 after it sees S1. Flag changes ring
 * both bells unconditionally (sr_notify_all()), with the flag store taking
 * W1's place. On SPSC rings, whose sides have one sleeper each, a sleeper
 * that did not sleep or timed out clears its flag (see sr_block()); on MPMC
 * it stays set, which costs at most one spurious WAKE.
 *
 * Sleeps last at most SHMRING_LIVENESS_NS; after a slice that timed out the
 * sleeper checks that every participant lives (sr_channel_reap()), so a dead
 * peer turns into EPIPE instead of a sleep without end.
 */
#include "internal.h"

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

static _Atomic uint32_t *waiter_of(struct sr_ring *r, enum sr_side side)
{
	return side == SR_WAIT_DATA ? &r->wq.cons_waiter : &r->wq.prod_waiter;
}

static _Atomic uint32_t *bell_of(struct sr_ring *r, enum sr_side side)
{
	return side == SR_WAIT_DATA ? &r->wq.cons_bell : &r->wq.prod_bell;
}

/* W3 and W4: clear the flag, ring, and wake all. */
static void ring(struct shmring_channel *ch, enum sr_side side)
{
	struct sr_ring *r = ch->r;

	atomic_exchange_explicit(waiter_of(r, side), 0, memory_order_seq_cst);
	atomic_fetch_add_explicit(bell_of(r, side), 1, memory_order_seq_cst);
	sr_wake_word(ch->sh, bell_of(r, side), UINT32_MAX);
	ch->stats.wakes++;
}

static bool changed(struct sr_ring *r, const _Atomic uint32_t *watch,
		    uint32_t seen, uint32_t flags, memory_order mo)
{
	return atomic_load_explicit(watch, mo) != seen ||
	       atomic_load_explicit(&r->ctl.flags, mo) != flags;
}

/*
 * Waits until *@watch moves from @seen, the channel flags change, or a
 * slice passes. Returns 0 for "check again", -EAGAIN for a non-blocking call,
 * or -ETIMEDOUT once the deadline has passed.
 */
int sr_block(struct shmring_channel *ch, enum sr_side side,
	     const _Atomic uint32_t *watch, uint32_t seen,
	     struct sr_deadline *dl)
{
	struct sr_ring *r = ch->r;
	_Atomic uint32_t *waiter = waiter_of(r, side);
	_Atomic uint32_t *bell = bell_of(r, side);
	int64_t left, now, start = 0, slept;
	uint32_t flags, b;
	int i, ret = 0;

	if (dl->nonblock)
		return -EAGAIN;
	if (!ch->spin_ns)
		ch->spin_ns = SR_SPIN_MIN_NS;
	flags = atomic_load_explicit(&r->ctl.flags, memory_order_acquire);
	for (i = 0;; i++) {
		if (changed(r, watch, seen, flags, memory_order_acquire))
			return 0;
		sr_cpu_relax();
		if (!(i & 31)) {
			now = sr_now_ns();
			if (!i)
				start = now;
			else if (now - start > ch->spin_ns)
				break;
		}
	}
	left = sr_deadline_left(dl);
	if (!left)
		return -ETIMEDOUT;
	if (left > SHMRING_LIVENESS_NS)
		left = SHMRING_LIVENESS_NS;

	atomic_store_explicit(waiter, 1, memory_order_seq_cst);	/* S1 */
	if (ch->kind != SHMRING_MPMC && !sr_barrier(ch))		/* S1' */
		left = left < SR_BARRIER_SLICE_NS ? left : SR_BARRIER_SLICE_NS;
	b = atomic_load_explicit(bell, memory_order_seq_cst);		/* S2 */
	if (!changed(r, watch, seen, flags, memory_order_seq_cst)) {	/* S3 */
		slept = sr_now_ns();
		ret = sr_wait_word(ch->sh, bell, b, left);		/* S4 */
		ch->stats.waits++;
		adapt_spin(ch, sr_now_ns() - slept, ret);
	}
	/*
	 * A side of an SPSC ring has one sleeper: if S3 saw the change, or
	 * the sleep timed out, it takes its flag back, or the peer's next
	 * publish would WAKE nobody. The caller checks again before any new
	 * sleep, which sets the flag anew. MPMC sleepers share the flag.
	 */
	if (ch->kind != SHMRING_MPMC)
		atomic_store_explicit(waiter, 0, memory_order_relaxed);

	if (ret == -ETIMEDOUT) {
		ch->stats.timeouts++;
		if (!sr_deadline_left(dl))
			return -ETIMEDOUT;
		/* Sets BROKEN if someone died; the caller reports it. */
		sr_channel_reap(ch);
	}
	return 0;
}

/* After publishing (W1): ring the side that waits for it, if it does. */
void sr_notify(struct shmring_channel *ch, enum sr_side side)
{
	if (atomic_load_explicit(waiter_of(ch->r, side),		/* W2 */
				 memory_order_seq_cst))
		ring(ch, side);
}

/*
 * After a flag change: the bell moves even with nobody asleep, so that a
 * sleeper between S2 and S4 does not miss the change.
 */
void sr_notify_all(struct shmring_channel *ch)
{
	struct sr_ring *r = ch->r;
	enum sr_side side;

	for (side = SR_WAIT_DATA; side <= SR_WAIT_ROOM; side++) {
		if (atomic_load_explicit(waiter_of(r, side),
					 memory_order_seq_cst))
			ring(ch, side);
		else
			atomic_fetch_add_explicit(bell_of(r, side), 1,
						  memory_order_seq_cst);
	}
}
