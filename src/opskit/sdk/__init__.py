"""Process lifecycle (``lifecycle``: flushing, ending runs at exit) and identity; ``decorators``,
``context`` and ``runs`` are deprecated re-export shims of ``opskit.tracking`` / ``opskit.registry``."""
