"""Accounts: registration, passwords, access tokens and the current user."""
