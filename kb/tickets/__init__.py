"""Tickets: what happens when the knowledge base has no answer."""

from kb.tickets.service import NewTicket, TicketChange, TicketQuery, TicketService

__all__ = ["NewTicket", "TicketChange", "TicketQuery", "TicketService"]
