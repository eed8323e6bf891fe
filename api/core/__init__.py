"""What every domain shares: settings, database, unit of work, jobs, domain errors, logging."""
