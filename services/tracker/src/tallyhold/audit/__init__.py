"""The audit trail: what happened to which connection, and who did it. Codes and non-secret facts only."""
