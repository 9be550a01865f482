"""verify_file on genuine MAST light curves, which carry a CHECKSUM in every HDU and no DATASUM: each is accepted
without astropy, and any one changed byte, anywhere, is refused with a message naming the file."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.real_fits import (
    DAMAGED_DIP,
    KEPLER_90_Q3,
    PIMEN_100_CADENCES,
    REAL_FITS_DIR,
    SPOC_LAYOUT_FILES,
    TESS_S24,
    RealFile,
)


def readme_table() -> dict[str, tuple[int, str]]:
    """Size and sha256 of each file, as the fixtures' README gives them."""
    text = (REAL_FITS_DIR / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| ([0-9a-f]{64}) \|", text, re.MULTILINE)
    return {name: (int(size), sha256) for name, size, sha256 in rows}


@pytest.fixture
def astropy_opens(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every ``astropy.io.fits.open`` call made while the test runs (the library, wrapped to count)."""
    from astropy.io import fits

    opened, real_open = [], fits.open

    def counting_open(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        opened.append(args[0] if args else kwargs.get("name"))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(fits, "open", counting_open)
    return opened


@dataclass(frozen=True)
class Region:
    """One HDU as astropy places it: where its header, its cards' END, its data and its fill are."""

    index: int
    name: str
    header_start: int
    cards_end: int  # just after the END card; blank padding follows up to data_start
    data_start: int
    data_end: int  # without the fill
    end: int


def regions(path: Path) -> list[Region]:
    from astropy.io import fits

    raw = path.read_bytes()
    found = []
    with fits.open(path) as hdul:
        for index, hdu in enumerate(hdul):
            info = hdul.fileinfo(index)
            start, data_start = info["hdrLoc"], info["datLoc"]
            end_card = next(c for c in range(start, data_start, 80) if raw[c:c + 8] == b"END     ")
            found.append(Region(index, hdu.name, start, end_card + 80, data_start, data_start + hdu.size,
                                data_start + info["datSpan"]))
    return found


def card_offset(raw: bytes, region: Region, keyword: str) -> int | None:
    key = keyword.encode().ljust(8)
    return next((c for c in range(region.header_start, region.cards_end, 80) if raw[c:c + 8] == key), None)


def sampled_positions(path: Path, rng: random.Random) -> list[tuple[str, int]]:
    """(what, offset) of a few hundred bytes covering each HDU's cards (the structural ones and CHECKSUM byte by
    byte), its blank padding after END, its data and its fill, and the file's first and last bytes."""
    raw, layout = path.read_bytes(), regions(path)
    positions = [("first byte", 0), ("last byte", len(raw) - 1)]
    for r in layout:
        where = f"HDU {r.index} ({r.name})"
        cards = rng.sample(range(r.header_start, r.cards_end), 15) + [r.header_start, r.header_start + 8]
        for keyword in ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME", "END"):
            at = card_offset(raw, r, keyword)
            cards += [] if at is None else [at + 2, at + 29]
        checksum = card_offset(raw, r, "CHECKSUM")
        assert checksum is not None, f"{where} of {path.name} has no CHECKSUM"
        cards += list(range(checksum, checksum + 13))  # the keyword, "= '" and the first value characters
        positions += [(f"{where} header card", p) for p in cards]
        padding = range(r.cards_end, r.data_start)
        positions += [(f"{where} header padding", p) for p in rng.sample(padding, min(8, len(padding)))]
        positions += [(f"{where} header padding", r.data_start - 1)] if padding else []
        data = range(r.data_start, r.data_end)
        positions += [(f"{where} data", p) for p in rng.sample(data, min(40, len(data)))]
        fill = range(r.data_end, r.end)
        if fill:
            positions += [(f"{where} data fill", p) for p in rng.sample(fill, min(10, len(fill))) + [r.end - 1]]
    return positions


def changed(old: int, rng: random.Random) -> int:
    new = rng.choice([old ^ (1 << rng.randrange(8)), rng.randrange(256), 0x20, 0x00, ord("0")])
    return new if new != old else old ^ 0x01


def refusal(path: Path, position: int, value: int) -> str:
    """Why ``verify_file`` refuses ``path`` with ``value`` at ``position`` (which is put back afterwards)."""
    from lightcurve_ingest.domain.verify import VerificationError, verify_file

    with open(path, "r+b") as handle:
        handle.seek(position)
        old = handle.read(1)
        handle.seek(position)
        handle.write(bytes([value]))
    try:
        with pytest.raises(VerificationError) as refused:
            verify_file(path, {"MAST's size": path.stat().st_size})
    finally:
        with open(path, "r+b") as handle:
            handle.seek(position)
            handle.write(old)
    return str(refused.value)


@pytest.mark.parametrize("file", SPOC_LAYOUT_FILES, ids=lambda f: f.name)
def test_a_genuine_file_is_accepted_without_astropy(file: RealFile, astropy_opens: list) -> None:
    from lightcurve_ingest.domain.verify import Verified, verify_file

    size, sha256 = readme_table()[file.name]
    verified = verify_file(file.path, {"MAST's size": size, "the source's length": size})
    assert verified == Verified(size=size, sha256=sha256, fits_checksum=True)
    assert astropy_opens == [], "the fast path was not taken"


@pytest.mark.parametrize("path", [f.path for f in SPOC_LAYOUT_FILES] + [PIMEN_100_CADENCES, DAMAGED_DIP],
                         ids=lambda p: p.name)
def test_the_header_reader_places_each_hdu_where_astropy_does(path: Path) -> None:
    from lightcurve_ingest.domain.verify import _fits_layout, _read_layout

    with open(path, "rb") as handle:
        read = _read_layout(handle, path.stat().st_size, "LIGHTCURVE")
    assert read == _fits_layout(path, "LIGHTCURVE")
    assert [hdu.name for hdu in read] == ["PRIMARY", "LIGHTCURVE", "APERTURE"]
    assert [hdu.datasum is not None for hdu in read] == [path == PIMEN_100_CADENCES] * 3


@pytest.mark.parametrize("file", SPOC_LAYOUT_FILES, ids=lambda f: f.name)
def test_one_changed_byte_anywhere_in_a_genuine_file_is_refused(file: RealFile, tmp_path: Path,
                                                                astropy_opens: list) -> None:
    path = tmp_path / file.name
    shutil.copyfile(file.path, path)
    rng = random.Random(file.name)
    positions = sampled_positions(path, rng)
    assert len(positions) > 200
    raw = path.read_bytes()
    for what, position in positions:
        astropy_opens.clear()
        message = refusal(path, position, changed(raw[position], rng))
        assert file.name in message and "DATASUM" not in message, (what, position, message)
        if " data" in what:  # the header still reads right: its HDU's sum alone refuses it, without astropy
            hdu = what.split(" data")[0]
            assert f"{hdu}: CHECKSUM does not match" in message and not astropy_opens, (what, position, message)
    assert path.read_bytes() == raw


@pytest.fixture(scope="module")
def work_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("one-byte")
    return {f.name: Path(shutil.copyfile(f.path, folder / f.name)) for f in (KEPLER_90_Q3, TESS_S24)}


def header_offsets(file: RealFile) -> list[int]:
    return [p for r in regions(file.path) for p in range(r.header_start, r.data_start)]


HEADERS = {f.name: header_offsets(f) for f in (KEPLER_90_Q3, TESS_S24)}


@pytest.mark.parametrize("file", [KEPLER_90_Q3, TESS_S24], ids=lambda f: f.name)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_changed_to_any_value_is_refused(file: RealFile, work_copies: dict[str, Path],
                                                  data: st.DataObject) -> None:
    path, size = work_copies[file.name], file.path.stat().st_size
    position = data.draw(st.one_of(st.integers(0, size - 1), st.sampled_from(HEADERS[file.name])), "position")
    old = file.path.read_bytes()[position]
    value = data.draw(st.integers(0, 255).filter(lambda v: v != old), "value")
    message = refusal(path, position, value)
    assert file.name in message and "DATASUM" not in message, message


def test_the_checksums_catch_damaged_data_and_astropys_rewritten_sums_are_accepted(astropy_opens: list) -> None:
    from lightcurve_ingest.domain.verify import VerificationError, Verified, verify_file

    table = readme_table()
    with pytest.raises(VerificationError, match=r"dip_llc\.fits: damaged FITS file \(HDU 0 \(PRIMARY\): CHECKSUM"):
        verify_file(DAMAGED_DIP, {"MAST's size": table["modified/dip_llc.fits"][0]})
    size, sha256 = table[f"modified/{PIMEN_100_CADENCES.name}"]
    assert verify_file(PIMEN_100_CADENCES, {"MAST's size": size}) == Verified(size, sha256, fits_checksum=True)
    assert astropy_opens == []


def test_a_datasum_that_is_present_must_match_the_data(tmp_path: Path) -> None:
    """In the LIGHTCURVE header: one DATASUM digit one higher, a letter of its comment one lower at the same
    place of a 32-bit word. The HDU still sums to -0; its DATASUM no longer matches its data."""
    from lightcurve_ingest.domain.verify import VerificationError, verify_file

    raw = bytearray(PIMEN_100_CADENCES.read_bytes())
    lightcurve = regions(PIMEN_100_CADENCES)[1]
    card = card_offset(bytes(raw), lightcurve, "DATASUM")
    digit = next(card + i for i in range(11, 20) if raw[card + i] < ord("9"))
    letter = next(card + i for i in range(33, 80)
                  if (card + i - digit) % 4 == 0 and ord("b") <= raw[card + i] <= ord("z"))
    raw[digit] += 1
    raw[letter] -= 1
    path = tmp_path / "pimen.fits"
    path.write_bytes(raw)
    with pytest.raises(VerificationError, match=r"pimen\.fits: damaged FITS file \(HDU 1 \(LIGHTCURVE\): DATASUM"):
        verify_file(path, {})


def without_checksum_cards(raw: bytes, hdus: list[Region]) -> bytes:
    """``raw`` with the CHECKSUM card of each of ``hdus`` blanked (a blank card is a valid commentary card)."""
    data = bytearray(raw)
    for region in hdus:
        at = card_offset(raw, region, "CHECKSUM")
        data[at:at + 80] = b" " * 80
    return bytes(data)


def test_a_file_without_sums_takes_astropys_path_and_one_with_a_missing_checksum_is_refused(
        tmp_path: Path, astropy_opens: list) -> None:
    from lightcurve_ingest.domain.verify import VerificationError, Verified, verify_file

    raw, layout, path = KEPLER_90_Q3.path.read_bytes(), regions(KEPLER_90_Q3.path), tmp_path / "k.fits"
    astropy_opens.clear()  # regions() opened the original
    path.write_bytes(without_checksum_cards(raw, layout))  # as QLP and K2SFF light curves come: no sums at all
    verified = verify_file(path, {"MAST's size": len(raw)})
    assert verified == Verified(len(raw), hashlib.sha256(path.read_bytes()).hexdigest(), fits_checksum=False)
    assert len(astropy_opens) == 1
    path.write_bytes(without_checksum_cards(raw, layout[1:2]))
    with pytest.raises(VerificationError, match=r"k\.fits: damaged FITS file \(no CHECKSUM card in HDU 1 \(LIGHTCUR"):
        verify_file(path, {})


@pytest.mark.parametrize("file", [KEPLER_90_Q3, TESS_S24], ids=lambda f: f.name)
def test_a_truncated_genuine_file_is_refused_by_its_size_and_by_its_sums(file: RealFile, tmp_path: Path) -> None:
    """Cut inside a header, on a block boundary in the data, inside a block, and one byte short. (Cut exactly
    where an HDU starts, what is left is a whole, valid FITS file: only the size against MAST's tells.)"""
    from lightcurve_ingest.domain.verify import VerificationError, verify_file

    raw, layout, path = file.path.read_bytes(), regions(file.path), tmp_path / file.name
    light_curve = layout[1]
    cuts = [1, 2879, 2880, light_curve.header_start + 100, light_curve.data_start + 2880 * 3,
            light_curve.data_start + 5000, light_curve.end - 1, light_curve.end + 80, len(raw) - 2880, len(raw) - 1]
    assert not {r.header_start for r in layout} & set(cuts)
    for cut in cuts:
        path.write_bytes(raw[:cut])
        with pytest.raises(VerificationError, match=f"{re.escape(file.name)} against MAST's size: {cut} bytes"):
            verify_file(path, {"MAST's size": len(raw), "the source's length": cut})
        with pytest.raises(VerificationError, match=re.escape(file.name)) as refused:
            verify_file(path, {"the source's length": cut})
        assert "DATASUM" not in str(refused.value), cut
