#!/bin/sh
# Installs, with apt-get, only the Debian 12 packages certgate needs that are
# missing. Idempotent: a second run installs nothing and prints nothing.
set -eu

NEEDED="build-essential cmake pkg-config libssl-dev libyaml-dev libjansson-dev
libcurl4-openssl-dev libcmocka-dev libmimalloc-dev clang libclang-rt-14-dev curl openssl faketime
iproute2 procps strace valgrind"

missing=""
for pkg in $NEEDED; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        *"ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
