"""The user center's shared layer: configuration, errors, envelope, data model and domain services.

Nothing here does I/O at import time; clients, keys and tables are created on first use.
"""
