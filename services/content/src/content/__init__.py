"""Quanzi content service.

Posts, review, schedules, newcomer sequences, feeds, engagement and the knowledge base.
"""
