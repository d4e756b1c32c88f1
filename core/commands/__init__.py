"""Sub-commands of ``python -m core``; one module each, each with ``register(subparsers)``."""
