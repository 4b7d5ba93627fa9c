"""Governance: the tamper-evident audit chain (``opskit.governance.audit``)."""
