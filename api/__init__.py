"""clustermatch: the application package (settings, database, domains, HTTP app, CLI)."""
