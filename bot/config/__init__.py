"""The sections of the YAML config, one module per area.

bot/config/settings.py assembles them into `ConfigFile` and loads it with the environment; the
sections live here so that file stays about loading, and each feature reads only its own
section. The incident providers' sections (`statuspage:`, `paging:`) are in
bot/config/providers.py.
"""
