import io
import os

import numpy as np
import pytest
from PIL import Image


def jpeg_bytes(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    return buffer.getvalue()


def room_like(seed: int, size=(600, 450)) -> Image.Image:
    """A textured picture with photo-like entropy, different for each seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = rng.uniform(70, 170, 3)
    tilt = rng.uniform(-0.12, 0.12, 2)
    field = base[None, None, :] + (x * tilt[0] + y * tilt[1])[..., None]
    rect = rng.integers(0, [w // 2, h // 2, w // 2, h // 2])
    field[rect[1]:rect[1] + rect[3], rect[0]:rect[0] + rect[2]] += rng.uniform(-60, 60, 3)
    field += rng.normal(0, 30, field.shape)
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="session", autouse=True)
def kept_models(tmp_path_factory):
    """Exported models are kept in a folder of the test session, not the user's cache (the
    workflows the tests start inherit it)."""
    from roomgrid.features.cnn import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("kept-models"))
    yield os.environ[CACHE_ENV]
    if before is None:
        del os.environ[CACHE_ENV]
    else:
        os.environ[CACHE_ENV] = before


@pytest.fixture
def make_jpeg():
    return jpeg_bytes


@pytest.fixture
def room():
    return room_like


@pytest.fixture(scope="session")
def demo_photos(tmp_path_factory):
    """Paths of the plain room photos of one small generated demo city."""
    from roomgrid.sources.demo import make_demo_city

    folder = tmp_path_factory.mktemp("demo") / "alpha"
    truth = make_demo_city("alpha", folder, cities=["alpha", "beta"], photos_per_city=20, seed=0)
    return [folder / name for name in truth.loc[truth["kind"] == "photo", "file"]]
