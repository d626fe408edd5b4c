"""The member directory: profiles keyed by the tenant's external id, and bulk import."""
