"""Finding a run from what a user types: a full id or a unique prefix (shared by the command modules)."""

from __future__ import annotations

__all__ = ["find_run"]


def find_run(prefix: str) -> str:
    """Accept a full run id or a unique prefix (as shown by ``runs list``)."""
    from opskit.errors import RunNotFound
    from opskit.tracking.runs import search_runs

    if len(prefix) == 32:
        return prefix
    if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
        raise RunNotFound(
            f"{prefix!r} is not a run id: ids are hex digits, as printed by `opskit runs list`"
        )
    matches = [r.id for r in search_runs(f"attributes.run_id LIKE '{prefix}%'", limit=2)]
    if len(matches) != 1:
        raise RunNotFound(
            f"{'no run' if not matches else 'more than one run'} matches {prefix!r}; "
            "use a longer prefix or the full id from `opskit runs list`"
        )
    return matches[0]
