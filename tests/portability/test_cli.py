"""`goodwill import` and `goodwill export` against a real `goodwill serve` on 127.0.0.1."""

import json
from pathlib import Path

import httpx
import pytest

from tests.servers import create_owner, run_cli, serving

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def server(fresh_database_url, tmp_path_factory):
    url = fresh_database_url("portability_cli")
    assert run_cli(url, "migrate").returncode == 0
    owner = create_owner(url, "importer@example.com")
    with serving(url, tmp_path_factory.mktemp("portability_cli")) as (first,):
        yield first.base, owner["api_key"], url


def cli(server, *args: str):
    base, key, url = server
    result = run_cli(url, *args, "--url", base, "--api-key", key)
    assert result.returncode == 0, result.stderr
    return result


def test_import_in_chunks_numbers_rows_as_in_the_file_and_reimports_unchanged(server):
    path = str(FIXTURES / "linkedin_connections.csv")
    dry = json.loads(cli(server, "import", path, "--dry-run", "--chunk-size", "2", "--json").stdout)
    assert (dry["created"], dry["rejected"], dry["dry_run"]) == (5, 1, True)
    first = cli(server, "import", path, "--chunk-size", "2", "--json", "--progress")
    summary = json.loads(first.stdout)
    assert [r["row"] for r in summary["rows"]] == [1, 2, 3, 4, 5, 6]
    assert [r["status"] for r in summary["rows"]] == [
        "created",
        "created",
        "created",
        "created",  # without its invalid email address
        "rejected",
        "created",
    ]
    assert "importing" in first.stderr  # the progress bar
    again = cli(server, "import", path, "--chunk-size", "4")
    assert "0 created, 0 updated, 5 unchanged, 1 rejected" in again.stdout
    assert "row 4 (left out): Email Address: not a valid email address" in again.stdout
    assert "row 5 (rejected): " in again.stdout


def test_export_json_and_vcard_round_trip(server, tmp_path):
    for name in ("linkedin_connections.csv", "apple_contacts.vcf"):
        cli(server, "import", str(FIXTURES / name))
    out = tmp_path / "export.json"
    cli(server, "export", "-o", str(out))
    document = json.loads(out.read_text())
    names = {c["display_name"] for c in document["contacts"]}
    assert {"Ada Lovelace", "Johnny Appleseed", "Annie Ng"} <= names
    assert document["owner"]["email"] == "importer@example.com"
    assert all("api_key" not in key for key in document["api_keys"])
    vcf = tmp_path / "contacts.vcf"
    cli(server, "export", "--vcard", "-o", str(vcf))
    assert vcf.read_text().count("BEGIN:VCARD") == len(document["contacts"])
    back = json.loads(cli(server, "import", str(vcf), "--json").stdout)
    assert back["unchanged"] == len(document["contacts"])
    assert back["created"] == back["updated"] == back["rejected"] == 0


def test_export_to_stdout(server):
    result = cli(server, "export", "--vcard")
    assert result.stdout.startswith("BEGIN:VCARD")


def test_the_export_is_streamed_in_chunks(server):
    base, key, _ = server
    with httpx.stream(
        "GET", f"{base}/v1/export", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        body = response.read()
    assert json.loads(body)["format"] == "goodwill-export"


def test_errors_are_reported_without_a_traceback(server, tmp_path):
    base, _, url = server
    bad_key = run_cli(
        url, "import", str(FIXTURES / "google_contacts.vcf"), "--url", base, "--api-key", "gw_x"
    )
    assert bad_key.returncode == 1
    assert "HTTP 401" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some text\n")
    refused = run_cli(url, "import", str(unknown), "--url", base, "--api-key", "gw_x")
    assert refused.returncode == 1
    assert "Could not tell the format" in refused.stderr
    nowhere = run_cli(url, "export", "--url", "http://127.0.0.1:9", "--api-key", "gw_x")
    assert nowhere.returncode == 1
    assert "did not complete" in nowhere.stderr
