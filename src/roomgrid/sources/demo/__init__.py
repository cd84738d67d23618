"""A synthetic demo: cities of generated room photos with the problems of real listings mixed in."""

from .city import make_demo_city

__all__ = ["make_demo_city"]
