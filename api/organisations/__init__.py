"""Organisations: the members of the clusters."""
