"""The demo shop's parts, assembled by ``wsgi.create_app``: its extensions and user model, forms, pages
(``templates/demo/``), seed data and the local Stripe set-up.

Not installed: the wheel holds only ``advocacy_portal``. Run the demo from the repository root (see README).
"""
