#!/bin/sh
# quickstart.sh: set up a fresh Debian 12 machine for memprof, build it, and
#   ./quickstart.sh demo   profile the shipped example and print its report
#   ./quickstart.sh test   run the whole test suite (what CI runs)
# Safe to run again: installing is skipped when everything is present, and
# the build is incremental.  Needs root (or sudo) only to install packages.

set -eu
cd "$(dirname "$0")"
mode=${1:-demo}

# Debian packages needed to build and to test for real.
PKGS_BUILD="build-essential autoconf automake libtool pkg-config libproc2-dev
libcgroup-dev libncurses-dev zlib1g-dev libzstd-dev libcmocka-dev"
PKGS_TEST="python3 clang tmux procps docker.io busybox-static systemd strace libcap2-bin file"

# install_packages PKG...: apt-get the packages that are not installed yet.
install_packages() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "quickstart: installing$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build: configure once, then make.
build() {
    [ -x configure ] || ./autogen.sh >/dev/null 2>&1 || ./autogen.sh
    [ -f Makefile ] || ./configure --quiet
    make -j"$(nproc)" --no-print-directory >/dev/null
}

case $mode in
demo)
    install_packages $PKGS_BUILD python3
    build
    # Profile the shipped example, then show where its memory went.
    rm -f leaky-example.mprof
    ./memprof run -o leaky-example.mprof python3 contrib/examples/leaky.py
    ./memprof report leaky-example.mprof
    ;;
test)
    install_packages $PKGS_BUILD $PKGS_TEST
    build
    status=0
    make -j"$(nproc)" --no-print-directory check || status=$?
    sh tests/summary.sh .
    exit $status
    ;;
*)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac
