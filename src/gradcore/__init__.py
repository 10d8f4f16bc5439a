"""gradcore (being assembled; the full __init__ lands when nn/losses/gradcheck exist)."""

from .backends import available_backends, get_backend, get_backend_name, set_backend, use_backend

__all__ = ["available_backends", "get_backend", "get_backend_name", "set_backend", "use_backend"]
