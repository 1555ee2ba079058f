#!/usr/bin/env bash
# Runs both README commands (scripts/demo.sh, then scripts/test.sh) from a clean
# clone inside a minimal Debian 12 root, so that a package the set-up forgets
# to install fails here instead of on a newcomer's machine. A developer's
# machine that already has the package hides it (libdnnl-dev's CMake config
# needing ocl-icd-opencl-dev was found this way).
#
#   bash scripts/fresh-check.sh [--demo-only] [--keep]
#
# Needs root (debootstrap, chroot, mounts) and the network the host uses for
# its packages. Only what reaching the same archives needs is carried over
# from the host: apt sources and Acquire settings, CA certificates, DNS, npm
# configuration. Everything else (compilers, libraries, Node.js, PyTorch) is
# installed inside by the README commands themselves. Takes 15-40 minutes
# (the root, the packages, two builds): too slow for every CI run; run it
# before resolving an issue that touches set-up.
#
# The root lives in ${C8_FRESH_ROOT:-/tmp/calibr8-fresh-root} and is made anew
# each run (--keep leaves it after the run, to look inside). The log is
# $ROOT.log.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SHARED=$(cd .. && pwd)/shared
ROOT=${C8_FRESH_ROOT:-/tmp/calibr8-fresh-root}
DEMO_ONLY=0
KEEP=0
for a in "$@"; do
  case "$a" in
    --demo-only) DEMO_ONLY=1 ;;
    --keep) KEEP=1 ;;
    *) echo "fresh-check: unknown option $a (use --demo-only, --keep)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
[ -d "$SHARED" ] || { echo "fresh-check: $SHARED missing (the shared models and data sets)" >&2; exit 2; }
case "$ROOT" in /|/tmp|/work|"$REPO"*) echo "fresh-check: refusing root folder $ROOT" >&2; exit 2 ;; esac

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "fresh-check: installing debootstrap" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
fi

# The Debian archive the host installs from (deb822 sources first, then the
# one-line format).
MIRROR=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$MIRROR" ] || MIRROR=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

unmount_all() {
  for m in dev/pts dev sys proc; do
    mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m" || true
  done
}
cleanup() {
  unmount_all
  if [ "$KEEP" = 0 ] && [ -d "$ROOT" ]; then rm -rf --one-file-system "$ROOT"; fi
}
trap cleanup EXIT

LOG="$ROOT.log"
: >"$LOG"
unmount_all
rm -rf --one-file-system "$ROOT"
mkdir -p "$ROOT"
start=$(date +%s)
echo "fresh-check: debootstrap bookworm from $MIRROR into $ROOT (log $LOG)" >&2
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >>"$LOG" 2>&1 ||
  { echo "fresh-check: debootstrap failed; see $LOG" >&2; tail -5 "$LOG" >&2; exit 1; }

# What reaching the same archives needs, and nothing else.
rm -f "$ROOT/etc/apt/sources.list"
cp -a /etc/apt/sources.list.d/. "$ROOT/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOT/etc/apt/sources.list"
for f in /etc/apt/apt.conf.d/*; do
  grep -q '^Acquire::' "$f" 2>/dev/null && cp "$f" "$ROOT/etc/apt/apt.conf.d/" || true
done
mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/usr/local/share/ca-certificates"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
  [ -f "$f" ] && { mkdir -p "$ROOT$(dirname "$f")"; cp "$f" "$ROOT$f"; }
done

# A clean clone of what is committed (not the working tree), and the shared assets beside it.
mkdir -p "$ROOT/work"
git clone -q "$REPO" "$ROOT/work/main"
cp -a "$SHARED" "$ROOT/work/shared"
echo "fresh-check: clone of $(git -C "$REPO" rev-parse --short HEAD) ready after $(( $(date +%s) - start )) s" >&2

mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"

run_in_root() {  # $1 = label, $2 = command
  local t0=$(date +%s) rc=0
  echo "fresh-check: $1 ..." >&2
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb bash -c "cd /work/main && $2" >>"$LOG" 2>&1 || rc=$?
  echo "fresh-check: $1: exit $rc after $(( $(date +%s) - t0 )) s" >&2
  return $rc
}
rc=0
run_in_root "bash scripts/demo.sh" "bash scripts/demo.sh" || rc=$?
if [ "$rc" = 0 ] && [ "$DEMO_ONLY" = 0 ]; then
  run_in_root "bash scripts/test.sh" "bash scripts/test.sh" || rc=$?
fi
if [ "$rc" = 0 ]; then
  grep -E 'tests passed|speedup' "$LOG" | tail -3 >&2 || true
  echo "fresh-check: PASSED in $(( $(date +%s) - start )) s" >&2
else
  tail -30 "$LOG" >&2
  echo "fresh-check: FAILED (exit $rc); full log $LOG" >&2
fi
exit $rc
