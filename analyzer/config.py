"""`analyzer.toml`: the team's settings, declared once with defaults, validated all at once.

Found in the working directory, or given with `--config`. Every section is optional:

    [store]
    database = "calls.db"

    [grading]
    rubric = "rubrics/inside-sales.yaml"      # default form
    [grading.rubrics]                         # call type -> form
    closing = "rubrics/closing.yaml"

    [transcription]                           # see TranscribeSettings
    backend = "faster-whisper"
    model = "tiny.en"

    [batch]
    filename_pattern = "{date}_{rep}_{id}"
    workers = 2

    [export]                                  # which calls `analyzer export` flags
    phase_below_percent = 50
    override_points = 10
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analyzer.errors import ConfigError
from analyzer.speech.settings import TranscribeSettings, validation_problems

CONFIG_NAME = "analyzer.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    database: Path = Path("calls.db")  # the SQLite file every command reads and writes


class GradingConfig(_Section):
    rubric: Path | None = None  # the default form (None: rubrics/inside-sales.yaml)
    rubrics: dict[str, Path] = Field(default_factory=dict)  # call type -> form for that type
    semantic_model: Path | None = None  # sentence-transformers folder (None: models/, package)
    # transformer layers of that model to run (0: all); the shipped calibration is fitted with 2
    semantic_layers: int = Field(default=2, ge=0)
    # item models from `analyzer learn` for the default rubric (None: zero-shot grading)
    learned: Path | None = None


class BatchConfig(_Section):
    filename_pattern: str = "{date}_{rep}_{id}"  # metadata read from file names
    manifest: str = "calls.csv"  # per-folder metadata file
    workers: int | None = Field(default=None, ge=1)  # None: one per core, bounded by memory


class ExportConfig(_Section):
    """The flag rules of `analyzer export`: a call is flagged when any rule that is on fires."""

    below_pass_mark: bool = True  # the grade that counts is under the rubric's pass mark
    critical_missed: bool = True  # a critical item is missed in the grade that counts
    forbidden_said: bool = True  # a forbidden line was said, in the grade that counts
    # a scored phase earning under this % of its weight (None, or false in the file: off)
    phase_below_percent: float | None = Field(default=50, ge=0, le=100)
    low_confidence: bool = True  # an unreviewed suggestion the engine was unsure of
    disputed: bool = True  # a rep's dispute is open
    # the confirmed grade is this many points or more from the suggestion (None / false: off)
    override_points: float | None = Field(default=10, gt=0)

    @field_validator("phase_below_percent", "override_points", mode="before")
    @classmethod
    def _false_is_off(cls, value: Any) -> Any:
        """TOML has no null: `false` turns a numeric rule off."""
        if value is False:
            return None
        if value is True:
            raise ValueError("give a number, or false to turn the rule off")
        return value


class Config(_Section):
    store: StoreConfig = StoreConfig()
    grading: GradingConfig = GradingConfig()
    transcription: TranscribeSettings = TranscribeSettings()
    batch: BatchConfig = BatchConfig()
    export: ExportConfig = ExportConfig()
    path: Path | None = None  # where it was read from (None: defaults)


def load_config(path: str | Path | None = None) -> Config:
    """The given file (it must exist), else ./analyzer.toml if present, else the defaults.

    Relative paths in the file are taken relative to the file's folder.
    """
    if path is None:
        candidate = Path.cwd() / CONFIG_NAME
        if not candidate.is_file():
            return Config()
        path = candidate
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    try:
        config = Config.model_validate({**data, "path": path})
    except ValidationError as e:
        raise ConfigError(f"{path}: " + "; ".join(validation_problems(e))) from e
    return _relative_to(config, path.parent)


def _relative_to(config: Config, base: Path) -> Config:
    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    t = config.transcription
    return config.model_copy(
        update={
            "store": StoreConfig(database=fix(config.store.database)),
            "grading": GradingConfig(
                rubric=fix(config.grading.rubric),
                rubrics={k: fix(v) for k, v in config.grading.rubrics.items()},
                semantic_model=fix(config.grading.semantic_model),
                semantic_layers=config.grading.semantic_layers,
                learned=fix(config.grading.learned),
            ),
            "transcription": t.model_copy(
                update={"model_dir": fix(t.model_dir), "cache_dir": fix(t.cache_dir)}
            ),
        }
    )
