"""Earning rules: what an event credits (conditions, caps, multipliers), versioned by operators."""
