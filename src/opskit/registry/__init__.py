"""The model registry: registering versions (``register``, the only writer) and the registry events (``events``)."""
