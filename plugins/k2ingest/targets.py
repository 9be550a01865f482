"""K2 targets: EPIC ids, host names, and the MAST target names derived from them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from k2ingest.errors import InvalidInputError

# EPIC ids of K2 targets are 9 digits, 201000001..251813738 in the published catalog.
EPIC_MIN, EPIC_MAX = 200_000_000, 299_999_999
# Matched whole (fullmatch) and in ASCII: "\d" alone would take any script's digits.
_EPIC_TEXT = re.compile(r"(?:EPIC[ _-]?|ktwo)?([0-9]+)", re.IGNORECASE | re.ASCII)
_LOOKS_LIKE_EPIC = re.compile(r"^(?:EPIC|ktwo)", re.IGNORECASE)
# Host names as the archive spells them: "K2-18", "HD 3167", "BD+20 594", "EPIC 211945201".
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+\-]{0,63}")


@dataclass(frozen=True, order=True)
class Target:
    """A K2 planet host: its EPIC id and, when known, its archive host name."""

    epic_id: int
    hostname: str = ""

    @property
    def mast_name(self) -> str:
        return mast_target_name(self.epic_id)

    @property
    def label(self) -> str:
        return self.hostname or f"EPIC {self.epic_id}"

    def to_dict(self) -> dict:
        return {"epic_id": self.epic_id, "hostname": self.hostname}

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        return cls(epic_id=int(data["epic_id"]), hostname=str(data.get("hostname") or ""))


def mast_target_name(epic_id: int) -> str:
    """MAST's target name of a K2 target: ``ktwo`` + the 9-digit EPIC id."""
    return f"ktwo{epic_id:09d}"


def parse_epic_id(text: str, field: str = "targets") -> int:
    """Read an EPIC id written as ``201367065``, ``EPIC 201367065`` or ``ktwo201367065``."""
    match = _EPIC_TEXT.fullmatch(str(text).strip())
    if not match:
        raise InvalidInputError(field, f"{text!r} is not an EPIC id (expected 9 digits, e.g. 'EPIC 201367065')")
    value = int(match.group(1))
    if len(match.group(1)) != 9 or not EPIC_MIN <= value <= EPIC_MAX:
        raise InvalidInputError(
            field, f"{text!r} is not an EPIC id: K2 EPIC ids have 9 digits, from {EPIC_MIN} to {EPIC_MAX}"
        )
    return value


def is_epic_like(text: str) -> bool:
    """True when the text is meant as an EPIC id (digits, or an EPIC/ktwo prefix)."""
    text = str(text).strip()
    return text.isdigit() or bool(_LOOKS_LIKE_EPIC.match(text))


def validate_host_name(text: str, field: str = "targets") -> str:
    """A host name safe to send to the archive and MAST; anything else is refused by name."""
    name = str(text).strip()
    if not _HOST_NAME.fullmatch(name):
        raise InvalidInputError(
            field,
            f"{text!r} is not a valid host name (letters, digits, space and . _ + - only, at most 64 characters)",
        )
    return name


def split_user_targets(values: list[str], field: str = "targets") -> tuple[list[int], list[str]]:
    """Split user-given targets into EPIC ids and host names, validating each."""
    if not values:
        raise InvalidInputError(field, "the target list is empty; give at least one host name or EPIC id, or omit it")
    epic_ids: list[int] = []
    host_names: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInputError(field, f"{value!r} is not a string")
        if is_epic_like(value):
            epic_ids.append(parse_epic_id(value, field))
        else:
            host_names.append(validate_host_name(value, field))
    return epic_ids, host_names
