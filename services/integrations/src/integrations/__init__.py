"""Quanzi integrations service.

What the tenants' other systems consume and send: signed webhooks, the pull event feed, CRM sync.
"""
