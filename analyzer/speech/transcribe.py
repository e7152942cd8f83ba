"""Speech recognition: two Whisper backends behind one small interface.

`get_backend(AsrOptions(...))` loads a model once (cached per options in this process) and returns
a `Backend` whose `transcribe(samples)` turns 16 kHz mono float32 samples into `AsrSegment`s with
times relative to the array given. Voice activity detection is the caller's job; both backends
decode without conditioning on previous text and with Whisper's guards against text invented in
silence, and their output goes through the same clean-up (`clean_segments`).

Model files are resolved by `resolve_model`: a path, then `model_dir` (``models/``), then the
library's own cache, then a download into `model_dir`. Anything that fails becomes one
`ModelError` that names the file to place and where. The ASR libraries are imported lazily, so
this module imports without them.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import pickle
import re
import shutil
import string
import tempfile
import threading
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from analyzer.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Whisper's own fallback: decode at 0, retry hotter when the output looks like a loop
# (compression ratio) or like guesswork (average log-probability).
DEFAULT_TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# A download gives up when no data has come for this long (seconds).
DOWNLOAD_TIMEOUT = 30.0
# Segments that start later than this past the end of the array are dropped (seconds).
END_SLACK = 1.0
README = "models/README.md"
FASTER_WHISPER_FILES = "model.bin, config.json, tokenizer.json, vocabulary.*"


@dataclass(frozen=True)
class AsrOptions:
    backend: str = "faster-whisper"  # "openai-whisper" | "faster-whisper"
    model: str = "base.en"  # model name, or a path to a checkpoint/model folder
    model_dir: Path = Path("models")  # looked in first
    language: str | None = "en"  # None: detect
    beam_size: int = 5
    device: str = "cpu"  # "cpu" | "cuda"
    compute_type: str | None = None  # faster-whisper: None -> int8 on cpu, float16 on cuda
    word_timestamps: bool = False
    no_speech_threshold: float = 0.6  # Whisper's guards against text invented in silence
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Decoding temperatures, tried in turn while the output fails the thresholds above.
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    # faster-whisper only: > 0 decodes 30 s windows in batches of this size with
    # BatchedInferencePipeline (GPU throughput; no temperature fallback, fixed 30 s cuts).
    batch_size: int = 0


@dataclass(frozen=True)
class AsrSegment:
    start: float  # seconds from the start of the array given
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


class Backend(Protocol):
    name: str
    model_label: str  # what to record in a transcript's source ("base.en" or the file name)

    def transcribe(self, samples: np.ndarray) -> list[AsrSegment]: ...


# ---------------------------------------------------------------------------------------------
# Post-processing


_STRIP = string.punctuation + "…¿¡“”‘’«»"
MAX_LOOP_NGRAM = 8
MIN_LOOP_REPEATS = 3


def remove_repetition_loops(text: str) -> str:
    """Collapse a run of 3+ repeats of the same 1..8-word sequence into one occurrence.

    Words compare case-insensitively and without surrounding punctuation; the first occurrence is
    kept as written. "thank you thank you thank you" -> "thank you"; "no no" stays.
    """
    words = text.split()
    changed = False
    for _ in range(10):  # collapsing can expose a shorter loop: repeat until nothing changes
        collapsed = _collapse_once(words)
        if len(collapsed) == len(words):
            break
        words, changed = collapsed, True
    return " ".join(words) if changed else text


def _collapse_once(words: list[str]) -> list[str]:
    keys = [w.lower().strip(_STRIP) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        best_n, best_reps = 0, 0
        for n in range(1, min(MAX_LOOP_NGRAM, (len(words) - i) // MIN_LOOP_REPEATS) + 1):
            gram = keys[i : i + n]
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            if reps >= MIN_LOOP_REPEATS and n * reps > best_n * best_reps:
                best_n, best_reps = n, reps
        if best_n:
            out.extend(words[i : i + best_n])
            i += best_n * best_reps
        else:
            out.append(words[i])
            i += 1
    return out


def clean_segments(
    segments: Iterable[AsrSegment],
    *,
    duration: float | None = None,
    no_speech_threshold: float = 0.6,
    logprob_threshold: float = -1.0,
) -> list[AsrSegment]:
    """The segments worth keeping, tidied.

    Drops segments Whisper marks as silence (no-speech probability above `no_speech_threshold`
    and average log-probability below `logprob_threshold`), collapses repetition loops, drops
    empty text and a segment that repeats the previous kept one exactly. With `duration`, times
    are clipped to [0, duration] and segments starting more than `END_SLACK` past it dropped.
    """
    kept: list[AsrSegment] = []
    previous: str | None = None
    for seg in segments:
        if (
            seg.no_speech_prob is not None
            and seg.avg_logprob is not None
            and seg.no_speech_prob > no_speech_threshold
            and seg.avg_logprob < logprob_threshold
        ):
            continue
        text = remove_repetition_loops(seg.text.strip()).strip()
        if not text or text == previous:
            continue
        start, end = max(0.0, float(seg.start)), max(0.0, float(seg.end))
        if duration is not None:
            if start > duration + END_SLACK:
                continue
            start, end = min(start, duration), min(end, duration)
        kept.append(replace(seg, start=start, end=max(start, end), text=text))
        previous = text
    return kept


def _as_audio(samples: np.ndarray) -> np.ndarray:
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected 1-D mono samples at 16 kHz, got shape {audio.shape}")
    return np.ascontiguousarray(audio)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------------------------------------
# Model resolution


def resolve_model(options: AsrOptions) -> str:
    """The path the backend will load, found in this order: `options.model` as a path,
    `model_dir`, the library's cache, a download into `model_dir`. Raises ModelError."""
    if options.backend == "openai-whisper":
        return str(_resolve_whisper(options))
    if options.backend == "faster-whisper":
        return str(_resolve_faster_whisper(options))
    raise ModelError(
        f"unknown speech recognition backend '{options.backend}' "
        f"(choose from {', '.join(sorted(BACKENDS))})"
    )


def _dir_label(path: Path) -> str:
    return f"{path.as_posix().rstrip('/')}/"


def _looks_like_path(model: str, backend: str) -> bool:
    if model.startswith(("/", "./", "../", "~")) or "\\" in model:
        return True
    if backend == "openai-whisper":
        return "/" in model or model.endswith(".pt")
    return False  # "owner/name" is a Hugging Face model id for faster-whisper


def _given_path(options: AsrOptions) -> Path | None:
    path = Path(options.model).expanduser()
    if path.exists():
        return path
    if _looks_like_path(options.model, options.backend):
        raise ModelError(f"{options.model}: no such file or folder")
    return None


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _whisper_cache_dir() -> Path:
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.getenv("XDG_CACHE_HOME", default)) / "whisper"


def _resolve_whisper(options: AsrOptions) -> Path:
    name = options.model
    given = _given_path(options)
    if given is not None:
        if given.is_dir():
            raise ModelError(
                f"{_dir_label(given)} is a folder: openai-whisper needs a checkpoint file (NAME.pt)"
            )
        return given
    local = options.model_dir / f"{name}.pt"
    if local.is_file():
        return local

    urls = _whisper_urls()
    cached = _whisper_cache_dir() / (os.path.basename(urls[name]) if name in urls else f"{name}.pt")
    if cached.is_file():
        return cached

    hint = f"place {name}.pt in {_dir_label(options.model_dir)} (see {README})"
    if name not in urls:
        raise ModelError(f"no openai-whisper model '{name}' found: {hint}")
    missing = ModelError(
        f"no openai-whisper model '{name}' found: {hint}, "
        "or connect to the internet once to download it"
    )
    if _env_offline():
        raise missing
    try:
        return _download_whisper(urls[name], local)
    except Exception as exc:
        log.warning("downloading openai-whisper model %r failed: %s", name, exc)
        raise missing from exc


def _whisper_urls() -> dict[str, str]:
    try:
        import whisper
    except ImportError:
        return {}
    return dict(whisper._MODELS)


def _download_whisper(url: str, target: Path) -> Path:
    """Fetch a checkpoint into `target`, checking the SHA-256 in its URL, atomically."""
    expected = url.split("/")[-2]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    part = Path(part_name)
    try:
        digest = hashlib.sha256()
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as src,
        ):
            while chunk := src.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise OSError(f"checksum mismatch for {url}")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, target)
    return target


def _faster_whisper_folder(options: AsrOptions) -> Path:
    """Where an admin should place the model folder for `options.model`."""
    name = options.model
    return options.model_dir / (name if "/" in name else f"faster-whisper-{name}")


def _check_ct2_folder(folder: Path) -> Path:
    for needed in ("model.bin", "tokenizer.json"):
        if not (folder / needed).is_file():
            raise ModelError(
                f"{_dir_label(folder)} has no {needed}: place the converted model there "
                f"({FASTER_WHISPER_FILES}; see {README})"
            )
    return folder


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    default = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(os.environ.get("HF_HOME", default)).expanduser() / "hub"


def _resolve_faster_whisper(options: AsrOptions) -> Path:
    name = options.model
    given = _given_path(options)
    if given is not None:
        return _check_ct2_folder(given.parent if given.name == "model.bin" else given)

    candidates = [options.model_dir / f"faster-whisper-{name}", options.model_dir / name]
    existing = [c for c in candidates if c.is_dir()]
    for folder in existing:
        if (folder / "model.bin").is_file():
            return _check_ct2_folder(folder)
    if existing:
        _check_ct2_folder(existing[0])  # raises: says what the folder lacks

    try:
        from faster_whisper.utils import available_models, download_model
    except ImportError as exc:
        raise _missing_package("faster-whisper") from exc

    downloadable = "/" in name or name in available_models()
    if downloadable:
        try:
            cached = download_model(name, local_files_only=True, cache_dir=str(_hf_cache_dir()))
            if (Path(cached) / "model.bin").is_file():
                return _check_ct2_folder(Path(cached))
        except Exception as exc:
            log.debug("faster-whisper model %r is not in the hub cache: %s", name, exc)

    folder = _faster_whisper_folder(options)
    hint = f"place the folder {_dir_label(folder)} with {FASTER_WHISPER_FILES} (see {README})"
    if not downloadable:
        raise ModelError(f"no faster-whisper model '{name}' found: {hint}")
    missing = ModelError(
        f"no faster-whisper model '{name}' found: {hint}, "
        "or connect to the internet once to download it"
    )
    if _env_offline():
        raise missing
    try:
        return _download_faster_whisper(name, folder, download_model)
    except Exception as exc:
        log.warning("downloading faster-whisper model %r failed: %s", name, exc)
        raise missing from exc


def _download_faster_whisper(name: str, folder: Path, download_model: Any) -> Path:
    """Fetch a converted model into `folder` (a hidden sibling first, renamed when complete).
    The hub client's own timeouts apply (HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_ETAG_TIMEOUT)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        download_model(name, output_dir=str(part))
        shutil.rmtree(part / ".cache", ignore_errors=True)
        os.replace(part, folder)
    finally:
        shutil.rmtree(part, ignore_errors=True)
    log.info("downloaded faster-whisper model %r to %s", name, folder)
    return _check_ct2_folder(folder)


def _missing_package(package: str) -> ModelError:
    return ModelError(
        f"the {package} backend is not installed: pip install {package} (or choose another backend)"
    )


def _model_label(options: AsrOptions) -> str:
    path = Path(options.model).expanduser()
    return path.name if path.exists() else options.model


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
# Backends


class OpenAIWhisperBackend:
    """The reference implementation: openai-whisper on PyTorch."""

    name = "openai-whisper"

    def __init__(self, options: AsrOptions) -> None:
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise _missing_package("openai-whisper") from exc
        self.options = options
        path = Path(resolve_model(options))
        self.model_path = path
        self.model_label = _model_label(options)
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

    def transcribe(self, samples: np.ndarray) -> list[AsrSegment]:
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
            )
            for s in result["segments"]
        )
        return clean_segments(
            segments,
            duration=audio.size / SAMPLE_RATE,
            no_speech_threshold=opts.no_speech_threshold,
            logprob_threshold=opts.logprob_threshold,
        )


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
            raise _missing_package("faster-whisper") from exc
        self.options = options
        folder = Path(resolve_model(options))
        self.model_path = folder
        self.model_label = _model_label(options)
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
            raise ModelError(f"cannot load {_dir_label(folder)}: {_ct2_problem(exc)}") from exc
        self.pipeline = (
            faster_whisper.BatchedInferencePipeline(self.model) if options.batch_size > 0 else None
        )
        self.language = _language(
            options.language,
            self.model.model.is_multilingual,
            self.model.supported_languages,
            self.model_label,
        )

    def transcribe(self, samples: np.ndarray) -> list[AsrSegment]:
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
            # No VAD here, so the pipeline gets fixed 30 s windows to batch.
            windows = [
                {"start": t, "end": min(t + 30.0, duration)}
                for t in np.arange(0.0, duration, 30.0).tolist()
            ]
            raw, _info = self.pipeline.transcribe(
                audio,
                batch_size=opts.batch_size,
                clip_timestamps=windows,
                without_timestamps=False,
                **common,
            )
        else:
            raw, _info = self.model.transcribe(audio, **common)
        segments = (
            AsrSegment(
                start=float(s.start),
                end=float(s.end),
                text=s.text,
                avg_logprob=_optional_float(s.avg_logprob),
                no_speech_prob=_optional_float(s.no_speech_prob),
            )
            for s in raw
        )
        return clean_segments(
            segments,
            duration=duration,
            no_speech_threshold=opts.no_speech_threshold,
            logprob_threshold=opts.logprob_threshold,
        )


BACKENDS: dict[str, type] = {
    OpenAIWhisperBackend.name: OpenAIWhisperBackend,
    FasterWhisperBackend.name: FasterWhisperBackend,
}

_loaded: dict[AsrOptions, Backend] = {}
_lock = threading.Lock()


def get_backend(options: AsrOptions) -> Backend:
    """The backend for `options`, its model loaded once per process. Raises ModelError."""
    with _lock:
        backend = _loaded.get(options)
        if backend is None:
            cls = BACKENDS.get(options.backend)
            if cls is None:
                raise ModelError(
                    f"unknown speech recognition backend '{options.backend}' "
                    f"(choose from {', '.join(sorted(BACKENDS))})"
                )
            backend = cls(options)
            _loaded[options] = backend
    return backend


def clear_backends() -> None:
    """Forget the loaded models (frees their memory once nothing else holds them)."""
    with _lock:
        _loaded.clear()


__all__ = [
    "BACKENDS",
    "AsrOptions",
    "AsrSegment",
    "Backend",
    "FasterWhisperBackend",
    "OpenAIWhisperBackend",
    "clean_segments",
    "clear_backends",
    "get_backend",
    "remove_repetition_loops",
    "resolve_model",
]
