"""Notifiers: subscribers of the event bus (kb.events) that tell people and systems what happened.

`email`: best-effort ticket e-mails from an in-memory queue. `webhooks`: signed HTTP deliveries from a durable
outbox in the store.
"""
