"""The kernel every layer shares: settings, errors, the access rule, the database, token counting. Imports nothing of Lectern."""
