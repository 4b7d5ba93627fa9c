"""Runs: the run context (``context``), the train engine in explicit stages (``pipeline``),
the thin ``@train`` / ``@track`` decorators (``decorators``) and run lookup (``runs``)."""
