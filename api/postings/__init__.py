"""Postings: needs and offers published by members."""
