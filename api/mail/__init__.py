"""E-mail: what a notification says by mail, who gets it when, and how it is sent."""
