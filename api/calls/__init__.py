"""Funding calls (STEP, FESR-ER, FSE+, Horizon Europe...): terms, eligibility, relevance, consortia."""
