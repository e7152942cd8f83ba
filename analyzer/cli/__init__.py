"""The `analyzer` command: one module per command group (as spaCy's `spacy/cli/`), each thin:
parse options, call a library function, print. `main.py` holds the group and turns every
library error into one line; `options.py` the options the commands share.

Importing a command's module registers it on `main`. The grading engine (spaCy) and the
recognisers (torch) load inside the commands that use them, so that `analyzer calls`,
`rubric check` and `--help` start at once.
"""

from analyzer.cli import (  # noqa: F401  (each registers its commands on `main`)
    batch,
    calibrate,
    calls,
    evaluate,
    export,
    learn,
    report,
    rubric,
    score,
    serve,
    transcribe,
    users,
)
from analyzer.cli.main import main

__all__ = ["main"]
