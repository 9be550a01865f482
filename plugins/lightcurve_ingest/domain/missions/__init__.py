"""The missions: one module each, owning only what differs (ids, archive table, MAST query, keys, unit)."""

from __future__ import annotations

from lightcurve_ingest.domain.missions.base import ArchiveObject, ArchiveTable, KeyInfo, Mission, ProductKind
from lightcurve_ingest.domain.missions.k2 import K2
from lightcurve_ingest.domain.missions.kepler import Kepler
from lightcurve_ingest.domain.missions.tess import Tess
from lightcurve_ingest.errors import InvalidInputError

MISSIONS: dict[str, Mission] = {m.slug: m for m in (K2(), Kepler(), Tess())}

__all__ = ["MISSIONS", "ArchiveObject", "ArchiveTable", "KeyInfo", "Mission", "ProductKind", "get_mission"]


def get_mission(slug_or_name: str) -> Mission:
    """The mission called ``k2``/``K2``, ``kepler``/``Kepler`` or ``tess``/``TESS``."""
    mission = MISSIONS.get(str(slug_or_name).lower())
    if mission is None:
        raise InvalidInputError("mission", f"{slug_or_name!r} is not a mission; known: {', '.join(MISSIONS)}")
    return mission
