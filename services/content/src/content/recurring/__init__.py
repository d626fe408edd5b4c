"""Recurring posts from a template by RRULE, in each community's wall clock (早安/晚安)."""
