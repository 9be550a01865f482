"""Training labels from archive dispositions, and the split (train, validation, test) of each star.

The split hashes the star with SHA-256, not Python's ``hash()`` (salted per process), so a star keeps its split in
every run and process, and all of a star's objects share it: no star is ever in two splits.
"""

from __future__ import annotations

import hashlib

from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.errors import InvalidInputError

# Percent of stars per split, in order: the hash of a star falls into one of 100 buckets.
SPLITS: tuple[tuple[str, int], ...] = (("train", 80), ("validation", 10), ("test", 10))


def labels_of(mission_name: str) -> dict[str, int | None]:
    """Each disposition of the mission's object tables (its own and any other, such as Kepler's DR24 TCEs) and its
    label; an unknown mission is refused naming it."""
    mission = get_mission(str(mission_name).strip())
    return {word: label for source in mission.object_sources.values() for word, label in source.table.labels}


def label_of(mission_name: str, disposition: str) -> int | None:
    """1 for a planet, 0 for a false positive, None for a candidate (kept for inference, not training), as the
    mission's tables map their dispositions: for Kepler's DR24 TCEs 1 for PC, 0 for AFP and NTP, None for UNK."""
    labels = labels_of(mission_name)
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
    digest = hashlib.sha256(f"{get_mission(str(mission_name).strip()).slug}:{star}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def split_of(mission_name: str, target_id: int | str) -> str:
    """``train``, ``validation`` or ``test`` (80/10/10) for a star, the same in every run and process."""
    bucket = star_bucket(mission_name, target_id)
    for split, percent in SPLITS:
        if bucket < percent:
            return split
        bucket -= percent
    raise AssertionError("SPLITS must add up to 100")
