"""Photos in S3-compatible storage: incidents configured with PHOTO_STORAGE_URL=s3://bucket/prefix
against a real S3 HTTP API (moto's server on 127.0.0.1), read back with boto3 directly."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
import pytest_asyncio
from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_incidents.models import Report
from cityhub_incidents.photos import S3PhotoStorage, photo_storage_from_url
from cityhub_sdk.tables import OutboxEvent
from cityhub_sdk.testing import free_port, start_service
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlmodel import func, select

from .conftest import incidents_env

CENTRE = (47.6062, -122.3321)
BUCKET = "cityhub-photos"
PREFIX = "reports"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "cityhub-test",
    "AWS_SECRET_ACCESS_KEY": "cityhub-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (47.0, 36.0, 22.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def report(photo: bytes) -> incidents_pb2.CreateReportRequest:
    return incidents_pb2.CreateReportRequest(
        category="pothole", description="Hole", lat=CENTRE[0], lon=CENTRE[1], attributes={"size": "small"}, photo=photo
    )


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API over HTTP on loopback, with one empty bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_credentials()).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture
def bucket(s3_endpoint: str) -> Any:
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint, **_credentials()).Bucket(BUCKET)
    s3.objects.all().delete()
    return s3


@pytest_asyncio.fixture(loop_scope="session")
async def s3_incidents(
    database_factory: Any, nats_url: str, catalog: Any, identity: Any, s3_endpoint: str, monkeypatch: Any
) -> AsyncIterator[Any]:
    """Incidents whose photos go to S3: endpoint from S3_ENDPOINT_URL, credentials from AWS_* variables."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    async with start_service(
        INCIDENTS,
        database_factory,
        nats_url,
        PHOTO_STORAGE_URL=f"s3://{BUCKET}/{PREFIX}",
        S3_ENDPOINT_URL=s3_endpoint,
        **incidents_env(catalog, identity),
    ) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="session")
async def s3_stub(s3_incidents: Any) -> AsyncIterator[incidents_pb2_grpc.IncidentsServiceStub]:
    async with grpc.aio.insecure_channel(s3_incidents.address) as channel:
        yield incidents_pb2_grpc.IncidentsServiceStub(channel)


def _objects(bucket: Any) -> dict[str, Any]:
    return {o.key: o for o in bucket.objects.all()}


async def test_report_photo_is_stored_in_the_bucket_without_exif_and_served_back(
    s3_stub: incidents_pb2_grpc.IncidentsServiceStub, s3_incidents: Any, bucket: Any
) -> None:
    created = (await s3_stub.CreateReport(report(jpeg_with_gps()))).report
    assert created.has_photo
    async with s3_incidents.db.session() as session:
        photo_key = (await session.get(Report, created.id)).photo_key  # type: ignore[union-attr]
    objects = _objects(bucket)
    assert list(objects) == [f"{PREFIX}/{photo_key}"]
    stored = bucket.Object(f"{PREFIX}/{photo_key}").get()
    assert stored["ContentType"] == "image/jpeg"
    data = stored["Body"].read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (64, 48)
    assert not image.getexif().get_ifd(0x8825) and b"Exif" not in data and b"PhoneMaker" not in data

    served = await s3_stub.GetReportPhoto(incidents_pb2.GetReportPhotoRequest(report_id=created.id))
    assert served.data == data and served.content_type == "image/jpeg"

    # Deleting through the storage removes the object; the photo route then answers NOT_FOUND.
    storage = photo_storage_from_url(f"s3://{BUCKET}/{PREFIX}", s3_endpoint_url=bucket.meta.client.meta.endpoint_url)
    assert isinstance(storage, S3PhotoStorage)
    await storage.delete(photo_key or "")
    assert _objects(bucket) == {}
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await s3_stub.GetReportPhoto(incidents_pb2.GetReportPhotoRequest(report_id=created.id))
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_retries_with_one_key_leave_one_report_and_one_object(
    s3_stub: incidents_pb2_grpc.IncidentsServiceStub, s3_incidents: Any, bucket: Any
) -> None:
    """Twins racing with the same idempotency key: the loser's uploaded photo is deleted from S3."""
    request = report(jpeg_with_gps())
    request.idempotency_key = "retry-photo-1"
    request.contact.device_id = "device-s3"
    answers = await asyncio.gather(*(s3_stub.CreateReport(request) for _ in range(4)))
    assert len({a.report.id for a in answers}) == 1 and all(a.created for a in answers)
    async with s3_incidents.db.session() as session:
        reports = (await session.exec(select(func.count()).select_from(Report))).one()
        created_events = (
            await session.exec(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.subject == "cityhub.incidents.report.created")
            )
        ).one()
    assert reports == 1 and created_events == 1
    assert len(_objects(bucket)) == 1


def test_s3_url_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bucket"):
        photo_storage_from_url("s3:///only-a-prefix")
    with pytest.raises(ValueError, match="scheme"):
        photo_storage_from_url("ftp://example.org/photos")
    assert type(photo_storage_from_url(f"file://{tmp_path}")).__name__ == "LocalPhotoStorage"
