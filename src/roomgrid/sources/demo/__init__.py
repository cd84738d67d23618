"""A synthetic demo: cities of generated room photos with the problems of real listings mixed in.

``make_demo_city`` (in :mod:`.city`) is loaded on first use, so that rendering rooms alone (the CNN's
int8 calibration, in an environment without imagehash) does not import the city writer.
"""

__all__ = ["make_demo_city"]


def __getattr__(name):
    if name == "make_demo_city":
        from .city import make_demo_city

        return make_demo_city
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
