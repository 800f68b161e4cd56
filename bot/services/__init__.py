"""Use cases: each call changes state through the domain and the store and returns what
happened; the chat adapters render it."""
