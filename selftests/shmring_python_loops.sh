#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Python's selectors and asyncio on a real watch fd: shmring_watch_driver
# makes it and WAKEs its word on request; shmring_watch_loops.py, run by
# Debian's python3 (the initramfs carries it and the standard library
# modules the script loads), waits on it and prints the KTAP.

DIR=$(dirname "$0")
. "$DIR/../kselftest/ktap_helpers.sh"

if ! command -v python3 >/dev/null; then
	ktap_print_header
	ktap_exit_fail_msg "python3 is missing"
fi
# -I -S: no site, no user or environment paths; what guest/lib.sh listed.
exec "$DIR/shmring_watch_driver" python3 -I -S "$DIR/shmring_watch_loops.py"
