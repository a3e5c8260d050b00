"""The plugin's Jinja templates, shipped as package data (``advocacy/<area>/*.html``)."""
