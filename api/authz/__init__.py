"""Authorization: every "may this principal do this to that object" question, in `policy`."""
