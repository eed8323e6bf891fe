"""Operating the platform: dead letters, `clustermatch doctor`, metrics and logs."""
