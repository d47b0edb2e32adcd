"""Spoken digits for the sound tests: "zero" to "nine" said by Debian's espeak-ng in several voices (an
accent and a voice variant), speeds and pitches, as WAV clips in one subfolder per digit.

`python -m tests.spoken_digits FOLDER [--held-out]` writes the training voices (or the held-out ones)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m3", "m5", "f1", "f3")
#: voices never heard in training: other accents, other variants
HELD_OUT_ACCENTS = ("en-029", "en-us-nyc")
HELD_OUT_VARIANTS = ("m2", "f2")
SPEEDS = (130, 175)
PITCHES = (35, 65)


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def voices(held_out: bool = False) -> list[str]:
    accents, variants = (HELD_OUT_ACCENTS, HELD_OUT_VARIANTS) if held_out else (ACCENTS, VARIANTS)
    return [f"{a}+{v}" for a, v in product(accents, variants)]


def spoken_digits(
    folder: Path,
    held_out: bool = False,
    speeds: tuple[int, ...] = SPEEDS,
    pitches: tuple[int, ...] = PITCHES,
    voice_list: list[str] | None = None,
) -> Path:
    """One WAV clip (22,050 Hz, as espeak-ng writes them) per digit, voice, speed and pitch."""
    jobs = []
    for word in WORDS:
        (folder / word).mkdir(parents=True, exist_ok=True)
        for voice, speed, pitch in product(voice_list or voices(held_out), speeds, pitches):
            name = f"{voice.replace('+', '_')}-{speed}-{pitch}.wav"
            jobs.append(
                ["espeak-ng", "-w", str(folder / word / name), "-v", voice, "-s", str(speed), "-p", str(pitch), word]
            )
    with ThreadPoolExecutor(4) as pool:
        for done in pool.map(lambda cmd: subprocess.run(cmd, capture_output=True, timeout=60), jobs):
            if done.returncode != 0:
                raise RuntimeError(f"espeak-ng failed: {done.stderr.decode()[:200]}")
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--held-out", action="store_true", help="the voices never used in training")
    args = parser.parse_args()
    spoken_digits(args.folder, args.held_out)
    print(f"wrote {sum(1 for _ in args.folder.rglob('*.wav'))} clips under {args.folder}")
