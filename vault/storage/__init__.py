"""Storage: the SQLAlchemy ORM, repositories, unit of work and Alembic migrations."""
