"""Meta-test for event subjects: declared once in `cityhub_sdk.subjects`, captured by their owner's
stream in `deploy/nats/streams.yaml`, carrying a protobuf message that exists, and never spelled out
anywhere else in the code (a copy would drift from the producer's name)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from cityhub_sdk import subjects
from google.protobuf import symbol_database

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ROOT / "deploy" / "nats" / "streams.yaml"
REGISTRY = ROOT / "services" / "sdk" / "src" / "cityhub_sdk" / "subjects.py"
LITERAL_SUBJECT = re.compile(r"""["']cityhub\.[a-z_]+\.[a-z_]+\.[a-z_]+["']""")


def _streams() -> dict[str, list[str]]:
    document = yaml.safe_load(STREAMS.read_text())
    return {stream["name"]: list(stream["subjects"]) for stream in document["streams"]}


def _captures(pattern: str, subject: str) -> bool:
    tokens, wanted = pattern.split("."), subject.split(".")
    for index, token in enumerate(tokens):
        if token == ">":
            return len(wanted) > index
        if index >= len(wanted) or token not in ("*", wanted[index]):
            return False
    return len(tokens) == len(wanted)


def test_every_subject_is_captured_by_exactly_its_owners_stream() -> None:
    streams = _streams()
    for subject in subjects.SUBJECTS.values():
        capturing = [name for name, patterns in streams.items() if any(_captures(p, subject.name) for p in patterns)]
        assert capturing == [subject.stream], f"{subject.name} is captured by {capturing}, expected [{subject.stream}]"


def test_every_subject_names_a_real_protobuf_message() -> None:
    import cityhub.catalog.v1.events_pb2
    import cityhub.identity.v1.events_pb2
    import cityhub.incidents.v1.events_pb2
    import cityhub.notifications.v1.events_pb2
    import cityhub.waittimes.v1.events_pb2  # noqa: F401

    database = symbol_database.Default()
    for subject in subjects.SUBJECTS.values():
        assert database.pool.FindMessageTypeByName(subject.message), subject.message


def test_subjects_follow_the_naming_rule() -> None:
    for name in subjects.SUBJECTS:
        owner, entity, verb = name.split(".")[1:]
        assert name.startswith("cityhub.") and verb.endswith("ed"), f"{name}: cityhub.<owner>.<entity>.<past_verb>"
        assert owner and entity


def test_no_module_spells_a_subject_out() -> None:
    offenders = []
    for path in (ROOT / "services").glob("*/src/**/*.py"):
        if path == REGISTRY:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if LITERAL_SUBJECT.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "import the subject from cityhub_sdk.subjects instead:\n" + "\n".join(offenders)
