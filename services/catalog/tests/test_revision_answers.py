"""The catalog's answers per revision: every read carries the revision it was read at, kept answers
are renewed the moment an edit moves it, and the move is announced on `cityhub.catalog.revision.changed`."""

from __future__ import annotations

import nats
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc, events_pb2
from cityhub_catalog.answers import RevisionAnswers
from cityhub_catalog.config import CatalogSettings
from cityhub_sdk.app import RunningService
from cityhub_sdk.subjects import CATALOG_REVISION_CHANGED
from cityhub_sdk.testing import eventually

from .conftest import Authority

Stub = catalog_pb2_grpc.CatalogServiceStub


async def test_an_edit_renews_every_kept_answer_and_announces_the_revision(
    auth_stub: Stub, auth: Authority, catalog_auth: RunningService[CatalogSettings]
) -> None:
    listed = await auth_stub.ListServices(catalog_pb2.ListServicesRequest(lang="en", page_size=100))
    again = await auth_stub.ListServices(catalog_pb2.ListServicesRequest(lang="en", page_size=100))
    page = await auth_stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole"))
    departments = await auth_stub.ListDepartments(catalog_pb2.ListDepartmentsRequest())
    centers = await auth_stub.ListServiceCenters(catalog_pb2.ListServiceCentersRequest())
    revision = listed.revision
    assert revision > 0 and again == listed
    assert page.revision == departments.revision == centers.revision == revision

    announced: list[int] = []
    connection = await nats.connect(catalog_auth.settings.nats_url)
    try:

        async def on_message(message: nats.aio.msg.Msg) -> None:
            announced.append(events_pb2.RevisionChanged.FromString(message.data).revision)

        await connection.subscribe(CATALOG_REVISION_CHANGED, cb=on_message)
        await connection.flush()
        await auth_stub.UpdateService(
            catalog_pb2.UpdateServiceRequest(slug="pothole", name={"en": "Pothole or sinkhole"}),
            metadata=auth.bearer("operator"),
        )
        await eventually(lambda: announced == [revision + 1], timeout_s=10)
    finally:
        await connection.close()

    after = await auth_stub.ListServices(catalog_pb2.ListServicesRequest(lang="en", page_size=100))
    assert after.revision == revision + 1
    assert "Pothole or sinkhole" in [s.name for s in after.services]
    renewed = await auth_stub.GetService(catalog_pb2.GetServiceRequest(slug="pothole"))
    assert renewed.revision == revision + 1 and renewed.service.name == "Pothole or sinkhole"


def test_answers_of_an_older_revision_are_neither_served_nor_kept() -> None:
    answers: RevisionAnswers[str] = RevisionAnswers(max_entries=2)
    answers.put(3, "list", "at 3")
    assert answers.get(3, "list") == "at 3"
    assert answers.get(4, "list") is None  # the revision moved: everything older is gone
    answers.put(3, "list", "late read at 3")  # a read that raced the edit
    assert answers.get(4, "list") is None
    for key in ("a", "b", "c"):
        answers.put(4, key, key)
    assert len(answers) == 2 and answers.get(4, "a") is None  # least recently used out first
