"""The HTTP edge: the app factory, dependencies, middleware, error bodies, field types, health."""
