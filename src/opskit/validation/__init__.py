"""Validation: data checks before the call, evaluation and quality gates after it.

``opskit.checks`` (``opskit.validation.checks``) and ``opskit.gates``
(``opskit.validation.gates``) declare them; ``opskit.validation.runner`` runs them inside
the train pipeline (``before_call`` / ``after_call``); ``opskit.validation.store`` keeps the
report with the run. Nothing here imports pandas, scikit-learn, pandera or fairlearn at
module level: they load when a check or gate first needs them.
"""
