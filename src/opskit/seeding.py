"""``opskit.seed(n)``: seed every global random generator a training function is likely to use.

Seeded: Python's ``random``, NumPy's global generator (``numpy.random.seed``; scikit-learn
estimators use it when ``random_state=None``) and PyTorch (``torch.manual_seed``, every device)
when it is installed. The seed is recorded on the active run as the tag ``opskit.seed``
(a tag, not a param: a param named ``seed`` may be one of the function's own arguments).

Not covered (say so in docs/versioning): ``PYTHONHASHSEED`` (fixed at interpreter start),
generators created by the user (``numpy.random.default_rng()`` without a seed), GPU
nondeterminism, threads racing.
"""

from __future__ import annotations

import importlib.util
import random
import sys

from opskit.errors import InvalidValue

__all__ = ["MAX_SEED", "SEED_TAG", "check_seed", "seed"]

#: The tag that records the seed on a run.
SEED_TAG = "opskit.seed"
#: NumPy's legacy global generator takes seeds from 0 to 2**32 - 1: the range for every generator.
MAX_SEED = 2**32 - 1


def check_seed(value: object) -> int:
    """*value* as a seed (an int from 0 to 2**32 - 1); anything else raises ``InvalidValue``."""
    import numbers

    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 0 <= int(value) <= MAX_SEED
    ):
        raise InvalidValue(
            f"seed must be an int from 0 to {MAX_SEED} (NumPy's limit), got {type(value).__name__} "
            f"{value!r}; pass e.g. seed=42"
        )
    return int(value)


def _installed(module: str) -> bool:
    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def seed_generators(n: int) -> tuple[str, ...]:
    """Seed the global generators with *n* (checked); return the names of those seeded."""
    n = check_seed(n)
    seeded = ["random"]
    random.seed(n)
    if _installed("numpy"):
        import numpy

        numpy.random.seed(n)
        seeded.append("numpy")
    if _installed("torch"):
        try:
            import torch  # type: ignore[import-not-found,unused-ignore]
        except Exception:  # a broken torch install must not stop training
            pass
        else:
            torch.manual_seed(n)
            seeded.append("torch")
    return tuple(seeded)


def seed(n: int) -> tuple[str, ...]:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (if installed) with *n*.

    Inside a run (a decorated function, ``start_run``) the seed is recorded on it as the tag
    ``opskit.seed``. Returns the names of the generators seeded (``("random", "numpy", ...)``).
    Call it inside the training function (or use the decorator option ``seed=``) so that
    ``opskit.reproduce`` seeds the same way again.
    """
    from opskit.tracking.context import active_run

    n = check_seed(n)
    seeded = seed_generators(n)
    run = active_run()
    if run is not None:  # an opskit.* tag: set as it is (user tags may not take the prefix)
        run.tags[SEED_TAG] = str(n)
        run.tracker.set_tags(run.id, {SEED_TAG: str(n)})
    return seeded
