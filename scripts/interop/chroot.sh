#!/usr/bin/env bash
# Build (once) a Debian sid chroot holding Asterisk, for `make interop`.
# Idempotent: a stamp file marks a finished build; a half-built tree is removed and rebuilt.
set -euo pipefail
# Outside the repository: a tree of ~650 MB must not sit where the code is walked or copied.
ROOT="${INTEROP_CHROOT:-/var/cache/ivr-interop/asterisk-sid}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STAMP="$ROOT/.interop-ready"
if [ -f "$STAMP" ]; then echo "$ROOT"; exit 0; fi
command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
rm -rf "$ROOT"; mkdir -p "$(dirname "$ROOT")"
debootstrap --variant=minbase --include=asterisk,asterisk-modules,curl,ca-certificates sid "$ROOT" "$MIRROR" >&2
touch "$STAMP"
echo "$ROOT"
