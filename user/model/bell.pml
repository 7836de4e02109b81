/*
 * A model of the wake-up protocol of user/lib/block.c, for spin(1): every
 * interleaving of a few sleepers and wakers, each statement atomic as the
 * seq_cst steps of the C code are. A sleeper waits for its own condition
 * (an MPMC slot's sequence, an SPSC index, a flag); a waker makes one
 * condition true and then rings. Nobody times out: a lost wake-up leaves a
 * sleeper asleep for ever with its condition true, which spin reports as an
 * invalid end state.
 *
 *   -DSLEEPERS=n -DWAKERS=m  waker j makes condition j true; conditions of
 *                            no sleeper stand for a wake-up meant for
 *                            someone else (another MPMC slot)
 *   -DSPSC                   the sleeper disarms the bell when it did not
 *                            sleep or was not woken (one sleeper only)
 *   -DFLAG                   the protocol before the eventcount: a separate
 *                            waiter flag that the waker clears; spin must
 *                            find its lost wake-up with two conditions
 *
 * The membarrier variant of SPSC (plain stores, block.c S2) is not
 * sequentially consistent and is argued in block.c instead.
 */
#ifndef SLEEPERS
#define SLEEPERS	2
#endif
#ifndef WAKERS
#define WAKERS		3
#endif

byte bell;			/* epoch << 1 | armed; the epoch may wrap */
bool flag;			/* FLAG: the separate waiter flag */
bool cond[WAKERS];
bool asleep[SLEEPERS];		/* queued in the kernel's WAIT */

/* The kernel's WAIT: sleep only while the word still holds k. */
inline wait(i, k)
{
	atomic {
		if
		:: bell == k -> asleep[i] = true
		:: else -> skip		/* EAGAIN */
		fi
	}
	!asleep[i]			/* until a WAKE dequeues us */
}

/* The kernel's WAKE of every waiter on the bell. */
inline wake_all()
{
	atomic {
		n = 0;
		do
		:: n < SLEEPERS -> asleep[n] = false; n++
		:: else -> break
		od
	}
}

proctype sleeper(byte i)
{
	byte k;

	do
	:: cond[i] -> break		/* the caller's check */
	:: else ->
#ifdef FLAG
		flag = true;				/* S1 */
		k = bell;				/* S2 */
		if
		:: cond[i] -> skip			/* S3 */
		:: else -> wait(i, k)			/* S4 */
		fi;
#ifdef SPSC
		flag = false
#endif
#else
		atomic { k = bell | 1; bell = k };	/* S1 */
		if
		:: cond[i] -> skip			/* S3 */
		:: else -> wait(i, k)			/* S4 */
		fi;
#ifdef SPSC
		/* disarm: CAS(bell, k, k & ~1), harmless if woken */
		atomic { if :: bell == k -> bell = k - 1 :: else -> skip fi }
#endif
#endif
	od
}

proctype waker(byte j)
{
	byte b, n;
	bool rang;

	cond[j] = true;					/* W1 */
#ifdef FLAG
	if
	:: atomic { flag -> flag = false };		/* W2, W3 */
		bell++;
		wake_all()				/* W4 */
	:: else -> skip
	fi
#else
	b = bell;					/* W2 */
	do
	:: (b & 1) == 0 -> break			/* not armed */
	:: else ->
		atomic {				/* W3: CAS */
			if
			:: bell == b -> bell = b + 1; rang = true
			:: else -> b = bell	/* another waker moved it */
			fi
		};
		if
		:: rang -> wake_all(); break		/* W4 */
		:: else -> skip
		fi
	od
#endif
}

init
{
	byte i;

	atomic {
		i = 0;
		do
		:: i < SLEEPERS -> run sleeper(i); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < WAKERS -> run waker(i); i++
		:: else -> break
		od
	}
}
