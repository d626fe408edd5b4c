"""Scheduled posts: publish at a time (the community's wall clock), cancel or move before."""
