"""Points reports for operators, summed from the ledger's entries."""
