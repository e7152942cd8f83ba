"""The review pages and JSON API: `create_app(db_path)` builds what `analyzer serve` runs."""

from analyzer.web.app import create_app

__all__ = ["create_app"]
