"""A digit drawn on the page → the probe image: decoded here, centred and scaled by the engine
(engine.datasets.center_and_scale repeats how each digit set was made)."""

from __future__ import annotations

import base64
import binascii

import numpy as np

from engine.datasets import center_and_scale

from app.server.errors import ControlError


def drawing_to_image(width: int, height: int, pixels: str, image_shape: tuple[int, int]) -> np.ndarray:
    """Base64 ink bytes (one per pixel, row-major, 0 = no ink) → the dataset's (H, W) image in [0, 1]."""
    try:
        raw = base64.b64decode(pixels, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError("drawing.pixels", f"<{len(pixels)} characters>",
                           "base64 text of width*height bytes") from None
    if len(raw) != width * height:
        raise ControlError("drawing.pixels", f"<{len(raw)} bytes>", f"exactly width*height = {width * height} bytes")
    ink = np.frombuffer(raw, np.uint8).reshape(height, width) / 255.0
    return center_and_scale(ink, size=image_shape[0])
