"""Grade recorded sales calls against a script adherence form (a rubric)."""

__version__ = "0.1.0"
