# SPDX-License-Identifier: GPL-2.0
#
# snapchan top-level build.  `make` builds the module against KDIR, the
# library, the CLI and the tests; `make check` runs every test in QEMU;
# `make demo` runs the bank demo in QEMU.  See README.md.

SHELL := /bin/bash
TOP := $(CURDIR)
STOCK_KREL := $(shell scripts/stock-kernel.sh 2>/dev/null)
STOCK_KDIR := /usr/src/linux-headers-$(STOCK_KREL)
ifneq ($(wildcard $(STOCK_KDIR)/Makefile),)
KDIR ?= $(STOCK_KDIR)
else
KDIR ?= /lib/modules/$(shell uname -r)/build
endif
# Where the module for KDIR is built (sources are symlinked there so that
# one checkout can hold builds for several kernels).
MODOUT ?= build/kmod-$(subst /,_,$(patsubst /%,%,$(KDIR)))
KSRC = $(shell scripts/ksrc.sh)
JOBS ?= $(shell nproc)

.PHONY: all module userspace tests deps check check-host check-debug \
	check-stock gates vm-run demo clean debug-kernel kcsan-kernel help install \
	install-module bench stress

all: module userspace tests

help:
	@echo "make            build module (KDIR=$(KDIR)), library, CLI, tests"
	@echo "make deps       install missing Debian packages (root)"
	@echo "make check      every test: host, debug and KCSAN kernel VMs, stock kernel VM, gates"
	@echo "make stress     long load/soak/fuzz run [STRESS_SECONDS=600] [KERNEL=debug|kcsan|stock]"
	@echo "                [STRESS_INJECT_DELAY=200 (us; 0: off)]"
	@echo "make demo       the bank demo in a VM on the stock kernel"
	@echo "make vm-run CMD='...' [KERNEL=stock|debug|kcsan] [EXTRA='files']"

deps:
	@scripts/deps.sh

# --- kernel module -------------------------------------------------------
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/tests/*.c kmod/Kbuild) \
	uapi/linux/snapchan.h Kbuild

module: $(MODOUT)/kmod/snapchan.ko

$(MODOUT)/kmod/snapchan.ko: $(KMOD_SRCS)
	@mkdir -p $(MODOUT)
	@rm -rf $(MODOUT)/kmod/tests.tmp
	@cp -rsf $(TOP)/kmod $(TOP)/uapi $(TOP)/Kbuild $(MODOUT)/
	$(MAKE) -C $(KDIR) M=$(TOP)/$(MODOUT) $(KBUILD_EXTRA) modules

debug-kernel:
	@selftests/qemu/build-kernel.sh debug

kcsan-kernel:
	@selftests/qemu/build-kernel.sh kcsan

# --- userspace -----------------------------------------------------------
userspace:
	$(MAKE) -C userspace

tests: userspace
	$(MAKE) -C selftests

# --- tests ---------------------------------------------------------------
check: deps
	@scripts/check.sh

check-host: userspace
	$(MAKE) -C userspace check

gates:
	@scripts/gates.sh

stress: deps
	@scripts/stress.sh

vm-run: deps
	@scripts/vm-run.sh

demo: deps
	@scripts/demo.sh

# --- install on a real machine ---------------------------------------------
PREFIX ?= /usr/local
KREL ?= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
INSTALL_MOD_DIR ?= updates

install: install-module
	$(MAKE) -C userspace install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

install-module: module
	install -D -m 0644 $(MODOUT)/kmod/snapchan.ko \
		$(DESTDIR)/lib/modules/$(KREL)/$(INSTALL_MOD_DIR)/snapchan.ko
	install -D -m 0644 packaging/60-snapchan.rules \
		$(DESTDIR)/etc/udev/rules.d/60-snapchan.rules
	[ -n "$(DESTDIR)" ] || depmod -a $(KREL)

bench: deps
	@scripts/bench.sh

clean:
	rm -rf build
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
