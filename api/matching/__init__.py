"""Matching: the FAISS replicas that follow the database, and turning hits into suggestions."""
