"""The model registry: registering versions (``register``, the only writer)."""
