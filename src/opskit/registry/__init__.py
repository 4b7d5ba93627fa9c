"""The model registry: registration, loading and the registry events (see ``opskit.registry.events``)."""
