"""Badges and titles: rules as data, progress per member and rule."""
