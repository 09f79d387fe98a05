"""SQLAlchemy tables, the engine factory, queries and migrations."""
