"""Domain services: plain documented functions. They flush; the caller's unit of work commits."""
