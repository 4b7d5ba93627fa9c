"""Built-in plugins. Each module is registered like a third-party plugin (see ``DEFAULT_PLUGINS``)."""
