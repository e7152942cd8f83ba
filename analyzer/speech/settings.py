"""Transcription settings: declared once, with defaults and a comment each, validated together.

The CLI builds one from its options; a configuration file can build one from a table. An
unknown key or a bad value is refused with every problem listed at once. Recogniser defaults
come from `AsrOptions` and VAD defaults from `VadSettings`, so each default lives in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analyzer.errors import ConfigError
from analyzer.speech.asr import AsrOptions
from analyzer.speech.vad import VadSettings

_ASR = AsrOptions()


class TranscribeSettings(BaseModel):
    """How recorded calls become transcripts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["openai-whisper", "faster-whisper"] = _ASR.backend  # type: ignore[assignment]
    model: str = _ASR.model  # model name (looked up in model_dir first) or a path
    model_dir: Path = _ASR.model_dir  # where model files are placed by hand
    language: str | None = _ASR.language  # None: let Whisper detect it
    beam_size: int = Field(default=_ASR.beam_size, ge=1, le=20)  # beam search width
    device: Literal["cpu", "cuda"] = _ASR.device  # type: ignore[assignment]
    compute_type: str | None = _ASR.compute_type  # faster-whisper: int8 on cpu, float16 on cuda
    batch_size: int = Field(default=_ASR.batch_size, ge=0)  # faster-whisper batched decoding
    rep_channel: Literal["left", "right", "none"] = "left"  # stereo: the rep's channel
    max_minutes: float = Field(default=120.0, gt=0)  # longer recordings are refused
    chunk_seconds: float = Field(default=300.0, ge=30)  # decode this much audio at a time
    cache_dir: Path | None = Path(".analyzer-cache")  # transcripts reused by content hash
    vad: VadSettings = VadSettings()  # how speech is told from silence

    def asr_options(self) -> AsrOptions:
        return AsrOptions(
            backend=self.backend,
            model=self.model,
            model_dir=self.model_dir,
            language=self.language,
            beam_size=self.beam_size,
            device=self.device,
            compute_type=self.compute_type,
            batch_size=self.batch_size,
            word_timestamps=True,  # the pipeline places every word by its own time
        )


def settings_from_dict(data: dict[str, Any], where: str = "settings") -> TranscribeSettings:
    """Validate settings from a mapping; every problem is reported at once."""
    try:
        return TranscribeSettings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: " + "; ".join(validation_problems(e))) from e


def validation_problems(error: ValidationError) -> list[str]:
    """pydantic's errors as 'location: problem' lines."""
    problems = []
    for err in error.errors():
        where = ".".join(str(p) for p in err["loc"])
        unknown = err["type"] in ("extra_forbidden", "unexpected_keyword_argument")
        problems.append(f"{where}: {'unknown key' if unknown else err['msg']}")
    return problems
