"""Drives opsdesk with the real `healthchecks-io` Python client (PyPI), pointed at our URLs.

Usage: healthchecks_client.py BASE_URL WRITE_KEY READ_KEY PING_KEY
Prints one JSON object with what the client saw; the Rust test asserts on it.
"""

import json
import sys
import uuid

from healthchecks_io import Client, CheckCreate, CheckUpdate
from healthchecks_io.client.exceptions import BadAPIRequestError, CheckNotFoundError, HCAPIAuthError

base, write_key, read_key, ping_key = sys.argv[1:5]
out = {}

with Client(api_key=write_key, ping_key=ping_key, api_url=f"{base}/api/", ping_url=f"{base}/ping/", api_version=3) as c:
    created = c.create_check(CheckCreate(name="Nightly backup", tags="prod db", timeout=3600, grace=600, unique=["name"]))
    out["created"] = {"uuid": created.uuid, "name": created.name, "slug": created.slug, "status": created.status, "timeout": created.timeout, "grace": created.grace}
    again = c.create_check(CheckCreate(name="Nightly backup", tags="prod db", timeout=7200, unique=["name"]))
    out["upsert_same_uuid"] = again.uuid == created.uuid
    out["upsert_timeout"] = again.timeout
    cron = c.create_check(CheckCreate(name="Hourly report", schedule="5 * * * *", tz="Europe/Berlin", grace=300))
    out["cron_uuid"] = cron.uuid

    run = uuid.uuid4()
    out["start_ping"] = c.start_ping(uuid=created.uuid)[0]
    out["success_ping"] = c.success_ping(uuid=created.uuid)[0]
    out["slug_ping"] = c.success_ping(slug="nightly-backup")[0]
    out["exit_ping"] = c.exit_code_ping(exit_code=0, uuid=cron.uuid)[0]
    out["fail_ping"] = c.fail_ping(uuid=cron.uuid)[0]
    try:
        c.success_ping(uuid=str(uuid.uuid4()))
        out["unknown_ping"] = "accepted"
    except CheckNotFoundError:
        out["unknown_ping"] = "not found"

    checks = c.get_checks()
    out["listed"] = sorted(ch.name for ch in checks)
    out["tag_filter"] = [ch.name for ch in c.get_checks(tags=["db"])]
    got = c.get_check(created.uuid)
    out["got"] = {"status": got.status, "n_pings": got.n_pings, "last_ping": got.last_ping is not None, "next_ping": got.next_ping is not None}
    out["cron_status"] = c.get_check(cron.uuid).status

    updated = c.update_check(created.uuid, CheckUpdate(desc="dumps the database", grace=900))
    out["updated_grace"] = updated.grace
    paused = c.pause_check(created.uuid)
    out["paused_status"] = paused.status

    pings = c.get_check_pings(created.uuid)
    out["ping_types"] = [p.type for p in pings]
    out["ping_numbers"] = [p.number_of_pings for p in pings]
    out["ping_durations"] = [p.duration for p in pings]
    out["integrations"] = [i.kind for i in c.get_integrations()]

    try:
        c.create_check(CheckCreate(name="bad", timeout=3600, schedule="not a cron"))
        out["bad_cron"] = "accepted"
    except (BadAPIRequestError, ValueError) as e:
        out["bad_cron"] = "refused"

    deleted = c.delete_check(cron.uuid)
    out["deleted_name"] = deleted.name
    try:
        c.get_check(cron.uuid)
        out["after_delete"] = "still there"
    except CheckNotFoundError:
        out["after_delete"] = "not found"

with Client(api_key=read_key, api_url=f"{base}/api/", api_version=3) as ro:
    listed = ro.get_checks()
    out["readonly_uuids"] = [ch.uuid for ch in listed]
    out["readonly_unique_keys"] = all(ch.unique_key for ch in listed)
    try:
        ro.pause_check(created.uuid)
        out["readonly_write"] = "allowed"
    except HCAPIAuthError:
        out["readonly_write"] = "refused"

with Client(api_key="wrong", api_url=f"{base}/api/", api_version=3) as bad:
    try:
        bad.get_checks()
        out["wrong_key"] = "allowed"
    except HCAPIAuthError:
        out["wrong_key"] = "refused"

print(json.dumps(out))
