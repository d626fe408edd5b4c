"""The audit trail of operators' and members' decisions."""
