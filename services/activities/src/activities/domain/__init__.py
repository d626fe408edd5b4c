"""Activities domain rules: plain Python, no I/O."""
