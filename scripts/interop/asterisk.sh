#!/usr/bin/env bash
# start|stop|rx CMD: Asterisk from the Debian sid chroot, configured from scripts/interop/asterisk/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$("$HERE/chroot.sh")"
CONF=/etc/asterisk-interop/asterisk.conf
case "${1:-}" in
  start)
    mkdir -p "$ROOT/etc/asterisk-interop" "$ROOT/tmp/ast-interop/"{spool,run,log}
    cp "$HERE"/asterisk/*.conf "$ROOT/etc/asterisk-interop/"
    printf 'PBX_TOKEN=%s\nWEBHOOK=%s\n' "${IVR_PBX_TOKEN:?set IVR_PBX_TOKEN}" "${WEBHOOK:-http://127.0.0.1:8090/api/pbx/answered}" \
      > "$ROOT/etc/asterisk-interop/globals.conf"
    mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    : > "$ROOT/tmp/ast-interop/console.log"
    chroot "$ROOT" /usr/sbin/asterisk -f -C "$CONF" > "$ROOT/tmp/ast-interop/console.log" 2>&1 &
    echo $! > "$ROOT/tmp/ast-interop/pid"
    for _ in $(seq 1 60); do
      chroot "$ROOT" /usr/sbin/asterisk -C "$CONF" -rx "core waitfullybooted" >/dev/null 2>&1 && { echo "asterisk up (pid $(cat "$ROOT/tmp/ast-interop/pid"))"; exit 0; }
      sleep 0.5
    done
    echo "asterisk did not boot; see $ROOT/tmp/ast-interop/console.log" >&2; exit 1 ;;
  rx) shift; chroot "$ROOT" /usr/sbin/asterisk -C "$CONF" -rx "$*" ;;
  log) cat "$ROOT/tmp/ast-interop/log/full" 2>/dev/null || true ;;
  stop)
    chroot "$ROOT" /usr/sbin/asterisk -C "$CONF" -rx "core stop now" >/dev/null 2>&1 || true
    pid="$(cat "$ROOT/tmp/ast-interop/pid" 2>/dev/null || true)"
    if [ -n "$pid" ]; then for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done; kill "$pid" 2>/dev/null || true; fi
    mountpoint -q "$ROOT/proc" && umount "$ROOT/proc" || true ;;
  *) echo "usage: $0 start|stop|rx CMD|log" >&2; exit 2 ;;
esac
