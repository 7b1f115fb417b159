"""Report photos: verified by decoding, re-encoded without metadata, kept behind a storage interface.

Re-encoding from pixels is what strips EXIF (GPS position, camera serial, time) and any payload
hidden after the image data; only the orientation is applied first so the picture stays upright.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlparse

import boto3.session
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuses decompression bombs well before memory is at risk
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class InvalidPhoto(ValueError):
    """The upload is not an accepted image; the message is safe to show to the client."""


def clean_photo(data: bytes) -> tuple[bytes, str]:
    """Return the re-encoded image (no metadata) and its content type, or raise InvalidPhoto."""
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidPhoto("photo larger than 5 MB")
    if not data:
        raise InvalidPhoto("empty photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            if image_format not in FORMATS:
                raise InvalidPhoto("photo must be JPEG, PNG or WebP")
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidPhoto("photo has too many pixels")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
    except InvalidPhoto:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidPhoto("photo is not a readable image") from exc
    if upright.mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = "transparency" in upright.info or upright.mode.endswith("A")
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    if image_format == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())  # a fresh image: no info, no EXIF
    out = io.BytesIO()
    save_options: dict[str, object] = {"quality": 88} if image_format in ("JPEG", "WEBP") else {"optimize": True}
    pixels.save(out, format=image_format, **save_options)
    return out.getvalue(), FORMATS[image_format]


class PhotoStorage(Protocol):
    async def put(self, data: bytes, content_type: str) -> str:
        """Store and return the key to read it back with."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class LocalPhotoStorage:
    """Photos as files in one directory (the default, and what tests use)."""

    EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        if "/" in key or "\\" in key or key.startswith("."):
            raise KeyError(key)
        return self.directory / key

    async def put(self, data: bytes, content_type: str) -> str:
        key = f"{uuid.uuid4().hex}{self.EXTENSIONS.get(content_type, '')}"
        path = self._path(key)

        def write() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)

        await asyncio.to_thread(write)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


class S3PhotoStorage:
    """Photos as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), under `prefix`.

    boto3 is synchronous, so each call runs in a worker thread; the client itself is thread-safe.
    Keys handed out are the object names without the prefix, so they never name another object.
    """

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def object_name(self, key: str) -> str:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise KeyError(key)
        return self.prefix + key

    async def put(self, data: bytes, content_type: str) -> str:
        key = f"{uuid.uuid4().hex}{LocalPhotoStorage.EXTENSIONS.get(content_type, '')}"
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self.object_name(key),
            Body=data,
            ContentType=content_type,
        )
        return key

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.object_name(key))
            except self.client.exceptions.NoSuchKey as exc:
                raise FileNotFoundError(key) from exc
            return response["Body"].read()

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.object_name(key))


def photo_storage_from_url(url: str, *, s3_endpoint_url: str | None = None) -> PhotoStorage:
    """`file:///dir` (the default) or `s3://bucket/prefix`.

    For S3 the endpoint is `s3_endpoint_url` (S3_ENDPOINT_URL / AWS_ENDPOINT_URL; empty means AWS
    itself) and credentials and region come from boto3's usual chain (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, profiles, instance roles).
    """
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalPhotoStorage(Path(parsed.path if parsed.scheme else url))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError("PHOTO_STORAGE_URL s3:// needs a bucket: s3://bucket/prefix")
        session = boto3.session.Session()
        client = session.client(
            "s3", endpoint_url=s3_endpoint_url or None, region_name=session.region_name or "us-east-1"
        )
        return S3PhotoStorage(client, parsed.netloc, parsed.path)
    raise ValueError(f"unsupported PHOTO_STORAGE_URL scheme {parsed.scheme!r}: use file:// or s3://")
