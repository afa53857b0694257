#!/usr/bin/env bash
# Installs (as root, from Debian's packages) every peer tool the tests use: makedumpfile,
# libkdumpfile, drgn, crash and chromium for the interop suites; QEMU, busybox-static,
# kexec-tools and friends for the real-kernel dumps of scripts/real/build.mjs (qemu-system-arm and
# an aarch64 cross compiler for the arm64 ones, whose kernel and busybox packages build.mjs
# fetches as arm64 packages: hence the foreign architecture); tmux (the progress line in a real
# 80-column terminal) and man-db (the man page renders). .ci/run runs it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends makedumpfile python3-libkdumpfile python3-drgn crash chromium fonts-dejavu-core time \
  qemu-system-x86 busybox-static kexec-tools cpio e2fsprogs kmod xz-utils gcc libc6-dev file tmux man-db \
  qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
