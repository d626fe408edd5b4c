"""CRM sync, inbound: contacts pushed by a tenant's CRM, mapped and handed to onboarding's
member directory through events; the tenant's field mapping."""
