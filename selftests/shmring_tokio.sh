#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tokio's AsyncFd on a real watch fd: shmring_watch_driver makes it and
# WAKEs its word on request; shmring_tokio_watch (tokio/, built with
# Debian's cargo and librust-tokio-dev) waits on it and prints the KTAP.

DIR=$(dirname "$0")
exec "$DIR/shmring_watch_driver" "$DIR/shmring_tokio_watch"
