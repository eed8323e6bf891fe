"""Clusters (S3 areas): their review policies."""
