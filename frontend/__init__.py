"""Server-rendered pages, mounted by the app; they call api services, never the HTTP API."""
