"""What opskit keeps in MLflow tags: JSON documents split over several tags, and display strings.

MLflow caps a tag value at a few thousand characters (5,000 for model version
tags, 8,000 for run tags), so a JSON document is written as ``<key>``,
``<key>.1``, ``<key>.2`` ... of at most ``CHUNK`` characters and joined again
on read. The first tag starts with the number of parts (``"3|..."``), so a
shorter rewrite never picks up stale parts of a longer one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CHUNK", "PARAM_LIMIT", "display_param", "json_tags", "read_json"]

CHUNK = 4000
PARAM_LIMIT = 6000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=True)


def json_tags(key: str, value: Any) -> dict[str, str]:
    """*value* as JSON over the tags ``key``, ``key.1``, ...; ``key`` alone when it fits."""
    text = _dumps(value)
    parts = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    tags = {key: f"{len(parts)}|{parts[0]}"}
    tags.update({f"{key}.{i}": part for i, part in enumerate(parts[1:], start=1)})
    return tags


def read_json(tags: Mapping[str, str], key: str) -> Any:
    """The document written by ``json_tags`` under *key*, or None when absent."""
    if key not in tags:
        return None
    count, _, head = tags[key].partition("|")
    parts = [head] + [tags.get(f"{key}.{i}", "") for i in range(1, int(count))]
    return json.loads("".join(parts))


def display_param(value: Any) -> str:
    """A param as MLflow shows it: strings as they are, anything else as JSON; cut at MLflow's limit."""
    text = value if isinstance(value, str) else _dumps(value)
    return text[:PARAM_LIMIT]
