"""Shared by the command modules: finding a run from what a user types, and refusing to create a store."""

from __future__ import annotations

__all__ = ["find_run", "require_store"]


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


def require_store() -> None:
    """Raise ``StoreNotFound`` when the local tracker has no store here (and create nothing)."""
    from opskit.errors import StoreNotFound
    from opskit.runtime import get_config

    config = get_config()
    if config.tracker != "local":  # the store is the tracker's server
        return
    db = config.home / "opskit.db"
    if not db.is_file():
        source = config.sources.get("home", "default")
        raise StoreNotFound(
            f"no opskit store here: {db} does not exist (home from {source}). Nothing has been tracked "
            "in this folder yet: run this command in your project folder, or point OPSKIT_HOME (or home in "
            "[tool.opskit] of pyproject.toml) at the store; train or track something to create one"
        )
