# SPDX-License-Identifier: GPL-2.0
#
# make [KDIR=<kernel build dir>]   build kmod/shmring.ko
# make run                         boot a guest and show /dev/shmring at work
# make check                       build, boot every kernel, run the selftests
# make style                       checkpatch, sparse and W=1 on every kernel
# make check-debug                 the suite at full length on a debug kernel
# make bench                       shmring against futex, pipes, sockets,
#                                  eventfd and memcpy; bench/results/
# make install [DESTDIR=] [PREFIX=/usr/local] [SKIP_MODULE=1]
#                                  the module, libshmring, the tool, the
#                                  headers, man pages and the udev rule
# make uninstall [DESTDIR=] [PREFIX=/usr/local]
#                                  remove what install put there
# make dkms-check                  dkms add/build/install/remove for every
#                                  kernel, in throw-away trees

# The running kernel's build dir, else the headers of Debian's 6.1 kernel.
KVER ?= $(shell uname -r)
DEBIAN_KDIR = /usr/src/$(shell dpkg-query -W -f='$${Depends}' \
	linux-headers-amd64 2>/dev/null | sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p')
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) $(DEBIAN_KDIR))

# make install: the module goes to /lib/modules/<KDIR's release> whatever
# PREFIX is; without KDIR that must be the running kernel (SKIP_MODULE=1
# leaves it to DKMS). depmod runs there, with -b $(DESTDIR) when staging;
# DEPMOD=true skips it for a package whose postinst runs it. BINDIR, LIBDIR
# and INCLUDEDIR pass through to user/Makefile. udev reads rules from both
# /usr/lib/udev and /usr/local/lib/udev; a package may pass
# UDEVDIR=$(pkg-config --variable=udevdir udev).
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/shmring
UDEVDIR ?= $(PREFIX)/lib/udev
DEPMOD ?= depmod

# The project's one version: dkms.conf's PACKAGE_VERSION.
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)

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

.PHONY: dkms-check
dkms-check:
	bash guest/dkms-check.sh

.PHONY: install uninstall
install uninstall:
	@DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' MANDIR='$(MANDIR)' \
	DOCDIR='$(DOCDIR)' UDEVDIR='$(UDEVDIR)' DEPMOD='$(DEPMOD)' \
	KDIR='$(KDIR)' KDIR_ORIGIN='$(origin KDIR)' KVER='$(KVER)' \
	SKIP_MODULE='$(SKIP_MODULE)' bash scripts/install.sh $@

bench:
	BENCH_GUEST=1 bash bench/run.sh

clean:
	-[ -d "$(KDIR)" ] && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C selftests OUTPUT=$(CURDIR)/selftests clean
	rm -rf build
