"""E-mail as a pure library: what a mail says (compose) and how it is sent (transport). Who is
mailed when is decided in api.notifications."""
