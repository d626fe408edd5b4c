"""Quanzi activities service.

Campaigns that keep members active: check-ins, quizzes, draws, polls, meetups, referrals.
"""
