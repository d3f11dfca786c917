"""Access tokens: issued by `tallyhold token create`, shown once, stored as a SHA-256 digest, revocable."""
