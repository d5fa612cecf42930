"""The HTTP side of events to services: the pusher (push.py), its loop (worker.py) and the
poll request's shape (poll.py). The outbox itself is vault/events/."""
