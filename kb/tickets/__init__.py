"""Tickets: what happens when the knowledge base has no answer."""

from kb.tickets.service import NewTicket, TicketService

__all__ = ["NewTicket", "TicketService"]
