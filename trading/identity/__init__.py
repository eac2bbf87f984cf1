"""Organisations (主体库), people, roles, sessions and the authorization policy."""
