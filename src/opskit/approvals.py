"""``opskit.approvals``: four-eyes approval of protected alias moves (docs/governance.md).

``promote`` (and every other path) to a protected alias opens an ``ApprovalRequest``;
``list`` shows them, ``approve`` (by a user other than the requester) and ``reject`` close
them. Each step is an audited registry event with its comment.
"""

from __future__ import annotations

from opskit.governance.approvals import (
    Approval,
    ApprovalRequest,
    RequestStatus,
    approve,
    get,
    list,
    reject,
)

__all__ = ["Approval", "ApprovalRequest", "RequestStatus", "approve", "get", "list", "reject"]
