"""Transcription speed: both backends on the same tiny random weights and the same stereo call.

The call is spoken by Piper (espeak-ng without it) from the sample transcripts (rep left, customer
right, 8 kHz); the models are the tests' tiny random Whisper, as an openai-whisper checkpoint and
the very same weights converted to CTranslate2 for faster-whisper, so the comparison is like for
like. Each backend runs in its own process so its peak memory is its own. Reported: real-time
factor (audio seconds per wall second), peak memory, and the share of channel-seconds VAD sends
on.

    python bench/bench_transcribe.py [--beam-size 5] [--seconds 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"tiny": {}, "base": {"width": 512, "heads": 8, "layers": 6}}
sys.path.insert(0, str(ROOT / "tests"))


def make_call(folder: Path, seconds: float) -> Path:
    """A stereo call of about `seconds`, from the sample transcripts' lines."""
    from synth import synthesise_call

    from analyzer.runs.discover import find_calls
    from analyzer.transcripts.readers import read_transcript
    from analyzer.transcripts.transcript import Turn

    turns: list[Turn] = []
    for path in find_calls([ROOT / "samples"]):
        for turn in read_transcript(path).turns:
            role = "rep" if turn.role == "rep" or turn.speaker in ("Alice", "Ben") else "customer"
            turns.append(Turn(turn.speaker, turn.text, role=role))
    chosen, total = [], 0.0
    for turn in turns:  # ~2.6 words a second of speech, plus the gaps
        chosen.append(turn)
        total += len(turn.text.split()) / 2.6 + 0.6
        if total >= seconds:
            break
    path = folder / "call.wav"
    synthesise_call(chosen, path)
    return path


def peak_rss_mb() -> int:
    """This process's peak resident memory since it started (VmHWM: unlike ru_maxrss it does
    not carry over the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def run_one(backend: str, model_dir: Path, call: Path, beam_size: int) -> dict:
    """Transcribe the call with one backend (in this process) and report."""
    from analyzer.speech.backends import get_backend
    from analyzer.speech.pipeline import transcribe_call
    from analyzer.speech.settings import TranscribeSettings

    settings = TranscribeSettings(
        backend=backend, model="random", model_dir=model_dir, beam_size=beam_size, cache_dir=None
    )
    # Temperature 0 only: a random model fails Whisper's quality checks on every window, so the
    # default fallback would retry each one at five more temperatures (real models rarely do).
    options = replace(settings.asr_options(), temperatures=(0.0,))
    loaded = time.perf_counter()
    asr = get_backend(options)
    load_seconds = time.perf_counter() - loaded
    started = time.perf_counter()
    transcript = transcribe_call(call, settings, backend=asr)
    wall = time.perf_counter() - started
    src = transcript.source
    return {
        "backend": backend,
        "beam_size": beam_size,
        "audio_seconds": src["audio_seconds"],
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(src["audio_seconds"] / wall, 1),
        "model_load_seconds": round(load_seconds, 2),
        "vad_share": round(src["speech_seconds"] / src["channel_seconds"], 3),
        "turns": len(transcript.turns),
        "words": sum(len(t.text.split()) for t in transcript.turns),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="tiny",
        help="tiny (the tests' model) or base (random weights of base.en's size)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--one", nargs=3, metavar=("BACKEND", "MODEL_DIR", "CALL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        backend, model_dir, call = args.one
        print(json.dumps(run_one(backend, Path(model_dir), Path(call), args.beam_size)))
        return

    from tiny_models import build_tiny_faster_whisper, build_tiny_whisper

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        checkpoint = build_tiny_whisper(models / "random.pt", **SIZES[args.size])
        build_tiny_faster_whisper(models / "faster-whisper-random", from_whisper=checkpoint)
        call = make_call(Path(tmp), args.seconds)
        results = []
        for backend in ("openai-whisper", "faster-whisper"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--beam-size",
                    str(args.beam_size),
                    "--one",
                    backend,
                    str(models),
                    str(call),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ref, fast = results
    speedup = round(fast["real_time_factor"] / ref["real_time_factor"], 1)
    if args.json:
        print(json.dumps({"results": results, "speedup": speedup}))
        return
    print(
        f"Transcribing a {ref['audio_seconds']:.0f} s stereo call (espeak-ng, 8 kHz), random "
        f"Whisper weights of {args.size} size, beam {args.beam_size}, temperature 0, CPU"
    )
    for r in results:
        print(
            f"  {r['backend']:<15} real-time factor {r['real_time_factor']:>6}x  "
            f"({r['wall_seconds']} s)  peak memory {r['peak_rss_mb']} MB  "
            f"model load {r['model_load_seconds']} s, {r['words']} words"
        )
    print(f"  faster-whisper / openai-whisper: {speedup}x  (goal >= 4x)")
    print(
        f"  VAD sends {100 * ref['vad_share']:.0f}% of channel-seconds to the recogniser "
        "(goal <= 60%)"
    )


if __name__ == "__main__":
    main()
