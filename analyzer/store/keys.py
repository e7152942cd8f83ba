"""How the database tells names apart: reps by `casefold`, users by `name_key`.

Both are the one rule for their kind of name: `casefold` is also registered as an SQL function
on every connection (the `reviews.rep_key` column, `list_calls(rep=...)`), and `name_key` fills
`users.name_key` (migration 3, adding, finding and removing users, signing in).
"""

from __future__ import annotations

import unicodedata
from typing import Any


def casefold(value: Any) -> Any:
    """A rep's name as compared: case folded; what is not text is left as it is (NULL)."""
    return value.casefold() if isinstance(value, str) else value


def name_key(name: str) -> str:
    """What tells user names apart: Unicode compatibility forms folded (NFKC), case folded,
    spaces around it removed and runs of spaces inside it made one."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())
