"""An uploaded image -> the renditions shoppers get. Pure: bytes in, bytes out, no store, no Flask.

Only a real JPEG, PNG or WebP is accepted; its header is read before any pixel is decoded, so a
decompression bomb (a small file that claims 20,000 x 20,000 pixels) is refused without the memory it
asks for. The pixels are re-encoded from scratch (turned upright per EXIF first): no EXIF (GPS, camera
serial), no ICC profile, no text chunks and nothing hidden after the image survive. Widths: WIDTHS (never
upscaled) in WebP, and one JPEG for browsers without WebP; a tall image (a "long image" menu or poster) gets
narrower renditions so that none is taller than MAX_SIDE, the most WebP can hold."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass

from core.errors import InputError

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
WIDTHS = (320, 640, 1024)  # a 375 px phone at 1x-3x; the page's srcset lets the browser choose
FALLBACK_WIDTH = 640  # the JPEG for browsers without WebP
MAX_PIXELS = 40_000_000  # claimed in the header: more is refused before decoding (a 7,000 x 5,700 photo fits)
# Conversions at once per process: a PNG or WebP is decoded at full size (a JPEG at a reduced scale, `draft`), up to
# 4 bytes a pixel (160 MB at MAX_PIXELS) before it is shrunk; an upload waits for its turn.
CONVERSIONS_AT_ONCE = 2
CONVERSION_WAIT_S = 30.0  # an upload that waits longer for its turn is told to try again (503), not held
REDUCIBLE_MODES = frozenset({"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr", "F"})  # what Image.reduce takes as it is
_converting = threading.BoundedSemaphore(CONVERSIONS_AT_ONCE)
MIN_SIDE = 16
MAX_SIDE = 16383  # WebP refuses a side longer than this (JPEG 65535): no rendition is taller
WEBP_QUALITY = 78
JPEG_QUALITY = 80


class MediaError(InputError):
    """An upload refused: `status` is the HTTP answer (400 not an image, 413 too big, 415 other format, 422 an
    image that could not be converted)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__("image", message)
        self.status = status


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    fmt: str  # "webp" | "jpg"
    data: bytes

    @property
    def name(self) -> str:
        return f"{self.width}.{self.fmt}"


def renditions(data: bytes, max_bytes: int) -> list[Rendition]:
    """The renditions of an uploaded file; MediaError saying what is wrong with it."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # lazy: Pillow only when an owner uploads an image

    if not data:
        raise MediaError("Choose an image file to upload.")
    if len(data) > max_bytes:
        raise MediaError(f"The image is too large ({len(data) / 2**20:.1f} MB); at most {max_bytes // 2**20} MB.",
                         status=413)
    if not _converting.acquire(timeout=CONVERSION_WAIT_S):
        raise MediaError("Images are being converted for others; try again in a minute.", status=503)
    try:
        try:
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                width, height = image.size  # from the header: nothing decoded yet
                _check_size(width, height)
                image.draft("RGB", (max(WIDTHS), max(WIDTHS)))  # JPEG: decode at a reduced scale when it can
                image.load()  # a truncated or corrupt file fails here
                pixels = _shrunk(_eight_bit(image))  # every copy below is of the shrunk image, not the decoded one
                ImageOps.exif_transpose(pixels, in_place=True)
                pixels = _flatten(pixels)
        except MediaError:
            raise
        except Image.DecompressionBombError:  # Pillow's own guard, beyond ours
            raise MediaError("The image has too many pixels.", status=413) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, IndexError, EOFError):
            # a corrupt file raises any of these from Pillow's decoders (a PNG with no image data: IndexError)
            raise MediaError("The file is not a readable JPEG, PNG or WebP image.", status=415) from None
        try:
            return _encode(pixels)
        except Exception:  # an encoder refusing an image we accepted is the owner's 422, never a 500
            log.exception("media: could not convert an accepted %s x %s image", width, height)
            raise MediaError("The image could not be converted.", status=422) from None
    finally:
        _converting.release()


def _check_size(width: int, height: int) -> None:
    """Refuse, before any pixel is decoded, an image too large to convert (413) or too small to show."""
    if width * height > MAX_PIXELS:
        raise MediaError(f"The image is {width} x {height} pixels; at most {MAX_PIXELS // 1_000_000} "
                         "megapixels.", status=413)
    if min(width, height) < MIN_SIDE:
        raise MediaError(f"The image is too small ({width} x {height} pixels).")


def _eight_bit(image):
    """A 16-bit greyscale image (a PNG's I;16) scaled to 8 bits: Pillow's own conversion clips at 255, and a real
    16-bit image came out all but white. Any other image as it is."""
    if not (image.mode.startswith("I;16") or image.mode == "I"):
        return image
    return image.convert("I").point(lambda v: v * (1 / 257)).convert("L")


def _shrunk(image):
    """The decoded image reduced by a whole factor to no less than the largest rendition needs (its shorter side
    at least max(WIDTHS), whichever way EXIF turns it), and the decoded one freed: a 6,300 x 6,300 PNG was copied
    at full size three times while it was flattened (640 MB)."""
    factor = min(image.size) // max(WIDTHS)
    if factor < 2:
        return image
    if image.mode not in REDUCIBLE_MODES:  # Pillow reduces no palette or 1-bit image (a palette's indices are no
        # colours to average): one copy to reduce, with its transparency where it has some
        transparent = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "L" if image.mode == "1" else "RGB")
    small = image.reduce(factor)
    image.close()  # frees the full-size pixels it reduced (Pillow drops its core on close; the caller's `with`
    return small  # still holds the decoded image where a mode had to be converted first)


def _flatten(image):
    """RGB pixels only: transparency on white (JPEG has none), palette and 16-bit modes converted."""
    from PIL import Image  # lazy: Pillow only when an owner uploads an image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def rendition_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """(width, height) of each WebP rendition of a width x height image: WIDTHS, never upscaled, and narrower
    where the height would pass MAX_SIDE (a 1080 x 18000 long image: 320, 640 and 982 wide)."""
    sizes: dict[int, int] = {}
    for wanted in sorted({min(w, width) for w in WIDTHS}):
        w = wanted if height * wanted <= MAX_SIDE * width else max(1, MAX_SIDE * width // height)
        sizes[w] = min(MAX_SIDE, max(1, round(height * w / width)))
    return sorted(sizes.items())


def _encode(pixels) -> list[Rendition]:
    from PIL import Image  # lazy: Pillow only when an owner uploads an image

    sizes = rendition_sizes(pixels.width, pixels.height)
    fallback = max(w for w, _h in sizes if w <= FALLBACK_WIDTH)  # the smallest is at most min(WIDTHS)
    out = []
    for width, height in sizes:
        resized = pixels if (width, height) == pixels.size else pixels.resize((width, height),
                                                                               Image.Resampling.LANCZOS)
        out.append(_save(resized, "webp"))
        if width == fallback:
            out.append(_save(resized, "jpg"))
    return out


def _save(image, fmt: str) -> Rendition:
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return Rendition(image.width, image.height, fmt, buffer.getvalue())
