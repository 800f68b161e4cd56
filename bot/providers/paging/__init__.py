"""Paging providers: who is on call, and paging them about an incident."""
