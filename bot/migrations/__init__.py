"""The store's schema history (Alembic): each release's changes as a revision under versions/.

`Store.migrate()` applies them at start; tests/app/test_migrations.py fails when the tables in
bot/store.py and the revisions disagree, so a schema change always comes with its revision.
"""
