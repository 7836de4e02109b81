// SPDX-License-Identifier: GPL-2.0
/*
 * shmring WAIT/WAKE: futex semantics on 32-bit words of the buffer.
 *
 * A shared futex cannot be used on these pages: they have no page->mapping,
 * so get_futex_key() fails on them. The buffer is kernel memory, though, so
 * unlike a futex the word can be read under a spinlock without faulting.
 *
 * No lost wake-up (as in kernel/futex/waitwake.c): a waiter reads the word
 * and queues itself under its bucket lock; a waker changes the word in user
 * space first and then takes the same lock to dequeue. Either the waker's
 * lock comes after the waiter's, and it finds the waiter queued, or it
 * comes first, and the waiter's read under the lock sees the new value.
 */

#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include <uapi/linux/shmring.h>

#include "shmring.h"

/* Enough buckets that thousands of words rarely share a lock. */
#define SHMRING_HASH_BITS	10

struct shmring_bucket {
	spinlock_t lock;	/* guards the fields below and each waiter */
	struct list_head waiters;
	u64 next_ticket;
} ____cacheline_aligned_in_smp;

/**
 * struct shmring_waiter - one task asleep in WAIT, on its own stack
 * @node: entry in the bucket's list, protected by the bucket lock.
 * @task: the sleeping task.
 * @offset: the word it waits on.
 * @ticket: queueing order in the bucket; a WAKE passes over waiters that
 *	queued after it began, so re-queueing tasks cannot keep it going.
 * @woken: set by WAKE once @node is dequeued; WAKE's last touch of us.
 */
struct shmring_waiter {
	struct list_head node;
	struct task_struct *task;
	u64 offset;
	u64 ticket;
	bool woken;
};

int shmring_wait_init(struct shmring_dev *sdev)
{
	unsigned int i, n = 1U << SHMRING_HASH_BITS;

	sdev->buckets = kvcalloc(n, sizeof(*sdev->buckets), GFP_KERNEL);
	if (!sdev->buckets)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		spin_lock_init(&sdev->buckets[i].lock);
		INIT_LIST_HEAD(&sdev->buckets[i].waiters);
	}
	atomic_set(&sdev->nr_waiters, 0);
	return 0;
}

/* Only called once no file is open, so every bucket is empty. */
void shmring_wait_exit(struct shmring_dev *sdev)
{
	kvfree(sdev->buckets);
	sdev->buckets = NULL;
}

static struct shmring_bucket *shmring_bucket(struct shmring_dev *sdev,
					     u64 offset)
{
	return &sdev->buckets[hash_64(offset, SHMRING_HASH_BITS)];
}

/* An aligned word wholly inside the buffer; size is at least one page. */
static bool shmring_word_ok(struct shmring_dev *sdev, u64 offset)
{
	return IS_ALIGNED(offset, sizeof(u32)) &&
	       offset <= sdev->size - sizeof(u32);
}

/*
 * The state of a waiter, as futex sleeps: TASK_FREEZABLE lets the freezer
 * (suspend, hibernation, the cgroup v1 freezer) freeze the task where it
 * sleeps, still queued. Without it the freezer sends a fake signal, which
 * dequeues every waiter and ends relative waits with EINTR and no signal.
 * The sleep holds no lock, which a freezable sleep must not.
 */
#define SHMRING_SLEEP_STATE	(TASK_INTERRUPTIBLE | TASK_FREEZABLE)

/*
 * Sleeps until woken, a signal, or @deadline (NULL: none). Called with the
 * task already queued and in SHMRING_SLEEP_STATE; the caller sorts out,
 * under the bucket lock, which of the three ended the sleep. A thaw wakes
 * the task too, which only means another turn of the loop.
 */
static void shmring_sleep(struct shmring_waiter *w, ktime_t *deadline)
{
	for (;;) {
		/* Pairs with the release in shmring_ioctl_wake(). */
		if (smp_load_acquire(&w->woken))
			break;
		if (signal_pending(current))
			break;
		if (!deadline)
			schedule();
		else if (!schedule_hrtimeout_range(deadline,
						   current->timer_slack_ns,
						   HRTIMER_MODE_ABS))
			break;
		set_current_state(SHMRING_SLEEP_STATE);
	}
	__set_current_state(TASK_RUNNING);
}

/*
 * An absolute deadline is on the caller's CLOCK_MONOTONIC, which its time
 * namespace may offset from the host's, the clock the timer runs on. futex
 * converts it with timens_ktime_to_host(), which a module cannot call: it
 * reads init_time_ns and calls do_timens_ktime_to_host(), neither of them
 * exported. timens_add_monotonic() reads the same offset and is inline;
 * the rest is what do_timens_ktime_to_host() does.
 */
static ktime_t shmring_abs_to_host(ktime_t tim)
{
	struct timespec64 ts = {};
	ktime_t offset;

	timens_add_monotonic(&ts);
	offset = timespec64_to_ktime(ts);
	/* Before the namespace's clock began: long past. */
	if (tim < offset)
		return 0;
	/* Beyond what the host's clock can reach: never. */
	if (offset < 0 && tim > KTIME_MAX + offset)
		return KTIME_MAX;
	return tim - offset;
}

long shmring_ioctl_wait(struct shmring_dev *sdev, void __user *arg)
{
	struct shmring_waiter w = { .task = current };
	struct shmring_bucket *b;
	struct shmring_wait uw;
	ktime_t deadline, *dl = NULL;
	long ret;

	if (copy_from_user(&uw, arg, sizeof(uw)))
		return -EFAULT;
	if (uw.flags & ~SHMRING_WAIT_FLAGS)
		return -EINVAL;
	if (!shmring_word_ok(sdev, uw.offset))
		return -EINVAL;

	/* Relative timeouts become a deadline once, so retries don't drift. */
	if (uw.timeout_ns > 0) {
		if (uw.flags & SHMRING_WAIT_ABSTIME)
			deadline = shmring_abs_to_host(uw.timeout_ns);
		else
			deadline = ktime_add_safe(ktime_get(), uw.timeout_ns);
		dl = &deadline;
	}

	w.offset = uw.offset;
	b = shmring_bucket(sdev, uw.offset);

	spin_lock(&b->lock);
	if (READ_ONCE(*shmring_word(sdev, uw.offset)) != uw.expected) {
		spin_unlock(&b->lock);
		return -EAGAIN;
	}
	if (!uw.timeout_ns) {
		spin_unlock(&b->lock);
		return -ETIMEDOUT;
	}
	w.ticket = b->next_ticket++;
	list_add_tail(&w.node, &b->waiters);
	atomic_inc(&sdev->nr_waiters);
	set_current_state(SHMRING_SLEEP_STATE);
	spin_unlock(&b->lock);

	shmring_sleep(&w, dl);

	/*
	 * Once WAKE has published @w.woken it never touches @w again, so a
	 * woken waiter may leave without the lock. A waiter that WAKE has
	 * dequeued returns 0 even if a signal or its timeout came at the same
	 * time; otherwise WAKE's count would lie.
	 */
	if (smp_load_acquire(&w.woken))
		return 0;
	spin_lock(&b->lock);
	if (w.woken) {
		ret = 0;
	} else {
		list_del(&w.node);
		atomic_dec(&sdev->nr_waiters);
		if (!signal_pending(current))
			ret = -ETIMEDOUT;
		else if (dl && !(uw.flags & SHMRING_WAIT_ABSTIME))
			/* A restart would start a relative timeout afresh. */
			ret = -EINTR;
		else
			ret = -ERESTARTSYS;
	}
	spin_unlock(&b->lock);
	return ret;
}

/*
 * Dequeues up to @max waiters on @offset that queued before ticket *@end
 * (U64_MAX: set it now), taking a reference on each task so the wake-ups
 * can happen after the unlock: a woken task then never spins on the lock
 * its waker still holds.
 */
static unsigned int shmring_dequeue(struct shmring_dev *sdev,
				    struct shmring_bucket *b, u64 offset,
				    u64 *end, struct task_struct **tasks,
				    unsigned int max)
{
	struct shmring_waiter *w, *next;
	unsigned int n = 0;

	spin_lock(&b->lock);
	if (*end == U64_MAX)
		*end = b->next_ticket;
	list_for_each_entry_safe(w, next, &b->waiters, node) {
		/* The list is in ticket order. */
		if (w->ticket >= *end)
			break;
		if (w->offset != offset)
			continue;
		list_del(&w->node);
		atomic_dec(&sdev->nr_waiters);
		tasks[n] = get_task_struct(w->task);
		/*
		 * The last touch of @w: after this store the waiter may
		 * return and its stack be reused. Pairs with the acquires in
		 * shmring_sleep() and shmring_ioctl_wait().
		 */
		smp_store_release(&w->woken, true);
		if (++n == max)
			break;
	}
	spin_unlock(&b->lock);
	return n;
}

#define SHMRING_WAKE_BATCH	16

long shmring_ioctl_wake(struct shmring_dev *sdev, void __user *arg)
{
	struct task_struct *tasks[SHMRING_WAKE_BATCH];
	struct shmring_bucket *b;
	struct shmring_wake uw;
	u64 end = U64_MAX;
	unsigned int i, n;
	u32 woken = 0;

	if (copy_from_user(&uw, arg, sizeof(uw)))
		return -EFAULT;
	if (uw.flags)
		return -EINVAL;
	if (!shmring_word_ok(sdev, uw.offset))
		return -EINVAL;

	b = shmring_bucket(sdev, uw.offset);
	while (woken < uw.count) {
		n = shmring_dequeue(sdev, b, uw.offset, &end, tasks,
				    min_t(u32, uw.count - woken,
					  SHMRING_WAKE_BATCH));
		for (i = 0; i < n; i++) {
			wake_up_process(tasks[i]);
			put_task_struct(tasks[i]);
		}
		woken += n;
		if (n < SHMRING_WAKE_BATCH)
			break;
	}

	/* count may exceed INT_MAX; the number woken never does in practice. */
	return min_t(u32, woken, INT_MAX);
}
