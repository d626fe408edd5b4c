"""Quanzi onboarding service.

Who may join which community, on what terms: communities, groups, join policies, memberships,
moderation.
"""
