"""Speech recognition: two Whisper backends behind one small interface (`asr.Backend`).

`get_backend(AsrOptions(...))` loads a model once (cached per options in this process) and returns
a `Backend` whose `transcribe(samples)` turns 16 kHz mono float32 samples into `AsrSegment`s with
times relative to the array given. Voice activity detection is the caller's job; both backends
decode without conditioning on previous text and with Whisper's guards against text invented in
silence, and their output goes through the same clean-up (`segments.clean_segments`). With
`AsrOptions.word_timestamps` each segment carries its words' times (`AsrSegment.words`). Model
files are found by `models.resolve_model`. The ASR libraries are imported lazily, so this module
imports without them.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import ModelError
from analyzer.registry import Registry
from analyzer.speech.asr import SAMPLE_RATE, AsrOptions, AsrSegment, AsrWord, Backend
from analyzer.speech.models import dir_label, missing_package, model_label, resolve_model
from analyzer.speech.segments import clean_segments, collapse_spelling

log = logging.getLogger(__name__)


def _flat(windows: Sequence[tuple[float, float]], duration: float) -> list[float]:
    """Windows as Whisper's `clip_timestamps`: start, end, start, end... within the audio."""
    return [t for a, b in windows if a < duration for t in (a, min(b, duration))]


def _as_audio(samples: np.ndarray) -> np.ndarray:
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected 1-D mono samples at 16 kHz, got shape {audio.shape}")
    return np.ascontiguousarray(audio)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _words(raw: Iterable[Any] | None) -> tuple[AsrWord, ...]:
    """The recogniser's word timings (openai-whisper's dicts, faster-whisper's `Word`s) as
    whitespace-separated words: Whisper splits some at a hyphen or a dot (" high", "-end";
    " a", ".m."), and a piece that does not start with a space is joined to the one before."""
    words: list[AsrWord] = []
    for w in raw or ():
        if isinstance(w, dict):
            start, end, text = float(w["start"]), float(w["end"]), str(w["word"])
        else:
            start, end, text = float(w.start), float(w.end), str(w.word)
        if words and text and not text[0].isspace():
            last = words[-1]
            words[-1] = AsrWord(last.start, max(last.end, end), last.text + text)
        else:
            words.append(AsrWord(start, end, text))
    return tuple(words)


def _keep_words(segments: list[AsrSegment], duration: float) -> list[AsrSegment]:
    """Cleaned segments whose words still say what their text says.

    `clean_segments` may collapse a repetition loop in the text; the words kept are then the
    first occurrences, as in the text (matched in order, word by word). Words that cannot be
    matched to the text are dropped for that segment, so the pipeline shares its text out by
    time instead. Word times are clipped to the audio, in order.
    """
    kept = []
    for seg in segments:
        if seg.words:
            tokens = seg.text.split()
            matched: list[AsrWord] = []
            for word in seg.words:
                if len(matched) == len(tokens):
                    break
                said, token = word.text.strip(), tokens[len(matched)]
                if said == token:
                    matched.append(word)
                elif collapse_spelling(said) == token:  # a spelt-out loop cut in the text
                    matched.append(replace(word, text=word.text[: word.text.find(said)] + token))
            words: tuple[AsrWord, ...] = ()
            if len(matched) == len(tokens):
                floor = 0.0
                clipped = []
                for word in matched:
                    start = min(max(word.start, floor), duration)
                    end = min(max(word.end, start), duration)
                    clipped.append(replace(word, start=start, end=end))
                    floor = start
                words = tuple(clipped)
            seg = replace(seg, words=words)
        kept.append(seg)
    return kept


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _language(
    language: str | None, multilingual: bool, known: Iterable[str], label: str
) -> str | None:
    """The language to decode in: English for English-only models, else as asked (None: detect)."""
    if not multilingual:
        if language not in (None, "en"):
            log.warning("%s is an English-only model; transcribing %r as English", label, language)
        return "en"
    if language is not None and language not in set(known):
        raise ModelError(
            f"model {label} does not know the language '{language}': give a code such as "
            "'en' or 'de', or none to detect it"
        )
    return language


# ---------------------------------------------------------------------------------------------
# openai-whisper


class OpenAIWhisperBackend:
    """The reference implementation: openai-whisper on PyTorch."""

    name = "openai-whisper"

    def __init__(self, options: AsrOptions) -> None:
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise missing_package("openai-whisper") from exc
        self.options = options
        path = Path(resolve_model(options))
        self.model_path = path
        self.model_label = model_label(options)
        if options.device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"cannot use device '{options.device}': PyTorch sees no CUDA GPU")
        try:
            model = whisper.load_model(
                str(path), device=options.device, download_root=str(options.model_dir)
            )
        except Exception as exc:
            raise ModelError(f"cannot load {path}: {_checkpoint_problem(exc)}") from exc
        heads = whisper._ALIGNMENT_HEADS.get(path.name.removesuffix(".pt"))
        if heads is not None:  # what load_model does for official names, for word timings
            try:
                model.set_alignment_heads(heads)
            except Exception as exc:
                log.debug("%s: not the official %s alignment heads: %s", path, path.name, exc)
        self.model = model
        self.language = _language(
            options.language, model.is_multilingual, whisper.tokenizer.LANGUAGES, self.model_label
        )

    def transcribe(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]] | None = None
    ) -> list[AsrSegment]:
        import whisper

        audio = _as_audio(samples)
        if audio.size == 0:
            return []
        opts = self.options
        temperatures = opts.temperatures or (0.0,)
        result = whisper.transcribe(
            self.model,
            audio,
            verbose=None,  # no printing, no progress bar
            temperature=temperatures if len(temperatures) > 1 else temperatures[0],
            compression_ratio_threshold=opts.compression_ratio_threshold,
            logprob_threshold=opts.logprob_threshold,
            no_speech_threshold=opts.no_speech_threshold,
            condition_on_previous_text=False,
            word_timestamps=opts.word_timestamps,
            clip_timestamps=_flat(windows, audio.size / SAMPLE_RATE) if windows else "0",
            language=self.language,
            beam_size=opts.beam_size if opts.beam_size > 1 else None,  # 1: greedy
            fp16=opts.device.startswith("cuda"),
        )
        segments = (
            AsrSegment(
                start=float(s["start"]),
                end=float(s["end"]),
                text=str(s["text"]),
                avg_logprob=_optional_float(s.get("avg_logprob")),
                no_speech_prob=_optional_float(s.get("no_speech_prob")),
                words=_words(s.get("words")) if opts.word_timestamps else (),
            )
            for s in result["segments"]
        )
        duration = audio.size / SAMPLE_RATE
        cleaned = clean_segments(
            segments,
            duration=duration,
            no_speech_threshold=opts.no_speech_threshold,
            logprob_threshold=opts.logprob_threshold,
        )
        return _keep_words(cleaned, duration)


CORRUPT_CHECKPOINT = "not a PyTorch checkpoint (corrupt or incomplete file?)"


def _checkpoint_problem(exc: BaseException) -> str:
    """One line on why a checkpoint did not load (torch's own messages run to paragraphs)."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError | EOFError) or "PytorchStreamReader" in text:
        return CORRUPT_CHECKPOINT  # random bytes, a truncated zip, an empty file
    if isinstance(exc, OSError):
        # torch reads a truncated zip as EINVAL
        return CORRUPT_CHECKPOINT if exc.errno == errno.EINVAL else exc.strerror or _reason(exc)
    if isinstance(exc, KeyError):
        return f"not a Whisper checkpoint (it has no {_reason(exc)})"
    if isinstance(exc, TypeError | AttributeError):
        return "not a Whisper checkpoint (its 'dims' are not Whisper's model dimensions)"
    if "Error(s) in loading state_dict" in text:
        return "the weights do not match the model dimensions stored in the checkpoint"
    return _reason(exc)


# ---------------------------------------------------------------------------------------------
# faster-whisper


def _cpu_threads() -> int:
    """CTranslate2's CPU threads: its default is 4 whatever the machine, and on 2 cores that
    oversubscription made decoding ~3x slower. OMP_NUM_THREADS, when set, decides (0)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return 0
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 4
    return max(1, min(4, available))


def _ct2_problem(exc: BaseException) -> str:
    """One line on why a CTranslate2 model folder did not load."""
    version = re.search(r"model has binary version v(\d+)", str(exc))
    if version and int(version.group(1)) > 1000:  # random bytes read as a version number
        return "model.bin is not a CTranslate2 model (corrupt or incomplete file?)"
    return _reason(exc)


class FasterWhisperBackend:
    """Whisper on CTranslate2: the same models, converted; several times faster on CPU."""

    name = "faster-whisper"

    def __init__(self, options: AsrOptions) -> None:
        try:
            import ctranslate2
            import faster_whisper
        except ImportError as exc:
            raise missing_package("faster-whisper") from exc
        self.options = options
        folder = Path(resolve_model(options))
        self.model_path = folder
        self.model_label = model_label(options)
        device = options.device.split(":")[0]
        index = int(options.device.split(":")[1]) if ":" in options.device else 0
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise ModelError(f"cannot use device '{options.device}': CTranslate2 sees no CUDA GPU")
        compute_type = options.compute_type or ("float16" if device == "cuda" else "int8")
        try:
            self.model = faster_whisper.WhisperModel(
                str(folder),
                device=device,
                device_index=index,
                compute_type=compute_type,
                cpu_threads=_cpu_threads(),
                local_files_only=True,
            )
        except Exception as exc:
            raise ModelError(f"cannot load {dir_label(folder)}: {_ct2_problem(exc)}") from exc
        self.pipeline = (
            faster_whisper.BatchedInferencePipeline(self.model) if options.batch_size > 0 else None
        )
        self.language = _language(
            options.language,
            self.model.model.is_multilingual,
            self.model.supported_languages,
            self.model_label,
        )

    def transcribe(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]] | None = None
    ) -> list[AsrSegment]:
        audio = _as_audio(samples)
        if audio.size == 0:
            return []
        opts = self.options
        duration = audio.size / SAMPLE_RATE
        common: dict[str, Any] = {
            "language": self.language,
            "beam_size": opts.beam_size,
            "compression_ratio_threshold": opts.compression_ratio_threshold,
            "log_prob_threshold": opts.logprob_threshold,
            "no_speech_threshold": opts.no_speech_threshold,
            "condition_on_previous_text": False,
            "word_timestamps": opts.word_timestamps,
            "vad_filter": False,  # the caller has done VAD
            "temperature": list(opts.temperatures or (0.0,)),
        }
        if self.pipeline is not None:
            # No VAD here: the caller's windows, else fixed 30 s cuts, batched.
            cuts = windows or [
                (t, min(t + 30.0, duration)) for t in np.arange(0.0, duration, 30.0).tolist()
            ]
            clips = [{"start": a, "end": min(b, duration)} for a, b in cuts if a < duration]
            raw, _info = self.pipeline.transcribe(
                audio,
                batch_size=opts.batch_size,
                clip_timestamps=clips,
                without_timestamps=False,
                **common,
            )
        else:
            clip = _flat(windows, duration) if windows else "0"
            raw, _info = self.model.transcribe(audio, clip_timestamps=clip, **common)
        segments = (
            AsrSegment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                avg_logprob=_optional_float(s.avg_logprob),
                no_speech_prob=_optional_float(s.no_speech_prob),
                words=_words(s.words) if opts.word_timestamps else (),
            )
            for s in raw
        )
        cleaned = clean_segments(
            segments,
            duration=duration,
            no_speech_threshold=opts.no_speech_threshold,
            logprob_threshold=opts.logprob_threshold,
        )
        return _keep_words(cleaned, duration)


# ---------------------------------------------------------------------------------------------
# The backends by name, each model loaded once per process


# Named in the order the unknown-backend message lists them.
BACKENDS: Registry[type[Backend]] = Registry(
    "speech recognition backend",
    {
        FasterWhisperBackend.name: FasterWhisperBackend,
        OpenAIWhisperBackend.name: OpenAIWhisperBackend,
    },
    error=ModelError,
)

_loaded: dict[AsrOptions, Backend] = {}
_lock = threading.Lock()


def get_backend(options: AsrOptions) -> Backend:
    """The backend for `options`, its model loaded once per process. Raises ModelError."""
    with _lock:
        backend = _loaded.get(options)
        if backend is None:
            backend = BACKENDS.get(options.backend)(options)  # type: ignore[call-arg]
            _loaded[options] = backend
    return backend


def clear_backends() -> None:
    """Forget the loaded models (frees their memory once nothing else holds them)."""
    with _lock:
        _loaded.clear()
