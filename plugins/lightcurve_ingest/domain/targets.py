"""Which targets a run asks MAST about, from a mission's archive table, with the archive's labels.

The labels of a star (its disposition, its planets, KOIs or TOIs) always come from all of its rows, whatever
rows selected it: a star picked for a new CANDIDATE that also hosts a CONFIRMED planet is labelled CONFIRMED.
Each object also gets its verdict and its ephemeris in the light curves' own time (``Target.known``), read with
the same query.

A mission may offer other tables than its own (``Mission.object_sources``, the ``object_table`` param): the
targets then come from the chosen table, with its own dispositions, ephemeris columns and object names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from lightcurve_ingest.clients.tap import TapClient, adql_list, adql_string
from lightcurve_ingest.domain.ephemerides import preferred_solution
from lightcurve_ingest.domain.missions import ArchiveObject, ArchiveTable, Mission
from lightcurve_ingest.domain.missions.base import ObjectSource
from lightcurve_ingest.domain.payloads import KnownObject, Target
from lightcurve_ingest.errors import InvalidInputError

IDS_PER_QUERY = 200  # ids in one "in (...)" list: keeps a GET's URL far below common 8 KB limits


def first_day_on_or_after(moment: datetime) -> str:
    """The first day (``YYYY-MM-DD``) whose midnight is at or after ``moment``."""
    day = moment.date()
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        day += timedelta(days=1)
    return day.isoformat()


class ArchiveTargets:
    """A mission's targets as the Exoplanet Archive's TAP service lists them, from one of its object tables (its own
    ``table`` unless ``source`` names another)."""

    def __init__(self, mission: Mission, tap: TapClient, source: ObjectSource | None = None) -> None:
        self.mission = mission
        self.tap = tap
        self.source = source or mission.object_source(mission.table.name)
        self.table = self.source.table

    def all(self, dispositions: Iterable[str]) -> list[Target]:
        """Every star with an object of one of ``dispositions`` (one query of the whole table)."""
        wanted = set(dispositions)
        objects = self._objects(f"{self.table.id_column} is not null")
        chosen = {o.target_id for o, _ in objects if o.disposition in wanted}
        return sorted(t for t in self._grouped(objects).values() if t.target_id in chosen)

    def changed_in(self, start: datetime, end: datetime, dispositions: Iterable[str]) -> list[Target]:
        """Stars with a row of one of ``dispositions`` added or updated in ``[start, end)``.

        A row counts when one of the table's date columns falls in the window. The columns hold days (or
        times), so a day belongs to the window that contains its midnight. A table without date columns (a
        frozen release such as DR24's TCEs) cannot say what changed: every star of ``dispositions`` counts.
        """
        if not self.table.date_columns:
            return self.all(dispositions)
        low, high = adql_string(first_day_on_or_after(start)), adql_string(first_day_on_or_after(end))
        in_window = " or ".join(f"({c} >= {low} and {c} < {high})" for c in self.table.date_columns)
        rows = self.tap.query(
            f"select distinct {self.table.id_column} from {self.table.name} where "
            f"{self.table.disposition_column} in {adql_list(sorted(dispositions))} and ({in_window})",
            required=(self.table.id_column,))
        return self.with_ids({self.mission.parse_id(r[self.table.id_column], self.table.id_column) for r in rows})

    def with_ids(self, ids: Iterable[int]) -> list[Target]:
        """These targets with their labels; one the table does not know gets none."""
        ids = sorted(set(ids))
        targets: dict[int, Target] = {}
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = [self.mission.adql_id(i) for i in ids[start:start + IDS_PER_QUERY]]
            targets.update(self._grouped(self._objects(f"{self.table.id_column} in {adql_list(chunk)}")))
        return sorted(targets.get(i, Target(target_id=i)) for i in ids)

    def resolve(self, values: list[str]) -> tuple[list[Target], list[str]]:
        """User-given ids are taken as they are; names are looked up in the archive (never a name resolver).

        Returns the targets with their labels, and the names the archive does not know.
        """
        ids, names = self.mission.split_user_targets(values)
        found = self.mission.resolve_names(names, self.tap)
        known = {name.lower() for name in found}
        unresolved = [n for n in names if n.lower() not in known]
        return self.with_ids(set(ids).union(*found.values())), unresolved

    def _objects(self, where: str) -> list[tuple[ArchiveObject, dict[str, str]]]:
        """The rows meeting ``where``, each as an object and as read (its ephemeris columns included)."""
        ephemeris = self.source.ephemeris_columns
        columns = tuple(dict.fromkeys(self.table.columns + (ephemeris.names() if ephemeris else ())))
        rows = self.tap.query(f"select {', '.join(columns)} from {self.table.name} where {where}", required=columns)
        return [(self.source.object_of_row(row), row) for row in rows]

    def _grouped(self, objects: list[tuple[ArchiveObject, dict[str, str]]]) -> dict[int, Target]:
        by_target: dict[int, list[tuple[ArchiveObject, dict[str, str]]]] = {}
        for obj, row in objects:
            by_target.setdefault(obj.target_id, []).append((obj, row))
        return {target_id: self._target(target_id, rows) for target_id, rows in by_target.items()}

    def _target(self, target_id: int, rows: list[tuple[ArchiveObject, dict[str, str]]]) -> Target:
        objects = [obj for obj, _ in rows]
        best = min(objects, key=self._rank)
        host = best.host or next((o.host for o in objects if o.host), "")
        return Target(target_id=target_id, name=host, disposition=best.disposition,
                      objects=tuple(sorted({o.name for o in objects if o.name})), known=self._known(rows))

    def _known(self, rows: list[tuple[ArchiveObject, dict[str, str]]]) -> tuple[KnownObject, ...]:
        """Each named object once, with its best verdict and its preferred solution's ephemeris."""
        columns = self.source.ephemeris_columns
        if columns is None:
            return ()
        by_name: dict[str, list[tuple[ArchiveObject, dict[str, str]]]] = {}
        for obj, row in rows:
            if obj.name:
                by_name.setdefault(obj.name, []).append((obj, row))
        system = self.mission.light_curve_format.time_system
        return tuple(KnownObject(
            name=name, disposition=min((o for o, _ in solutions), key=self._rank).disposition,
            ephemeris=replace(preferred_solution([r for _, r in solutions], columns, system), object=name))
            for name, solutions in sorted(by_name.items()))

    def _rank(self, obj: ArchiveObject) -> int:
        """Best verdict first, in the order of the table's dispositions."""
        dispositions = self.table.dispositions
        return dispositions.index(obj.disposition) if obj.disposition in dispositions else len(dispositions)


def check_dispositions(mission: Mission, values: list[str], field: str = "dispositions",
                       table: ArchiveTable | None = None) -> list[str]:
    """The dispositions a user asked for, each one the run's table knows (the mission's own unless ``table``)."""
    table = table or mission.table
    allowed = table.dispositions
    what = f"{mission.name} disposition" if table == mission.table else f"disposition of {mission.name}'s {table.name}"
    if not values:
        raise InvalidInputError(field, f"is empty; give at least one of {', '.join(allowed)}")
    for value in values:
        if value not in allowed:
            raise InvalidInputError(field, f"{value!r} is not a {what}; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(values))
