"""Training labels from archive dispositions, and the split (train, validation, test) of each star.

The split hashes the star with SHA-256, not Python's ``hash()`` (salted per process), so a star keeps its split in
every run and process, and all of a star's objects share it: no star is ever in two splits.
"""

from __future__ import annotations

import hashlib

from lightcurve_ingest.errors import InvalidInputError

PLANET, FALSE_POSITIVE = 1, 0

# Kepler's cumulative KOI table and K2's k2pandc share their words; TESS's TOI table (tfopwg_disp) has its own.
_KEPLER_LABELS: dict[str, int | None] = {
    "CONFIRMED": PLANET, "FALSE POSITIVE": FALSE_POSITIVE, "REFUTED": FALSE_POSITIVE, "CANDIDATE": None,
}
_TESS_LABELS: dict[str, int | None] = {
    "CP": PLANET, "KP": PLANET, "FP": FALSE_POSITIVE, "FA": FALSE_POSITIVE, "PC": None, "APC": None,
}
LABELS_BY_MISSION: dict[str, dict[str, int | None]] = {
    "kepler": _KEPLER_LABELS, "k2": _KEPLER_LABELS, "tess": _TESS_LABELS,
}

# Percent of stars per split, in order: the hash of a star falls into one of 100 buckets.
SPLITS: tuple[tuple[str, int], ...] = (("train", 80), ("validation", 10), ("test", 10))


def _mission_key(mission_name: str) -> str:
    key = str(mission_name).strip().lower()
    if key not in LABELS_BY_MISSION:
        raise InvalidInputError("mission", f"{mission_name!r} is not a mission; known: {', '.join(LABELS_BY_MISSION)}")
    return key


def label_of(mission_name: str, disposition: str) -> int | None:
    """1 for a planet, 0 for a false positive, None for a candidate (kept for inference, not training)."""
    labels = LABELS_BY_MISSION[_mission_key(mission_name)]
    word = str(disposition).strip().upper()
    if word not in labels:
        raise InvalidInputError("disposition", f"{disposition!r} is not a {mission_name} disposition; "
                                               f"known: {', '.join(labels)}")
    return labels[word]


def star_bucket(mission_name: str, target_id: int | str) -> int:
    """The star's bucket, 0 to 99, from the SHA-256 of "<mission>:<target id>"."""
    star = str(target_id).strip()
    if not star:
        raise InvalidInputError("target_id", "is empty")
    digest = hashlib.sha256(f"{_mission_key(mission_name)}:{star}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def split_of(mission_name: str, target_id: int | str) -> str:
    """``train``, ``validation`` or ``test`` (80/10/10) for a star, the same in every run and process."""
    bucket = star_bucket(mission_name, target_id)
    for split, percent in SPLITS:
        if bucket < percent:
            return split
        bucket -= percent
    raise AssertionError("SPLITS must add up to 100")
