"""The analysts' web view (``/ui/`` of ``auditwatch run``): open incidents, live
updates, one incident's timeline, evidence and responses, and the
Acknowledge / Dismiss / Revoke buttons."""

from auditwatch.web.app import Broadcaster, Timeline, web_app

__all__ = ["Broadcaster", "Timeline", "web_app"]
