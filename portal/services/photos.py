"""Testimonial photos: checked by their content, re-encoded, kept in a pluggable storage.

A storage is any object with::

    save(data: bytes, content_type: str) -> str   # returns the key
    open(key: str) -> BinaryIO                     # raises KeyError when there is no such photo
    delete(key: str) -> None
    url(key: str) -> str                           # where a browser gets it

The default, :class:`LocalPhotoStorage`, keeps files in ``ADVOCACY_PHOTO_FOLDER`` (under the app's
instance folder) and serves them through the plugin. A host plugs its own with ``@portal.photo_storage``
or the ``ADVOCACY_PHOTO_STORAGE`` setting.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
from typing import Any
from typing import BinaryIO
from typing import Protocol

from flask import current_app
from flask import url_for
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without LittleCMS: profiles are dropped without conversion
    ImageCms = None
from werkzeug.utils import import_string

from advocacy_portal.config import config_value
from advocacy_portal.proxies import get_portal

#: Image formats accepted, by Pillow's name, with the content types and file extensions they may
#: be declared as.
ACCEPTED_FORMATS = {
    "JPEG": ({"image/jpeg", "image/pjpeg", "image/jpg"}, {"jpg", "jpeg", "jfif"}),
    "PNG": ({"image/png"}, {"png"}),
    "WEBP": ({"image/webp"}, {"webp"}),
    "GIF": ({"image/gif"}, {"gif"}),
}
#: Extensions a photo upload may have (for the form's own check).
ALLOWED_EXTENSIONS = sorted({ext for _types, exts in ACCEPTED_FORMATS.values() for ext in exts})


class PhotoStorage(Protocol):
    def save(self, data: bytes, content_type: str) -> str: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...


class PhotoRejected(ValueError):
    """The upload is not a photo the plugin accepts; the message says why, for the form."""


def process_photo(data: bytes, filename: str | None = None, declared_type: str | None = None):
    """Check an upload by its content and re-encode it (metadata stripped, scaled to ``PHOTO_SIZE``).

    :param data: the uploaded bytes.
    :param filename: the name the browser sent, whose extension must match the content.
    :param declared_type: the Content-Type the browser sent, which must match the content.
    :returns: ``(bytes, content_type)`` of the stored JPEG or PNG.
    :raises PhotoRejected: too large, not an image, an image format not accepted, or a file whose
        name or type lies about its content.
    """
    max_bytes = config_value("PHOTO_MAX_BYTES")
    if len(data) > max_bytes:
        raise PhotoRejected(f"The photo is larger than {_size(max_bytes)}.")
    if not data:
        raise PhotoRejected("The photo file is empty.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            width, height = probe.size
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("That file is not a photo we can read (use JPEG, PNG, WebP or GIF).")
    if image_format not in ACCEPTED_FORMATS:
        raise PhotoRejected("Use a JPEG, PNG, WebP or GIF photo.")
    types, extensions = ACCEPTED_FORMATS[image_format]
    extension = (filename or "").rpartition(".")[2].lower() if "." in (filename or "") else None
    declared = (declared_type or "").split(";")[0].strip().lower() or None
    if (extension is not None and extension not in extensions) or (
        declared not in (None, "application/octet-stream") and declared not in types
    ):
        raise PhotoRejected(
            f"That file says it is {extension or declared} but it is a {image_format} image: "
            "upload the photo itself."
        )
    max_pixels = config_value("PHOTO_MAX_PIXELS")
    if width > max_pixels or height > max_pixels:
        raise PhotoRejected(f"The photo is larger than {max_pixels}×{max_pixels} pixels.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            size = config_value("PHOTO_SIZE")
            image.thumbnail((size, size))
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            image = _pixels_only(image, "RGBA" if has_alpha else "RGB")
            out = io.BytesIO()
            if has_alpha:
                image.save(out, "PNG", optimize=True)
                content_type = "image/png"
            else:
                image.save(out, "JPEG", quality=85, optimize=True)
                content_type = "image/jpeg"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRejected("That photo is damaged: try another file.")
    return out.getvalue(), content_type


def _pixels_only(image, mode: str):
    """A new image holding only ``image``'s pixels in ``mode``: no EXIF, XMP, ICC profile, JPEG or GIF
    comment, PNG text or any other ``info`` a save could write back. Colours in an embedded ICC profile
    are converted to sRGB first, so dropping the profile does not change how the photo looks."""
    profile = image.info.get("icc_profile")
    if profile and ImageCms is not None and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            target_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode=target_mode)
        except (OSError, ValueError, ImageCms.PyCMSError):
            pass  # an unreadable profile: keep the pixel values as they are
    converted = image.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png)$")


class LocalPhotoStorage:
    """Photos as files in one folder, served by the plugin at ``<prefix>/photos/<key>``."""

    def __init__(self, folder: str):
        self.folder = folder

    def save(self, data: bytes, content_type: str) -> str:
        extension = "png" if content_type == "image/png" else "jpg"
        key = f"{secrets.token_urlsafe(18)}.{extension}"
        os.makedirs(self.folder, exist_ok=True)
        # Write then rename: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, self._path(key))
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise KeyError(key) from None

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def url(self, key: str) -> str:
        return url_for("advocacy_testimonials.photo", key=key)

    def _path(self, key: str) -> str:
        if not _KEY.fullmatch(key or ""):
            raise KeyError(key)
        return os.path.join(self.folder, key)


def get_storage(app=None) -> Any:
    """The app's photo storage (created once per app)."""
    app = app or current_app._get_current_object()
    portal = get_portal(app)
    state = portal.state(app)
    if state.photo_storage is not None:
        return state.photo_storage
    if portal.photo_storage_callback is not None:
        storage = portal.photo_storage_callback(app)
    else:
        configured = app.config["ADVOCACY_PHOTO_STORAGE"]
        if isinstance(configured, str):
            configured = import_string(configured)
        if configured is None:
            folder = os.path.join(app.instance_path, app.config["ADVOCACY_PHOTO_FOLDER"])
            storage = LocalPhotoStorage(folder)
        elif isinstance(configured, type):
            storage = configured(app)
        else:
            storage = configured
    state.photo_storage = storage
    return storage


def photo_url(key: str | None) -> str | None:
    """Where a browser gets a stored photo, or ``None``."""
    if not key:
        return None
    return get_storage().url(key)
