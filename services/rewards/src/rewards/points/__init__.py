"""Points: the Wallet aggregate (lots, entries, balances), the ledger writer, adjustments,
reversals, release and expiry."""
