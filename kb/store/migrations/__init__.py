"""Alembic migrations of the store's schema: env.py and one module per revision in versions/.

Run by kb.store.migrate (at every start and by `kb db upgrade`), with no alembic.ini: a package so that an
installed kb carries them.
"""
