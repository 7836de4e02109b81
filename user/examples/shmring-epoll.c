// SPDX-License-Identifier: GPL-2.0
/* One thread serves three channels through epoll (needs /dev/shmring). */
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <shmring.h>

#define NCH 3
#define MSGS 1000

static int total;

/* Drain without a system call, then arm: 1 while armed, else 0. */
static int serve(struct shmring_channel *ch)
{
	char buf[64];
	ssize_t n;
	int armed = 1;

	do {
		while ((n = shmring_msg_recv(ch, buf, sizeof(buf), 0)) > 0)
			total++;
	} while (n == -EAGAIN && (armed = shmring_channel_arm(ch)) == 1);
	if (armed < 0)		/* cannot be armed: block instead */
		while ((n = shmring_msg_recv(ch, buf, sizeof(buf), -1)) > 0)
			total++;
	return n == -EAGAIN && !armed;	/* else end-of-file (0), an error */
}

int main(void)
{
	struct shmring_channel_attr attr = { .kind = SHMRING_MSG, .capacity = 4096 };
	struct shmring_channel *rx[NCH], *tx;
	struct epoll_event ev = { .events = EPOLLIN }, got[NCH];
	int ep = epoll_create1(EPOLL_CLOEXEC), live = 0, i, j;
	struct shmring *sh;
	char name[16];

	if (shmring_open(NULL, &sh))
		return perror("shmring_open"), 1;
	for (i = 0; i < NCH; i++) {
		snprintf(name, sizeof(name), "epoll.%d", i);
		if (shmring_channel_open(sh, name, SHMRING_CONSUMER, SHMRING_CREATE, &attr, &rx[i]))
			return perror("shmring_channel_open"), 1;
		ev.data.ptr = rx[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, shmring_channel_fd(rx[i]), &ev))
			return perror("shmring_channel_fd"), 1;
		if (!fork()) {		/* a producer per channel, in its own process */
			if (shmring_channel_open(sh, name, SHMRING_PRODUCER, 0, NULL, &tx))
				_exit(1);
			for (j = 0; j < MSGS; j++)
				shmring_msg_send(tx, &j, sizeof(j), -1);
			_exit(shmring_channel_close(tx) != 0);
		}
		if (serve(rx[i]))	/* armed, or done already */
			live++;
		else
			epoll_ctl(ep, EPOLL_CTL_DEL, shmring_channel_fd(rx[i]), NULL);
	}
	while (live > 0) {
		int n = epoll_wait(ep, got, NCH, -1);

		for (j = 0; j < n; j++)
			if (!serve(got[j].data.ptr)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, shmring_channel_fd(got[j].data.ptr), NULL);
				live--;
			}
	}
	printf("received %d messages on %d channels\n", total, NCH);
	for (i = 0; i < NCH; i++)
		shmring_channel_close(rx[i]);
	return total != NCH * MSGS;
}
