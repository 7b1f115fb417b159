"""Every event subject of the platform, declared once: producers and consumers import these names.

A subject is `cityhub.<owner>.<entity>.<past_verb>`; its stream is the owner's (see
`deploy/nats/streams.yaml`), and `SUBJECTS` names the protobuf message it carries. A meta-test
checks that each subject is captured by exactly its owner's stream and that no module spells a
subject out instead of importing it from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    name: str
    stream: str
    message: str  # the protobuf message's full name (`ce-dataschema`)

    def __str__(self) -> str:
        return self.name


def _subject(name: str, message: str) -> str:
    owner = name.split(".")[1]
    SUBJECTS[name] = Subject(name, owner.upper(), message)
    return name


SUBJECTS: dict[str, Subject] = {}

# identity
IDENTITY_ACCOUNT_DELETED = _subject("cityhub.identity.account.deleted", "cityhub.identity.v1.AccountDeleted")
# catalog
CATALOG_SERVICE_UPDATED = _subject("cityhub.catalog.service.updated", "cityhub.catalog.v1.ServiceUpdated")
CATALOG_REVISION_CHANGED = _subject("cityhub.catalog.revision.changed", "cityhub.catalog.v1.RevisionChanged")
# incidents
INCIDENTS_REPORT_CREATED = _subject("cityhub.incidents.report.created", "cityhub.incidents.v1.ReportCreated")
INCIDENTS_REPORT_STATUS_CHANGED = _subject(
    "cityhub.incidents.report.status_changed", "cityhub.incidents.v1.ReportStatusChanged"
)
INCIDENTS_REPORT_FOLLOWED = _subject("cityhub.incidents.report.followed", "cityhub.incidents.v1.ReportFollowed")
INCIDENTS_REPORT_UNFOLLOWED = _subject("cityhub.incidents.report.unfollowed", "cityhub.incidents.v1.ReportUnfollowed")
INCIDENTS_ALERT_PUBLISHED = _subject("cityhub.incidents.alert.published", "cityhub.incidents.v1.AlertPublished")
INCIDENTS_ALERT_UPDATED = _subject("cityhub.incidents.alert.updated", "cityhub.incidents.v1.AlertUpdated")
INCIDENTS_ALERT_ENDED = _subject("cityhub.incidents.alert.ended", "cityhub.incidents.v1.AlertEnded")
INCIDENTS_ACCOUNT_ERASED = _subject("cityhub.incidents.account.erased", "cityhub.identity.v1.AccountErased")
# notifications
NOTIFICATIONS_CREATED = _subject(
    "cityhub.notifications.notification.created", "cityhub.notifications.v1.NotificationsCreated"
)
NOTIFICATIONS_ACCOUNT_ERASED = _subject("cityhub.notifications.account.erased", "cityhub.identity.v1.AccountErased")

# waittimes
WAITTIMES_QUEUE_UPDATED = _subject("cityhub.waittimes.queue.updated", "cityhub.waittimes.v1.QueueUpdated")
WAITTIMES_CHECKIN_REMINDED = _subject("cityhub.waittimes.checkin.reminded", "cityhub.waittimes.v1.CheckInReminded")
WAITTIMES_CHECKIN_CALLED = _subject("cityhub.waittimes.checkin.called", "cityhub.waittimes.v1.CheckInCalled")
WAITTIMES_ACCOUNT_ERASED = _subject("cityhub.waittimes.account.erased", "cityhub.identity.v1.AccountErased")


def account_erased(service: str) -> str:
    """The subject on which `service` confirms an erasure: `cityhub.<service>.account.erased`."""
    return f"cityhub.{service}.account.erased"
