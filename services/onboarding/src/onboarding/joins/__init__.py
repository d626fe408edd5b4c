"""Joins and seating: direct and routing-code joins, leaving, groups' seats, overflow,
trial → core upgrades."""
