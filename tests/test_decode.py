import io

import numpy as np
import pytest
from PIL import Image

from roomgrid.scan.decode import BadPhoto, decode_photo


def encoded(image, fmt, **save):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def test_plain_jpeg_decodes_to_rgb_with_original_size(room, make_jpeg):
    photo = decode_photo(make_jpeg(room(1)))
    assert photo.image.mode == "RGB" and photo.image.size == (600, 450)
    assert (photo.width, photo.height, photo.format, photo.notes) == (600, 450, "JPEG", [])


def test_draft_mode_scales_down_but_keeps_min_side(room, make_jpeg):
    photo = decode_photo(make_jpeg(room(1)), min_side=128)
    assert photo.image.size == (300, 225)
    assert (photo.width, photo.height) == (600, 450)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"this is not a picture at all", "not an image"),
])
def test_unusable_bytes_get_a_reason(data, reason):
    with pytest.raises(BadPhoto, match=reason):
        decode_photo(data)


def test_truncated_jpeg_is_refused(room, make_jpeg):
    data = make_jpeg(room(2))
    with pytest.raises(BadPhoto, match="truncated or corrupt"):
        decode_photo(data[: len(data) // 2])


def test_too_many_pixels_is_refused_before_decoding(make_jpeg):
    data = make_jpeg(Image.new("RGB", (400, 300)))
    with pytest.raises(BadPhoto, match="too large"):
        decode_photo(data, max_pixels=100_000)


def test_cmyk_is_converted():
    photo = decode_photo(encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG"))
    assert photo.mode == "CMYK" and photo.image.mode == "RGB"
    r, g, b = photo.image.getpixel((20, 15))
    assert r > 200 and g < 60 and b < 60
    assert any("CMYK" in n for n in photo.notes)


def test_alpha_is_flattened_onto_white():
    rgba = Image.new("RGBA", (20, 20), (0, 0, 255, 0))
    photo = decode_photo(encoded(rgba, "PNG"))
    assert photo.image.getpixel((5, 5)) == (255, 255, 255)
    assert any("transparency" in n for n in photo.notes)


def test_sixteen_bit_samples_are_scaled_not_clipped():
    ramp = (np.arange(64, dtype=np.uint16) * 1024).reshape(8, 8)
    photo = decode_photo(encoded(Image.fromarray(ramp), "PNG"))
    gray = np.asarray(photo.image.convert("L"))
    assert gray.max() > 240 and gray.min() == 0
    assert len(np.unique(gray)) > 32


def test_exif_rotation_is_applied():
    wide = Image.new("RGB", (60, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = decode_photo(encoded(wide, "JPEG", exif=exif.tobytes()))
    assert photo.image.size == (20, 60)
    assert (photo.width, photo.height) == (20, 60)
    assert any("orientation 6" in n for n in photo.notes)


def test_animation_uses_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    photo = decode_photo(buffer.getvalue())
    r, _, b = photo.image.getpixel((8, 8))
    assert r > 200 and b < 50
    assert any("animated (2 frames)" in n for n in photo.notes)


def test_formats_pillow_cannot_read_fall_back_to_imagemagick():
    wand_image = pytest.importorskip("wand.image", reason="Wand/libMagickWand not installed")
    from wand.color import Color

    with wand_image.Image(width=40, height=30, background=Color("#00ff00")) as canvas:
        canvas.format = "miff"  # ImageMagick's own format: Pillow has no reader for it
        data = canvas.make_blob()
    photo = decode_photo(data)
    assert photo.format == "MIFF (ImageMagick)" and photo.image.size == (40, 30)
    assert photo.image.getpixel((3, 3)) == (0, 255, 0)
    with pytest.raises(BadPhoto, match="too large"):
        decode_photo(data, max_pixels=100)


@pytest.mark.parametrize("text", [b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%!PS-Adobe-3.0\n"])
def test_imagemagick_fallback_refuses_documents(text):
    with pytest.raises(BadPhoto, match="not an image"):
        decode_photo(text)
