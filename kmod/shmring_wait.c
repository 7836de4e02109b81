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
 *
 * Each bucket queues its waiters as futex does: by priority, real-time
 * tasks first, FIFO within one priority, so WAKE(1) wakes the most urgent.
 *
 * Watch fds (shmring_watch.c) hang their words in the same buckets, on a
 * list of their own that a WAKE walks under the same lock, and only when
 * the bucket counts a watch entry: a WAKE on a word nobody watches costs
 * one test more. No lost notification: a watch entry is linked under the
 * bucket lock, so a WAKE that takes the lock after that finds it; one that
 * took it before was not owed a notification.
 */

#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/plist.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sched/prio.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/time_namespace.h>
#include <linux/uaccess.h>

#include <uapi/linux/shmring.h>

#include "shmring.h"

/*
 * Sized as futex sizes its table, 256 buckets per possible CPU, but at
 * most 64 Ki of them: INFO sums a count over every bucket. An instance
 * made at run time has no more than 64 per page of its buffer, and at
 * least 64: a small one needs no megabytes of buckets.
 */
#define SHMRING_BUCKETS_PER_CPU	256
#define SHMRING_MAX_BUCKETS	BIT(16)
#define SHMRING_BUCKETS_PER_PAGE	64

/**
 * struct shmring_bucket - one lock and queue of the waiter hash table
 * @lock: guards the other fields and each waiter queued here.
 * @waiters: the waiters in wake order, and the bookmarks of WAKEs that
 *	dropped the lock half way through.
 * @watches: the watch entries, struct shmring_watch_entry, of the words
 *	that hash here, in no order.
 * @next_ticket: ticket of the next waiter to queue.
 * @nr_waiters: waiters queued; written under @lock, read by INFO without.
 * @nr_watches: entries on @watches, so that a WAKE skips an empty list
 *	without touching it.
 */
struct shmring_bucket {
	spinlock_t lock;	/* guards the rest, and the waiters queued */
	struct plist_head waiters;
	struct hlist_head watches;
	u64 next_ticket;
	unsigned int nr_waiters;
	unsigned int nr_watches;
} ____cacheline_aligned_in_smp;

/**
 * struct shmring_waiter - one task in WAIT, on its own stack
 * @node: entry in the bucket's queue, protected by the bucket lock; its
 *	priority is futex's, min(normal_prio, MAX_RT_PRIO): every task that
 *	is not real-time at one priority, below all that are.
 * @task: the sleeping task; NULL in a WAKE's bookmark, which every walker
 *	passes over.
 * @offset: the word it waits on.
 * @ticket: queueing order in the bucket; a WAKE passes over waiters that
 *	queued after it began, so re-queueing tasks cannot keep it going.
 * @woken: set by WAKE once @node is dequeued; WAKE's last touch of us.
 */
struct shmring_waiter {
	struct plist_node node;
	struct task_struct *task;
	u64 offset;
	u64 ticket;
	bool woken;
};

/*
 * hash_seed=N fixes the siphash key to (N, 0) instead of drawing it at
 * load, so that a test can compute which words share a bucket. A test aid
 * only: whoever knows the key can put many words in one bucket, where they
 * share one lock. Not shown in sysfs.
 */
static u64 shmring_hash_seed;
static bool shmring_hash_seeded;

static int shmring_hash_seed_set(const char *val,
				 const struct kernel_param *kp)
{
	if (kstrtou64(val, 0, &shmring_hash_seed))
		return -EINVAL;
	shmring_hash_seeded = true;
	return 0;
}

static const struct kernel_param_ops shmring_hash_seed_ops = {
	.set = shmring_hash_seed_set,
};

module_param_cb(hash_seed, &shmring_hash_seed_ops, NULL, 0);
MODULE_PARM_DESC(hash_seed,
		 "Test aid: fix the key of the waiter hash to (hash_seed, 0) instead of a random one");

int shmring_wait_init(struct shmring_dev *sdev)
{
	unsigned long n;
	unsigned int i;

	n = roundup_pow_of_two(SHMRING_BUCKETS_PER_CPU * num_possible_cpus());
	n = min_t(unsigned long, n, SHMRING_MAX_BUCKETS);
	if (sdev->account)
		n = min_t(unsigned long, n,
			  roundup_pow_of_two(sdev->nr_pages *
					     SHMRING_BUCKETS_PER_PAGE));
	sdev->buckets = kvcalloc(n, sizeof(*sdev->buckets),
				 sdev->account ? GFP_KERNEL_ACCOUNT : GFP_KERNEL);
	if (!sdev->buckets)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		spin_lock_init(&sdev->buckets[i].lock);
		plist_head_init(&sdev->buckets[i].waiters);
		INIT_HLIST_HEAD(&sdev->buckets[i].watches);
	}
	sdev->nr_buckets = n;
	/*
	 * The offsets are the user's choice: with an unseeded hash, words
	 * that share a bucket are easy to find, and so is a slow bucket.
	 */
	if (shmring_hash_seeded) {
		sdev->hash_key.key[0] = shmring_hash_seed;
		sdev->hash_key.key[1] = 0;
	} else {
		get_random_bytes(&sdev->hash_key, sizeof(sdev->hash_key));
	}
	return 0;
}

/*
 * Only called once no file is open, watch fds included (they pin the
 * module), so every bucket is empty.
 */
void shmring_wait_exit(struct shmring_dev *sdev)
{
	kvfree(sdev->buckets);
	sdev->buckets = NULL;
	sdev->nr_buckets = 0;
}

/*
 * Tasks queued in WAIT, for INFO: a sum without the locks, exact once
 * WAITs and WAKEs stop. While they run, a task that moves from one word to
 * another during the sum may be counted in both buckets, or in neither.
 */
unsigned int shmring_nr_waiters(struct shmring_dev *sdev)
{
	unsigned int i, n = 0;

	for (i = 0; i < sdev->nr_buckets; i++)
		n += READ_ONCE(sdev->buckets[i].nr_waiters);
	return n;
}

static struct shmring_bucket *shmring_bucket(struct shmring_dev *sdev,
					     u64 offset)
{
	u64 h = siphash_1u64(offset, &sdev->hash_key);

	return &sdev->buckets[h & (sdev->nr_buckets - 1)];
}

/* An aligned word wholly inside the buffer; size is at least one page. */
bool shmring_word_ok(struct shmring_dev *sdev, u64 offset)
{
	return IS_ALIGNED(offset, sizeof(u32)) &&
	       offset <= sdev->size - sizeof(u32);
}

/*
 * Links @e, its offset and watcher set, into its word's bucket. From here
 * on a WAKE on the word may touch @e and notify its watcher at any time,
 * until shmring_watch_unlink() has returned.
 */
void shmring_watch_link(struct shmring_dev *sdev, struct shmring_watch_entry *e)
{
	struct shmring_bucket *b = shmring_bucket(sdev, e->offset);

	spin_lock(&b->lock);
	hlist_add_head(&e->node, &b->watches);
	b->nr_watches++;
	spin_unlock(&b->lock);
}

/*
 * Unlinks @e. A WAKE only reaches watch entries under their bucket lock,
 * so once this has taken and dropped it, no WAKE touches @e or its watcher
 * through @e any more, and both may be freed.
 */
void shmring_watch_unlink(struct shmring_dev *sdev,
			  struct shmring_watch_entry *e)
{
	struct shmring_bucket *b = shmring_bucket(sdev, e->offset);

	spin_lock(&b->lock);
	hlist_del_init(&e->node);
	b->nr_watches--;
	spin_unlock(&b->lock);
}

/*
 * Notifies every watcher of @offset, under the bucket lock, which keeps
 * each of them alive meanwhile (see shmring_watch_unlink()). A watcher's
 * notification takes its waitqueue lock and runs the wake callbacks of
 * whoever waits there (a reader, poll, epoll's ep->lock, io_uring's poll):
 * none of them reaches a WAKE, so the lock order is bucket lock, then
 * waitqueue lock and what its callbacks take. The walk passes over the
 * entries of other words in the bucket; SHMRING_WATCH_TOTAL_MAX bounds
 * them all.
 */
static void shmring_notify_watchers(struct shmring_bucket *b, u64 offset)
{
	struct shmring_watch_entry *e;

	lockdep_assert_held(&b->lock);
	hlist_for_each_entry(e, &b->watches, node)
		if (e->offset == offset)
			shmring_watcher_notify(e->watcher);
}

/*
 * plist_add() and plist_del() of lib/plist.c, which are not exported to
 * modules, on the same struct plist_head and plist_node: node_list holds
 * every node in priority order, FIFO within one priority; prio_list links
 * the first node of each priority, so that adding costs at most a step per
 * priority in use, and none for a waiter that is not real-time.
 */
static void shmring_plist_add(struct plist_node *node, struct plist_head *head)
{
	struct list_head *next = &head->node_list;
	struct plist_node *first, *last, *iter, *prev;

	if (plist_head_empty(head)) {
		list_add_tail(&node->node_list, next);
		return;
	}
	first = plist_first(head);
	last = list_last_entry(&first->prio_list, struct plist_node, prio_list);
	if (node->prio >= last->prio) {
		/* At the tail: a new priority, or the last one's end. */
		if (node->prio > last->prio)
			list_add_tail(&node->prio_list, &first->prio_list);
		list_add_tail(&node->node_list, next);
		return;
	}
	/* Before the first priority below ours; last->prio stops this. */
	for (iter = first; iter->prio <= node->prio;)
		iter = list_next_entry(iter, prio_list);
	prev = list_prev_entry(iter, prio_list);
	if (iter == first || prev->prio != node->prio)
		list_add_tail(&node->prio_list, &iter->prio_list);
	list_add_tail(&node->node_list, &iter->node_list);
}

static void shmring_plist_del(struct plist_node *node, struct plist_head *head)
{
	if (!list_empty(&node->prio_list)) {
		if (node->node_list.next != &head->node_list) {
			struct plist_node *next = list_next_entry(node, node_list);

			/* The next of the same priority takes its place. */
			if (list_empty(&next->prio_list))
				list_add(&next->prio_list, &node->prio_list);
		}
		list_del_init(&node->prio_list);
	}
	list_del_init(&node->node_list);
}

/*
 * Queues @bm right behind @pos, as one more node of @pos's priority: where
 * a walk that stopped at @pos goes on, whatever is added or removed around
 * it meanwhile. It is then an ordinary node to shmring_plist_add() and
 * shmring_plist_del().
 */
static void shmring_bookmark(struct plist_node *bm, struct plist_node *pos)
{
	bm->prio = pos->prio;
	INIT_LIST_HEAD(&bm->prio_list);
	list_add(&bm->node_list, &pos->node_list);
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
		/* Pairs with the release in shmring_dequeue(). */
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
	plist_node_init(&w.node, min(current->normal_prio, MAX_RT_PRIO));
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
	shmring_plist_add(&w.node, &b->waiters);
	WRITE_ONCE(b->nr_waiters, b->nr_waiters + 1);
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
		shmring_plist_del(&w.node, &b->waiters);
		WRITE_ONCE(b->nr_waiters, b->nr_waiters - 1);
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

/* Waiters a WAKE takes per lock hold, woken after the unlock. */
#define SHMRING_WAKE_BATCH	16
/* Queue entries a WAKE looks at per lock hold, as __wake_up_common(). */
#define SHMRING_WALK_MAX	64

/**
 * struct shmring_wake_walk - where one WAKE is in its bucket's queue
 * @bookmark: queued behind the last entry looked at while the lock is
 *	dropped between batches, so that the walk goes on from there rather
 *	than from the head (kernel/sched/wait.c's WQ_FLAG_BOOKMARK). Its
 *	task is NULL: every walker passes over it.
 * @end: the bucket's next ticket when the WAKE began.
 * @started: @end is set.
 */
struct shmring_wake_walk {
	struct shmring_waiter bookmark;
	u64 end;
	bool started;
};

/*
 * Dequeues up to @want waiters on @offset that queued before the WAKE
 * began, at most SHMRING_WAKE_BATCH of them, taking a reference on each
 * task so the wake-ups can happen after the unlock: a woken task then never
 * spins on the lock its waker still holds. Looks at no more than
 * SHMRING_WALK_MAX entries, so a bucket full of other words' waiters does
 * not keep the lock held; every entry is looked at once per WAKE. Returns
 * how many it dequeued; *@done is false when the walk must go on, from the
 * bookmark it left.
 */
static unsigned int shmring_dequeue(struct shmring_bucket *b, u64 offset,
				    struct shmring_wake_walk *walk,
				    struct task_struct **tasks, u32 want,
				    bool *done)
{
	unsigned int max = min_t(u32, want, SHMRING_WAKE_BATCH);
	struct shmring_waiter *found[SHMRING_WAKE_BATCH];
	struct list_head *pos, *head = &b->waiters.node_list;
	struct shmring_waiter *w = NULL;
	unsigned int i, n = 0, seen = 0;

	spin_lock(&b->lock);
	if (walk->started) {
		pos = walk->bookmark.node.node_list.next;
		shmring_plist_del(&walk->bookmark.node, &b->waiters);
	} else {
		walk->started = true;
		walk->end = b->next_ticket;
		pos = head->next;
		/* Watchers once per WAKE, in its first lock hold. */
		if (b->nr_watches)
			shmring_notify_watchers(b, offset);
		if (!want) {
			spin_unlock(&b->lock);
			*done = true;
			return 0;
		}
	}
	for (; pos != head; pos = pos->next) {
		w = list_entry(pos, struct shmring_waiter, node.node_list);
		/*
		 * In priority order, a waiter that queued after the WAKE
		 * began may come before one that queued earlier: pass over
		 * it, and go on.
		 */
		if (w->task && w->offset == offset && w->ticket < walk->end)
			found[n++] = w;
		if (n == max || ++seen == SHMRING_WALK_MAX)
			break;
	}
	*done = pos == head || n == want;
	/* Before the dequeues below, so that @w is still queued. */
	if (!*done)
		shmring_bookmark(&walk->bookmark.node, &w->node);
	for (i = 0; i < n; i++) {
		w = found[i];
		shmring_plist_del(&w->node, &b->waiters);
		WRITE_ONCE(b->nr_waiters, b->nr_waiters - 1);
		tasks[i] = get_task_struct(w->task);
		/*
		 * The last touch of @w: after this store the waiter may
		 * return and its stack be reused. Pairs with the acquires in
		 * shmring_sleep() and shmring_ioctl_wait().
		 */
		smp_store_release(&w->woken, true);
	}
	spin_unlock(&b->lock);
	return n;
}

/*
 * Wakes up to @count waiters on @offset, a word shmring_word_ok() passed,
 * and notifies its watchers; returns the number of waiters woken. The
 * caller has changed the word already, so that waiters queue or see the
 * new value, as the comment at the top of the file says.
 */
u32 shmring_wake_word(struct shmring_dev *sdev, u64 offset, u32 count)
{
	struct task_struct *tasks[SHMRING_WAKE_BATCH];
	struct shmring_bucket *b = shmring_bucket(sdev, offset);
	struct shmring_wake_walk walk = {};
	unsigned int i, n;
	u32 woken = 0;
	bool done;

	for (;;) {
		n = shmring_dequeue(b, offset, &walk, tasks, count - woken,
				    &done);
		for (i = 0; i < n; i++) {
			wake_up_process(tasks[i]);
			put_task_struct(tasks[i]);
		}
		woken += n;
		/* Not done: the bookmark is queued, and the loop goes on. */
		if (done)
			break;
		cond_resched();
	}
	return woken;
}

long shmring_ioctl_wake(struct shmring_dev *sdev, void __user *arg)
{
	struct shmring_wake uw;

	if (copy_from_user(&uw, arg, sizeof(uw)))
		return -EFAULT;
	if (uw.flags)
		return -EINVAL;
	if (!shmring_word_ok(sdev, uw.offset))
		return -EINVAL;

	/* count may exceed INT_MAX; the number woken never does in practice. */
	return min_t(u32, shmring_wake_word(sdev, uw.offset, uw.count),
		     INT_MAX);
}
