"""Test helpers shared by test packages: a throwaway PostgreSQL server, fake connectors."""
