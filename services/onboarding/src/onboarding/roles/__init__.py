"""Community roles: owners, admins, mentors, guests; permissions and welcome messages."""
