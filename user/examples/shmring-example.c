// SPDX-License-Identifier: GPL-2.0
/* libshmring in 20 lines: one message through a named channel. */
#include <stdio.h>
#include <shmring.h>

int main(void)
{
	struct shmring_channel_attr attr = { .kind = SHMRING_MSG, .capacity = 4096 };
	struct shmring_channel *tx, *rx;
	struct shmring *sh;
	char buf[64];
	ssize_t n;

	if (shmring_open(NULL, &sh) && shmring_open_memfd(1 << 20, &sh))
		return perror("shmring_open"), 1;
	if (shmring_channel_open(sh, "hello", SHMRING_PRODUCER, SHMRING_CREATE, &attr, &tx) ||
	    shmring_channel_open(sh, "hello", SHMRING_CONSUMER, 0, NULL, &rx))
		return perror("shmring_channel_open"), 1;
	shmring_msg_send(tx, "hello, ring", 11, -1);
	n = shmring_msg_recv(rx, buf, sizeof(buf), -1);
	printf("received %zd bytes: %.*s\n", n, (int)n, buf);
	return shmring_channel_close(tx) || shmring_channel_close(rx);
}
