"""One registry pattern for every --format and backend."""

import pytest

from analyzer.errors import AnalyzerError
from analyzer.grading.writers import get_writer
from analyzer.registry import Registry
from analyzer.reports.export import get_exporter
from analyzer.reports.listing import get_listing


def test_an_unknown_name_is_refused_naming_the_choices():
    formats = Registry("format", {"csv": str, "json": repr})
    with pytest.raises(ValueError) as e:
        formats.get("xml")
    assert str(e.value) == "unknown format 'xml' (choose from csv, json)"


def test_entries_register_by_decorator_and_aliases_resolve():
    readers = Registry("reader", aliases={"md": "markdown"}, error=AnalyzerError)

    @readers.register("markdown")
    def read(text: str) -> str:
        return text.upper()

    assert readers.get("md")("hi") == "HI"
    assert "md" in readers and "txt" not in readers
    assert readers.names() == ("markdown",)
    with pytest.raises(AnalyzerError):
        readers.get("txt")


def test_a_default_makes_get_answer_as_a_mapping_does():
    formats = Registry("format", {"csv": str})
    assert formats.get("xml", None) is None
    formats["xml"] = repr
    assert formats.get("xml") is repr
    del formats["xml"]
    assert "xml" not in formats


@pytest.mark.parametrize(
    ("lookup", "name", "message"),
    [
        (get_writer, "yaml", "unknown format 'yaml' (choose from table, json)"),
        (get_exporter, "pdf", "unknown format 'pdf' (choose from csv, jsonl, xlsx)"),
    ],
)
def test_every_format_option_answers_the_same_way(lookup, name, message):
    with pytest.raises(ValueError) as e:
        lookup(name)
    assert str(e.value) == message


def test_the_listing_formats_are_a_registry_too():
    with pytest.raises(ValueError) as e:
        get_listing("xml")
    assert str(e.value).startswith("unknown format 'xml' (choose from table")
