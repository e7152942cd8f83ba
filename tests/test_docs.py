"""README.md documents every command and every option of the CLI (as sqlite-utils' docs tests).

The click group is walked recursively: each command and subcommand must appear as
`analyzer NAME [SUBNAME]`, and each of its options by its long flags (both sides of a
`--flag/--no-flag` pair), somewhere in README.md as a whole word (`--model` is not found in
`--model-dir`). `--help` is click's own and is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from analyzer.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(main, ("analyzer",)))


def _in_readme(text: str) -> bool:
    return re.search(re.escape(text) + r"(?![\w-])", README) is not None


def _long_flags(command: click.Command) -> list[str]:
    return [
        flag
        for param in command.params
        if isinstance(param, click.Option)
        for flag in (*param.opts, *param.secondary_opts)
        if flag.startswith("--")
    ]


def test_the_walk_finds_the_commands_and_subcommands():
    assert {"analyzer", "analyzer batch", "analyzer users add", "analyzer outcomes import"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme(name: str):
    assert _in_readme(name), f"README.md does not mention `{name}`"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_in_the_readme(name: str):
    missing = [flag for flag in _long_flags(COMMANDS[name]) if not _in_readme(flag)]
    assert missing == [], f"README.md does not document {', '.join(missing)} of `{name}`"
