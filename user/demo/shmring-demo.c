// SPDX-License-Identifier: GPL-2.0
/*
 * shmring-demo: two unrelated processes share /dev/shmring.
 *
 *   shmring-demo reader   sleeps in WAIT until a message is published,
 *                         then reads it in place, with no copy
 *   shmring-demo writer   writes the message straight into the shared
 *                         pages, publishes it and WAKEs the reader
 *
 * Layout: the sequence word at offset 0, the length at offset 4, the
 * message text from offset 4096 on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmring.h>

#define SEQ_OFF		0
#define LEN_OFF		4
#define MSG_OFF		4096
#define PAYLOAD		(1U << 20)

struct buf {
	int fd;
	uint8_t *base;
	struct shmring_info info;
};

static void die(const char *what)
{
	fprintf(stderr, "shmring-demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void buf_open(struct buf *b)
{
	b->fd = open("/dev/shmring", O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		die("open /dev/shmring");
	if (ioctl(b->fd, SHMRING_IOC_INFO, &b->info))
		die("SHMRING_IOC_INFO");
	if (b->info.size < MSG_OFF + PAYLOAD) {
		fprintf(stderr, "shmring-demo: buffer of %llu bytes is too small\n",
			(unsigned long long)b->info.size);
		exit(1);
	}
	b->base = mmap(NULL, b->info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       b->fd, 0);
	if (b->base == MAP_FAILED)
		die("mmap");
}

static uint32_t *word(struct buf *b, size_t off)
{
	return (uint32_t *)(b->base + off);
}

/* FNV-1a, to show both sides hold the same bytes. */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void print_info(const char *who, struct buf *b)
{
	if (ioctl(b->fd, SHMRING_IOC_INFO, &b->info))
		die("SHMRING_IOC_INFO");
	printf("%s: INFO size=%llu page_size=%u abi=%u nr_waiters=%u\n", who,
	       (unsigned long long)b->info.size, b->info.page_size,
	       b->info.abi_version, b->info.nr_waiters);
}

static int reader(void)
{
	struct shmring_wait w = { .offset = SEQ_OFF, .expected = 0,
				  .timeout_ns = -1 };
	struct buf b;
	uint32_t len;

	buf_open(&b);
	printf("reader %d: waiting for a message\n", getpid());
	fflush(stdout);
	/* WAIT returns 0 also on a wake that raced a change: re-check. */
	while (!__atomic_load_n(word(&b, SEQ_OFF), __ATOMIC_ACQUIRE)) {
		if (ioctl(b.fd, SHMRING_IOC_WAIT, &w) && errno != EAGAIN &&
		    errno != EINTR)
			die("SHMRING_IOC_WAIT");
	}
	/* Any opener may write the length: read it once, check that copy. */
	len = __atomic_load_n(word(&b, LEN_OFF), __ATOMIC_RELAXED);
	if (len > PAYLOAD) {
		fprintf(stderr, "reader: length %u is over the %u-byte payload area\n",
			len, PAYLOAD);
		return 1;
	}
	printf("reader %d: woken; message of %u bytes read in place: \"%.*s\"\n",
	       getpid(), len, (int)len, (const char *)b.base + MSG_OFF);
	printf("reader %d: payload fnv1a=%016llx over %u bytes\n", getpid(),
	       (unsigned long long)fnv1a(b.base + MSG_OFF, PAYLOAD), PAYLOAD);
	print_info("reader", &b);
	return 0;
}

static int writer(void)
{
	static const char msg[] = "hello from the writer, through shared frames";
	struct shmring_wake wk = { .offset = SEQ_OFF, .count = UINT32_MAX };
	struct timespec nap = { .tv_nsec = 10 * 1000 * 1000 };
	struct buf b;
	size_t i;
	int woken, tries;

	buf_open(&b);
	/* Wait (bounded) for the reader to be asleep, so the wake is real. */
	for (tries = 0; tries < 1000; tries++) {
		if (ioctl(b.fd, SHMRING_IOC_INFO, &b.info))
			die("SHMRING_IOC_INFO");
		if (b.info.nr_waiters)
			break;
		nanosleep(&nap, NULL);
	}
	print_info("writer", &b);
	memcpy(b.base + MSG_OFF, msg, sizeof(msg) - 1);
	for (i = sizeof(msg) - 1; i < PAYLOAD; i++)
		b.base[MSG_OFF + i] = (uint8_t)(i * 2654435761U >> 24);
	*word(&b, LEN_OFF) = sizeof(msg) - 1;
	__atomic_store_n(word(&b, SEQ_OFF), 1, __ATOMIC_RELEASE);
	woken = ioctl(b.fd, SHMRING_IOC_WAKE, &wk);
	if (woken < 0)
		die("SHMRING_IOC_WAKE");
	printf("writer %d: published %zu bytes, WAKE woke %d waiter(s)\n",
	       getpid(), sizeof(msg) - 1, woken);
	printf("writer %d: payload fnv1a=%016llx over %u bytes\n", getpid(),
	       (unsigned long long)fnv1a(b.base + MSG_OFF, PAYLOAD), PAYLOAD);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "reader"))
		return reader();
	if (argc == 2 && !strcmp(argv[1], "writer"))
		return writer();
	fprintf(stderr, "usage: shmring-demo reader|writer\n");
	return 2;
}
