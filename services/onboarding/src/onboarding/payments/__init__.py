"""Payments and terms: activation, renewal, refunds, expiry and renewal reminders."""
