"""Incidents: declare, work, publish status updates, resolve, write the post-mortem, and the
due work (pages, the five-minute deadline, reminders) in between."""

from bot.services.incidents.service import IncidentService
from bot.services.incidents.views import IncidentChat, NullIncidentChat

__all__ = ["IncidentChat", "IncidentService", "NullIncidentChat"]
