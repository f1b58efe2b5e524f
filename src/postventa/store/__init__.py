"""SQLAlchemy tables, repositories, the write path and migrations."""
