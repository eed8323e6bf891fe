"""The demo data set loaded by `clustermatch seed --demo`."""
