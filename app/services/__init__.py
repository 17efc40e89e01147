"""Business rules and transactions, kept out of the views."""
