"""Local days: the time zones of the tenant and its communities, kept from their events."""
