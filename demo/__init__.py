"""The demo shop's parts, assembled by ``wsgi.create_app``: its extensions and user model, forms, pages
(``templates/demo/``), seed data and the ``demo-stripe`` commands.

Not installed: the wheel holds only ``advocacy_portal``. Run the demo from the repository root (see README).
"""
