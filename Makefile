# SPDX-License-Identifier: GPL-2.0
#
# openmosix-rs. The two commands a new user needs:
#   make demo     boot a 3-node QEMU cluster and show what openmosix-rs does
#   make check    every test: formatting, clippy, host unit tests, module build, cluster scenarios
# Both install what they need first (scripts/setup). `make help` lists the other targets.
#
# KDIR=/path/to/built/kernel builds against another Rust-enabled kernel tree instead of the
# one scripts/setup builds and caches under $OPENMOSIX_CACHE (default ~/.cache/openmosix).
# KERNEL=debian builds against Debian's own kernel package (scripts/setup prepares its tree).

KDIR ?=
LLVM ?= -19
KERNEL ?=
ifneq ($(KERNEL),)
export OPENMOSIX_KERNEL := $(KERNEL)
override KDIR :=
endif
export KDIR LLVM

TOOLS_TARGET := x86_64-unknown-linux-gnu
# Tools are linked statically so the same binaries run on the host and in guests.
TOOLS_ENV := RUSTFLAGS="-C target-feature=+crt-static"
CARGO_TOOLS := cd tools && cargo
# Rust outside the cargo workspace: the module and the fuzz targets.
LOOSE_RS := src/*.rs src/*/*.rs rust/*.rs tools/fuzz/fuzz_targets/*.rs

.PHONY: all help setup module module-clippy tools deb fmt fmt-check clippy test check check-debug demo bench soak fuzz clean

all: module tools

help:
	@echo "make demo           boot a 3-node cluster and show openmosix-rs at work"
	@echo "make check          run every test (ends with 'N passed, N failed')"
	@echo "make check-debug    the security, hostile-peer and soak scenarios on a debug kernel"
	@echo "make setup          install packages, toolchain pieces and build the cached kernel"
	@echo "make module         build openmosix.ko (KDIR=... for another kernel tree,"
	@echo "                    KERNEL=debian for Debian's own kernel package)"
	@echo "make module-clippy  build openmosix.ko through clippy, warnings denied"
	@echo "make tools          build the userspace tools (static) under tools/target"
	@echo "make test           host unit tests of the cargo workspace"
	@echo "make deb            Debian packages in build/deb (KDIR=... for another kernel tree)"
	@echo "make fmt            format all Rust code; make fmt-check only checks"
	@echo "make bench          benchmarks in QEMU clusters (prints measured ratios)"
	@echo "make soak           over 1000 migrations of self-checking processes (SOAK_HOPS=N)"
	@echo "make fuzz           fuzz every decoder of tools/omcore (FUZZ_SECONDS each)"
	@echo "make clippy         clippy on the workspace and the module"
	@echo "scripts/cluster run|up ...   boot clusters by hand (see README)"

setup:
	scripts/setup

module:
	scripts/kbuild modules

module-clippy:
	scripts/kbuild CLIPPY=1 modules

tools:
	cd tools && $(TOOLS_ENV) cargo build --release --locked --target $(TOOLS_TARGET)

# openmosix-tools and openmosix-modules-KVER (KVER: the release of the kernel tree KDIR).
deb:
	scripts/deb

fmt:
	$(CARGO_TOOLS) fmt
	rustfmt --edition 2021 $(LOOSE_RS)

fmt-check:
	$(CARGO_TOOLS) fmt --check
	rustfmt --edition 2021 --check $(LOOSE_RS)

clippy: module-clippy
	$(CARGO_TOOLS) clippy --locked --all-targets -- -D warnings

test:
	$(CARGO_TOOLS) test --locked

check:
	scripts/check

# The debug guest kernel (KASAN, SLUB debugging, kmemleak, lockdep; built and cached on first
# use) and the scenarios that stress the module hardest; any report fails the step.
check-debug:
	OPENMOSIX_KERNEL=debug CHECK_ONLY='setup|module build|tools build|cluster: (security|handshake|identity|hostile|confine|requests|soak|migrate)$$' scripts/check

demo:
	scripts/demo

bench:
	scripts/bench

soak:
	scripts/soak

fuzz:
	scripts/fuzz

clean:
	-scripts/kbuild clean
	$(CARGO_TOOLS) clean
	rm -rf build
