"""Tickets: what happens when the knowledge base has no answer. `TicketService` (kb.tickets.service) is the way in."""

from kb.tickets.model import NewTicket, Ticket, TicketChange, TicketEvent, TicketQuery

__all__ = ["NewTicket", "Ticket", "TicketChange", "TicketEvent", "TicketQuery"]
