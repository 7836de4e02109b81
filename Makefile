# SPDX-License-Identifier: GPL-2.0
#
# make [KDIR=<kernel build dir>]   build kmod/shmring.ko
# make run                         boot a guest and show /dev/shmring at work
# make check                       build, boot every kernel, run the selftests
# make style                       checkpatch, sparse and W=1 on every kernel
# make check-debug                 the suite at full length on a debug kernel
# make bench                       shmring against futex, pipes, sockets,
#                                  eventfd and memcpy; bench/results/

# The running kernel's build dir, else the headers of Debian's 6.1 kernel.
KVER ?= $(shell uname -r)
DEBIAN_KDIR = /usr/src/$(shell dpkg-query -W -f='$${Depends}' \
	linux-headers-amd64 2>/dev/null | sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p')
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) $(DEBIAN_KDIR))

.PHONY: all module clean check check-debug run style selftests bench

all: module

module:
	@[ -d "$(KDIR)" ] || { echo "no kernel build dir: install linux-headers-amd64 or pass KDIR=" >&2; exit 2; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

selftests:
	$(MAKE) -C selftests OUTPUT=$(CURDIR)/selftests

check:
	bash guest/check.sh

check-debug:
	bash guest/check-debug.sh

run:
	bash guest/run.sh

style:
	bash guest/style.sh

bench:
	BENCH_GUEST=1 bash bench/run.sh

clean:
	-[ -d "$(KDIR)" ] && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C selftests OUTPUT=$(CURDIR)/selftests clean
	rm -rf build
