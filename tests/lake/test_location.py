"""Where the lake is (`LakeLocation`): local paths and object-store URIs, local state, redaction; and the
maintenance lease on a local lake (claims, renewals, expiry, a race)."""

import threading
import time
from pathlib import Path

import pytest

from possync.actors.lake import LakeLocation, lease_state, location_of
from possync.actors.lake._lease import MaintenanceLease
from possync.config.settings import LakeSettings

pytestmark = pytest.mark.timeout(60)


def test_a_local_root_keeps_its_journal_next_to_its_tables(tmp_path: Path) -> None:
    location = LakeLocation.of(tmp_path / "lake")
    assert location.is_local and location.uri == str(tmp_path / "lake")
    assert location.journal_dir() == tmp_path / "lake" / "_journal"
    assert LakeLocation.of(f"file://{tmp_path}/lake").uri == str(tmp_path / "lake")


def test_an_object_store_root_keeps_its_journal_under_the_working_directory_or_local_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    location = location_of(LakeSettings(root="s3://bucket/pre/fix/"))
    assert not location.is_local and location.uri == "s3://bucket/pre/fix"
    assert location.journal_dir() == tmp_path / "possync-state" / "bucket_pre_fix" / "_journal"
    assert location.table_uri("position_updates") == "s3://bucket/pre/fix/position_updates"
    chosen = location_of(LakeSettings(root="gs://b/p", local_dir=str(tmp_path / "mine")))
    assert chosen.journal_dir() == tmp_path / "mine" / "_journal"


def test_secrets_never_appear_in_what_a_location_says() -> None:
    options = {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_REGION": "us-east-1"}
    options["aws_session_token"] = "tok3n"
    location = LakeLocation.of("s3://user:pa55word@bucket/lake", options)
    text = location.redact(f"failed with s3cr3t-value and tok3n at {location.uri}; region us-east-1")
    assert "s3cr3t-value" not in text and "tok3n" not in text and "pa55word" not in text
    assert "us-east-1" in text and "***" in text
    assert "pa55word" not in str(location)


def test_the_lease_is_held_by_one_writer_until_it_expires_or_is_released(tmp_path: Path) -> None:
    location = LakeLocation.of(tmp_path)
    first, second = MaintenanceLease(location, "A", 0.5), MaintenanceLease(location, "B", 0.5)
    assert first.claim() and first.held()
    assert not second.claim()
    time.sleep(0.6)  # the lease's own length: nothing to poll for, the expiry is the point
    assert second.claim() and not first.claim()
    second.release()
    assert first.claim()
    state = lease_state(location)
    assert state is not None and state.holder == "A"


def test_writers_racing_for_a_free_lease_get_exactly_one_holder(tmp_path: Path) -> None:
    location = LakeLocation.of(tmp_path)
    leases = [MaintenanceLease(location, f"W{i}", 60) for i in range(4)]
    MaintenanceLease(location, "init", 0.001).claim()  # the table exists: the race is for an epoch
    won: list[str] = []
    threads = [threading.Thread(target=lambda x=x: x.claim() and won.append(x.holder)) for x in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    state = lease_state(location)
    assert len(won) == 1 and state is not None and state.holder == won[0]


def test_the_queue_state_lives_under_the_local_dir_unless_configured(tmp_path: Path) -> None:
    from possync.actors.tree import queue_settings
    from possync.config.settings import QueueSettings, Settings

    local = Settings(lake=LakeSettings(root=str(tmp_path / "lake")))
    remote = Settings(lake=LakeSettings(root="s3://b/p", local_dir=str(tmp_path / "s")))
    chosen = Settings(queue=QueueSettings(state_file="q.msgpack"))
    assert queue_settings(local).state_file == str(tmp_path / "lake" / "_state" / "queue.msgpack")
    assert queue_settings(remote).state_file == str(tmp_path / "s" / "_state" / "queue.msgpack")
    assert queue_settings(chosen).state_file == "q.msgpack"
