"""Community rules (群规): versions, acceptance, the grace period's end."""
