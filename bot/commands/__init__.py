"""Slash commands as text, shared by every chat adapter (Slack and the shell).

A command parses its text, calls a service and returns a `Reply`; the adapter renders it.
"""
