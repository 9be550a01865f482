"""Issue 6, inputs: params, target names, keys and archive replies, fuzzed with hypothesis.

Every malformed value must end in a validation error naming its field (``InvalidInputError.field``), or
for a service's reply a ``ServiceReplyError``; never an unhandled exception deep in a task. Whatever is
accepted must be safe to use (absolute local roots without ``..``, ASCII keys inside the destination...).
A few bad ``conf``s also go through the real DAG.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lightcurve_ingest.clients.tap import parse_csv_table
from lightcurve_ingest.domain.missions import MISSIONS, get_mission
from lightcurve_ingest.errors import InvalidInputError, ServiceReplyError
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.params import MAX_COPY_THREADS, MAX_TARGETS_PER_BATCH, RunParams, param_specs
from tests.helpers import run_dag, task_states
from tests.reliability_figures import figures

# derandomize: the same examples every run (CI stays reproducible; the figures too)
FUZZ = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
K2, TESS = get_mission("k2"), get_mission("tess")
PARAMS = tuple(param_specs(TESS))  # every mission's params; TESS alone has include_fast_cadence
KEY_PREFIX = "k2/public/lightcurves/"
REAL_RELATIVE = "c5/211000000/45000/ktwo211045000-c05_llc.fits"
# each mission: (a real key, a regex its keys match)
KEYS = {
    "k2": (KEY_PREFIX + REAL_RELATIVE,
           r"k2/public/lightcurves/c[0-9]{1,3}/[0-9]{4}00000/[0-9]{2}000/ktwo[0-9]{9}-c[0-9]{2,3}_llc\.fits"),
    "kepler": ("kepler/public/lightcurves/0119/011904151/kplr011904151-2009166043257_llc.fits",
               r"kepler/public/lightcurves/[0-9]{4}/[0-9]{9}/kplr[0-9]{9}-[0-9]{13}_llc\.fits"),
    "tess": ("tess/public/tid/s0015/0000/0003/7542/2201/tess2019226182529-s0015-0000000375422201-0151-s_lc.fits",
             r"tess/public/tid/s[0-9]{4}(/[0-9]{4}){4}/tess[0-9]{13}-s[0-9]{4}-[0-9]{16}-[0-9]{4}-s_lc\.fits"),
}
SAFE_KEY = re.compile(r"[A-Za-z0-9/._\-]+")
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+\-]{0,63}")
NASTY = ["..", "../", "/", "//", "\\", "\n", "\r", "\x00", "%2e", "%2f", "~", " ", "\u0665", "\uff15", "\u2215",
         "\u202e", "'", '"', ";", "*", "?", "#", ":", "@", "\t", "$", "`"]




@pytest.fixture
def tally(request) -> Counter:  # noqa: ANN001
    return figures(request.config)


def refused(tally: Counter, err: InvalidInputError, *fields: str) -> None:
    """Count one input refused by name, after checking the name is the expected field's."""
    assert err.field in fields, f"{err.field!r} named instead of one of {fields}: {err}"
    assert str(err).startswith(f"{err.field}: ")
    tally["bad inputs tried (listed + fuzzed)"] += 1
    tally["bad inputs refused with the field named"] += 1


# --- strategies -----------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def spliced(base: str) -> st.SearchStrategy[str]:
    """``base`` with a few nasty pieces inserted, replacing or deleting characters at random places."""
    def apply(edits: list[tuple[int, int, str]]) -> str:
        text = base
        for position, cut, piece in edits:
            at = position % (len(text) + 1)
            text = text[:at] + piece + text[at + cut:]
        return text

    return st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3), st.sampled_from(NASTY) | st.text(max_size=3)),
                    min_size=1, max_size=3).map(apply)


destinations = st.one_of(
    st.text(max_size=40),
    st.text(max_size=40).map(lambda t: "/" + t),
    st.text(max_size=40).map(lambda t: "s3://" + t),
    st.text(max_size=40).map(lambda t: "file://" + t),
    spliced("/data/k2/lightcurves"),
    spliced("s3://team-bucket/k2/lc"),
    spliced("file:///data/k2"),
    st.sampled_from(["~nosuchuser-k2/x", "s3://[bucket", "file://[x/", "/tmp/a\x00b", "file:///tmp/%00x",
                     "/" + "a" * 300, "s3://b/" + "p/" * 600, "s3://bucket/a/../b", "s3://UPPER/x", "s3:///x",
                     "s3://bucket?x=1", "file://host/x", "gs://b/x", "relative/x", "~", "/a/../b"]),
)
target_lists = st.one_of(
    st.lists(st.text(max_size=20), max_size=4),
    st.lists(st.one_of(spliced("K2-18"), spliced("EPIC 201367065"), spliced("ktwo201367065"), spliced("Kepler-10"),
                       spliced("KIC 11904151"), spliced("TOI-144.01"), spliced("TIC 261136679"), spliced("pi Men")),
             max_size=4),
    st.lists(json_values, max_size=3),
    json_values,
)
integers = st.integers(-5, 2000) | json_values
run_params = st.fixed_dictionaries({}, optional={
    "destination": destinations,
    "dest_aws_conn_id": st.one_of(st.text(max_size=12), spliced("aws_default"), json_values),
    "targets": target_lists,
    "full_refresh": json_values,
    "targets_per_batch": integers,
    "copy_threads": integers,
    "read_back_server_side_copies": json_values,
    "dispositions": st.lists(st.sampled_from(["CP", "KP", "PC", "FP", "CONFIRMED"]) | st.text(max_size=8),
                             max_size=3) | json_values,
    "include_fast_cadence": json_values,
}) | st.dictionaries(st.sampled_from(PARAMS) | st.text(max_size=10), json_values, max_size=4)


# --- params ---------------------------------------------------------------------------------------

@FUZZ
@given(run_params)
@example({"destination": "s3://[bad"})
@example({"destination": "~nosuchuser-k2/x"})
@example({"destination": "/tmp/a\x00b"})
@example({"dest_aws_conn_id": "aws_default\n"})
@example({"targets": ["EPIC \u0662\u0660\u0661\u0663\u0666\u0667\u0660\u0666\u0665"]})  # Arabic digits
@example({"targets": ["K2-18\n"]})
@example({"targets_per_batch": True})
@example({"copy_threads": 8.0})
@example({"dispositions": ["CP", "CONFIRMED"]})
@example({"dispositions": []})
def test_run_params_parse_accepts_only_safe_values_and_names_the_field_of_anything_else(tally, params):
    try:
        parsed = RunParams.parse(params, TESS)
        if parsed.targets is not None:
            ids, names = TESS.split_user_targets(parsed.targets)
    except InvalidInputError as err:
        refused(tally, err, *PARAMS, *(set(params) - set(PARAMS)))
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    assert_safe_destination(parsed.destination)
    assert 1 <= parsed.targets_per_batch <= MAX_TARGETS_PER_BATCH and 1 <= parsed.copy_threads <= MAX_COPY_THREADS
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", parsed.dest_aws_conn_id)
    assert parsed.dispositions and set(parsed.dispositions) <= set(TESS.table.dispositions)
    if parsed.targets is not None:
        assert all(1 <= i <= TESS.id_range[1] for i in ids) and all(HOST_NAME.fullmatch(n) for n in names)


def assert_safe_destination(destination) -> None:  # noqa: ANN001
    if destination.is_local:
        root = Path(destination.root)
        assert root.is_absolute() and ".." not in root.parts
        assert not re.search(r"[\x00-\x1f\x7f]", destination.root)
        assert all(len(part.encode("utf-8", "surrogatepass")) <= 255 for part in root.parts)
    else:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", destination.root)
        assert all(p not in ("", ".", "..") for p in destination.prefix.split("/")) or destination.prefix == ""
        key = destination.key(KEY_PREFIX + REAL_RELATIVE)
        assert len(key.encode()) <= 1024 and SAFE_KEY.fullmatch(key.replace("=", "").replace("+", ""))


@FUZZ
@given(destinations)
def test_parse_destination(tally, text):
    try:
        destination = parse_destination(text)
    except InvalidInputError as err:
        refused(tally, err, "destination")
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    assert_safe_destination(destination)


@pytest.mark.parametrize("slug", list(MISSIONS))
@FUZZ
@given(values=target_lists)
def test_split_user_targets(tally, slug, values):
    mission = get_mission(slug)
    try:
        ids, names = mission.split_user_targets(values)
    except InvalidInputError as err:
        refused(tally, err, "targets")
        return
    except TypeError:
        assert not isinstance(values, list)  # the DAG's schema and RunParams.parse only ever pass lists
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    low, high = mission.id_range
    assert all(low <= i <= high for i in ids)
    assert all(HOST_NAME.fullmatch(n) for n in names)


@pytest.mark.parametrize(("slug", "example_id", "written"), [
    ("k2", "201367065", r"(?i:EPIC[ _-]?|ktwo)?[0-9]{9}"),
    ("kepler", "11904151", r"(?i:KIC[ _-]?|kplr)?[0-9]{1,9}"),
    ("tess", "261136679", r"(?i:TIC[ _-]?)?[0-9]{1,16}"),
])
@FUZZ
@given(data=st.data())
def test_parse_id(tally, slug, example_id, written, data):
    mission = get_mission(slug)
    prefix = mission.id_prefix
    text = data.draw(st.one_of(st.text(max_size=20), spliced(f"{prefix} {example_id}"), spliced(example_id),
                               st.integers(0, 10**17).map(str), st.integers(0, 10**17).map(lambda n: f"{prefix} {n}")))
    try:
        value = mission.parse_id(text, field=mission.table.id_column)
    except InvalidInputError as err:
        refused(tally, err, mission.table.id_column)
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    assert mission.id_range[0] <= value <= mission.id_range[1]
    assert re.fullmatch(written, text.strip())


# --- keys from MAST -------------------------------------------------------------------------------

DATA_URI_PREFIXES = {"k2": ("mast:K2/url/missions/k2/lightcurves/", "k2/public/lightcurves/"),
                     "kepler": ("mast:KEPLER/url/missions/kepler/lightcurves/", "kepler/public/lightcurves/")}


@pytest.mark.parametrize("slug", list(MISSIONS))
@FUZZ
@given(data=st.data())
def test_keys_from_mast_are_refused_or_stay_inside_the_destination(tally, slug, data):
    mission = get_mission(slug)
    real, pattern = KEYS[slug]
    key_text = data.draw(st.one_of(spliced(real), st.text(max_size=60), st.just(real + "\n"),
                                   st.just(real.replace("1", "\u0661")), st.just(real + "/../../../etc/passwd"),
                                   st.from_regex(pattern, fullmatch=True)))
    if slug == "tess":  # a dataURI names the file alone
        uri = "mast:TESS/product/" + key_text.rsplit("/", 1)[-1]
    else:
        uri_prefix, key_prefix = DATA_URI_PREFIXES[slug]
        uri = uri_prefix + key_text.removeprefix(key_prefix)
    for field, check in (("dataURI", lambda: mission.key_from_data_uri(uri)),
                         ("key", lambda: mission.validate_key(key_text))):
        try:
            key = check()
        except InvalidInputError as err:
            refused(tally, err, field)
            continue
        tally["fuzzed inputs accepted, then checked safe"] += 1
        assert key.isascii() and SAFE_KEY.fullmatch(key) and re.fullmatch(pattern.replace("s_lc", "(s_lc|a_fast-lc)"),
                                                                           key)
        parts = PurePosixPath(key).parts
        assert not key.startswith("/") and ".." not in parts and "." not in parts
        assert str(PurePosixPath("/dest", key)).startswith(f"/dest/{slug}/public/")


REAL_URI = "mast:K2/url/missions/k2/lightcurves/" + REAL_RELATIVE


@FUZZ
@given(st.fixed_dictionaries({
    "dataURI": st.one_of(st.just(REAL_URI), spliced(REAL_URI), json_scalars),
    "size": st.one_of(st.integers(-10, 10**7), json_scalars, st.just(None)),
}))
@example({"dataURI": REAL_URI, "size": None})  # MAST changed its reply: a null size
@example({"dataURI": REAL_URI, "size": "1.5e3"})
def test_a_mast_product_row_becomes_a_safe_file_is_skipped_or_fails_the_query_by_name(tally, row):
    from lightcurve_ingest.domain.discovery import _to_file
    from lightcurve_ingest.domain.payloads import Target

    row = {**row, "obs_id": "o", "obsID": "1"}
    try:
        file = _to_file(K2, row, {"ktwo211045000": Target(211045000)}, 1800.0)
    except ServiceReplyError:
        tally["bad inputs tried (listed + fuzzed)"] += 1
        tally["bad replies refused as ServiceReplyError"] += 1
        return
    if file is None:
        tally["bad inputs tried (listed + fuzzed)"] += 1
        tally["unsafe keys / dataURIs rejected"] += 1
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    assert file.source_key == KEY_PREFIX + REAL_RELATIVE and file.mast_size > 0


# --- archive replies ------------------------------------------------------------------------------

csv_cells = st.text(alphabet=string.printable + "\x00\u00e9", max_size=12)


@st.composite
def csv_replies(draw) -> str:  # noqa: ANN001
    header = draw(st.lists(st.sampled_from(["hostname", "epic_hostname", "x"]) | csv_cells, min_size=1, max_size=3))
    lines = [",".join(header)] + [",".join(draw(st.lists(csv_cells, min_size=0, max_size=4)))
                                  for _ in range(draw(st.integers(0, 4)))]
    text = "\n".join(lines) + "\n"
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


@FUZZ
@given(st.one_of(st.text(max_size=80), csv_replies()))
@example("hostname,epic_hostname\nK2-18,\x00EPIC 201367065\n")
@example('hostname,epic_hostname\n"K2-18,EPIC 201367065\n')
@example("hostname,epic_hostname\nK2-18,EPIC 2013\r67065\n")
@example("hostname,epic_hostname\nK2-18,EPIC 201367065")
@example("<!DOCTYPE html><html>503</html>\n")
def test_parse_csv_table_returns_whole_rows_or_refuses_the_reply(tally, text):
    try:
        rows = parse_csv_table(text, required=("hostname", "epic_hostname"))
    except ServiceReplyError:
        tally["bad inputs tried (listed + fuzzed)"] += 1
        tally["bad replies refused as ServiceReplyError"] += 1
        return
    tally["fuzzed inputs accepted, then checked safe"] += 1
    assert text.endswith("\n") and not text.lstrip().startswith("<")
    assert all({"hostname", "epic_hostname"} <= set(row) for row in rows)
    for row in rows:  # what plan does with each row: a named error, never anything else
        try:
            K2.id_of_row(row)
        except InvalidInputError as err:
            assert err.field == "epic_hostname"


# --- bad conf through the real DAG ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("conf", "param"), [
    ({"targets_per_batch": "7"}, "targets_per_batch"),
    ({"copy_threads": 0}, "copy_threads"),
    ({"full_refresh": "yes"}, "full_refresh"),
    ({"read_back_server_side_copies": 1}, "read_back_server_side_copies"),
    ({"targets": "K2-18"}, "targets"),
    ({"targets": [201367065]}, "targets"),
    ({"dispositions": ["CP"]}, "dispositions"),
    ({"dispositions": []}, "dispositions"),
])
def test_conf_against_the_params_schema_is_refused_before_any_task_runs(ingest_dag, standins, tmp_path, conf,
                                                                        param, tally):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=f"Invalid input for param {param}:"):
        run_dag(ingest_dag, {"destination": str(tmp_path / "dest"), **conf})
    tally["bad inputs tried (listed + fuzzed)"] += 1
    tally["bad inputs refused with the field named"] += 1
    tally["bad DAG confs refused"] += 1


@pytest.mark.slow
@pytest.mark.parametrize(("conf", "message"), [
    ({"destination": "s3://[team-bucket/k2"}, "destination: 's3://[team-bucket/k2' is not a valid URL"),
    ({"destination": "/tmp/k2\x00x"}, "destination: '/tmp/k2\\x00x' contains a control character"),
    ({"dest_aws_conn_id": "aws_default\n"}, "dest_aws_conn_id: 'aws_default\\n' is not a connection id"),
])
def test_conf_the_schema_lets_through_fails_plan_targets_by_name(ingest_dag, standins, tmp_path, caplog, capfd,
                                                                conf, message, tally):
    standins.s3.reset_counters()
    run = run_dag(ingest_dag, {"destination": str(tmp_path / "dest"), **conf})

    states = task_states(run)
    printed = capfd.readouterr().out + caplog.text
    assert str(run.state) == "failed" and states["plan_targets"] == "failed", states
    assert message in printed
    assert "InvalidInputError" in printed and "ValueError: " not in printed.replace("InvalidInputError", "")
    assert standins.s3.requests_by_method.get("GET", 0) == 0
    assert not (tmp_path / "dest").exists()
    tally["bad inputs tried (listed + fuzzed)"] += 1
    tally["bad inputs refused with the field named"] += 1
    tally["bad DAG confs refused"] += 1
    tally["DAG runs"] += 1
    tally["DAG runs failed by design (bad conf, persistent faults)"] += 1
