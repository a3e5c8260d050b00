"""Photos are re-encoded with no metadata at all, for every accepted format: EXIF, XMP, ICC profiles,
JPEG and GIF comments, PNG text chunks. Nothing the camera or the editing program wrote survives, and a
photo with a wide-gamut profile keeps its look (its colours are converted to sRGB before the profile
goes; Pillow can make only an sRGB profile, so the test checks the colours survive the conversion)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL import ImageCms
from PIL import PngImagePlugin

from advocacy_portal.services.photos import process_photo

SECRET = "SecretCamera-Serial-4711"
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>{SECRET}</rdf:Description></x:xmpmeta>'.encode()


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = SECRET  # Make
    exif[0x9286] = SECRET  # UserComment
    return exif.tobytes()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_everything() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 30)).save(
        out, "JPEG", exif=exif_bytes(), comment=SECRET.encode(), icc_profile=srgb_icc(), xmp=XMP)
    return out.getvalue()


def png_with_everything(alpha: bool) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_itxt("Description", SECRET, zip=True)
    info.add_text("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    Image.new("RGBA" if alpha else "RGB", (80, 60), (30, 200, 30, 128) if alpha else (30, 200, 30)).save(
        out, "PNG", pnginfo=info, exif=exif_bytes(), icc_profile=srgb_icc())
    return out.getvalue()


def gif_with_comment() -> bytes:
    out = io.BytesIO()
    Image.new("P", (80, 60), 3).save(out, "GIF", comment=SECRET.encode())
    return out.getvalue()


def webp_with_everything() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 30, 200)).save(
        out, "WEBP", exif=exif_bytes(), icc_profile=srgb_icc(), xmp=XMP)
    return out.getvalue()


UPLOADS = {
    "jpeg": (jpeg_with_everything, "me.jpg", "image/jpeg"),
    "png": (lambda: png_with_everything(False), "me.png", "image/png"),
    "png-alpha": (lambda: png_with_everything(True), "me.png", "image/png"),
    "gif": (gif_with_comment, "me.gif", "image/gif"),
    "webp": (webp_with_everything, "me.webp", "image/webp"),
}


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_no_metadata_survives_re_encoding(app, kind):
    make, filename, content_type = UPLOADS[kind]
    upload = make()
    assert SECRET.encode() in upload or SECRET.encode() in Image.open(io.BytesIO(upload)).info.get("comment", b"")
    with app.app_context():
        stored, stored_type = process_photo(upload, filename, content_type)
    assert SECRET.encode() not in stored
    assert b"xmpmeta" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == ("PNG" if stored_type == "image/png" else "JPEG")
        leftover = {key for key in image.info if key not in ("jfif", "jfif_version", "jfif_unit",
                                                                 "jfif_density", "dpi", "progressive",
                                                                 "progression")}
        assert leftover == set(), leftover
        assert not image.getexif()
    if kind == "png-alpha":
        assert stored_type == "image/png"


def test_a_photo_with_a_colour_profile_keeps_its_look(app):
    # The profile is converted away (to sRGB), not just dropped: the colours stay where they were.
    source = Image.new("RGB", (40, 40), (128, 140, 110))
    converted = ImageCms.profileToProfile(source, ImageCms.ImageCmsProfile(io.BytesIO(srgb_icc())),
                                          ImageCms.createProfile("sRGB"))
    out = io.BytesIO()
    source.save(out, "JPEG", quality=95, icc_profile=srgb_icc())
    with app.app_context():
        stored, _type = process_photo(out.getvalue(), "me.jpg", "image/jpeg")
    with Image.open(io.BytesIO(stored)) as image:
        assert "icc_profile" not in image.info
        pixel = image.convert("RGB").getpixel((20, 20))
    assert all(abs(a - b) <= 6 for a, b in zip(pixel, converted.getpixel((20, 20))))
