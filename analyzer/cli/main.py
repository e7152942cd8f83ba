"""The `analyzer` click group: the version option, and every library error (`AnalyzerError`)
turned into a one-line message and exit code 1, in one place."""

from __future__ import annotations

import click

from analyzer.errors import AnalyzerError


class _Group(click.Group):
    """Turns every library error into a one-line message and exit code 1, in one place."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except AnalyzerError as e:
            raise click.ClickException(str(e)) from e


@click.group(cls=_Group)
@click.version_option(package_name="analyzer")
def main() -> None:
    """Grade recorded sales calls against a script adherence form."""
