"""What `lakemesh run` builds: the partitions (and whole products) that are missing or older than what they read.

Like `make`, by time: a product's partition is built again when a landing day,
a landing snapshot or an input's partition that it reads was written after
the commit that last replaced it, when its code or its contract changed, or
when something it reads is built in the same run. The Delta log says what was
committed when (each publish records its partition, code version and
contract); the landing zone's files say when they landed. A model is trained
when no registered version has its code; a new day is scored by the model
there is, never retraining it.

The plan is a list of `Build`s, each one Dagster run: assets that share a
partition range (or none) and whose inputs are built in an earlier one. A
partition missing a landing day, and the partitions reading it, run alone: they
fail alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow.parquet as pq

from lakemesh.contracts import Contract, load_contract
from lakemesh.errors import ContractInvalid, ProductNotFound, TableUnreadable
from lakemesh.orchestration.products import LANDING_METADATA, product_name
from lakemesh.settings import Settings
from lakemesh.storage.commit import PublishCommit
from lakemesh.storage.delta import open_table
from lakemesh.storage.landing import by_day_tables, landing_days, landing_path

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph  # a job's, never built here

__all__ = ["Build", "Days", "backfill", "built_through", "catch_up", "landing_times", "overlaps", "partition_ranges"]


Days = tuple[date, date]
"""`[first, end)`."""
_ALL_DAYS: Days = (date.min, date.max)


@dataclass(frozen=True, kw_only=True)
class Build:
    """One run of the catch-up: these assets, over these partitions (first and last key; None: unpartitioned)."""

    keys: frozenset[dg.AssetKey]
    partitions: tuple[str, str] | None = None
    writes: Mapping[dg.AssetKey, Days] = field(default_factory=dict, compare=False)
    """The days each asset's build replaces (every day for a whole build)."""
    reads: Mapping[dg.AssetKey, Days] = field(default_factory=dict, compare=False)
    """The days of its inputs each asset's build reads: a failed input days elsewhere does not stop it."""


def overlaps(spans: Collection[Days], days: Days) -> bool:
    """Whether any of `spans` shares a day with `days`."""
    return any(first < days[1] and days[0] < end for first, end in spans)


@dataclass(frozen=True, kw_only=True)
class _Commit:
    days: Days
    """The days the commit replaced (every day for a whole-table publish)."""
    at: float
    """When, in seconds since the epoch."""
    code_version: str
    contract: str
    """The contract it was judged by, as JSON."""


@dataclass(kw_only=True)
class _Planned:
    """What the plan builds of one asset: whole, or these partitions (their days)."""

    whole: bool = False
    partitions: list[str] = field(default_factory=list)
    days: list[Days] = field(default_factory=list)
    reads: list[Days] = field(default_factory=list)
    """The days each partition reads of its inputs (its own, and as many partitions back as its lookback)."""
    alone: set[str] = field(default_factory=set)
    """Partitions missing a landing day, or reading one that is: each runs by itself, so that it fails alone."""
    alone_days: list[Days] = field(default_factory=list)

    def overlaps(self, days: Days) -> bool:
        return self.whole or overlaps(self.days, days)

    def spans(self) -> list[Days]:
        """The days it builds."""
        return [_ALL_DAYS] if self.whole else list(self.days)

    def add(self, key: str, *, days: Days, reads: Days, alone: bool) -> None:
        """Build partition `key` (its `days`, reading `reads` of its inputs), in a range of its own if `alone`."""
        self.partitions.append(key)
        self.days.append(days)
        self.reads.append(reads)
        if alone:
            self.alone.add(key)
            self.alone_days.append(days)


def catch_up(graph: AssetGraph, *, settings: Settings, selected: Collection[dg.AssetKey] | None = None) -> list[Build]:
    """The runs that bring every asset (or the `selected` ones, in full) up to date with what it reads."""
    contracts = _contracts(settings)
    landing, publishes = _LandingTimes(settings.landing), _Publishes(contracts, settings)
    planned: dict[dg.AssetKey, _Planned] = {}
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if not node.is_materializable or (selected is not None and key not in selected):
            continue
        name = product_name(key)
        contract = contracts.get(name)
        if selected is not None:
            plan = _everything(node, contract, landing=landing)
        elif contract is None:
            plan = _model_plan(node, settings=settings)
        else:
            plan = _product_plan(node, contract, graph=graph, planned=planned, landing=landing, publishes=publishes)
        if plan.whole or plan.partitions:
            planned[key] = plan
    return _runs(graph, planned)


def backfill(
    graph: AssetGraph, key: dg.AssetKey, *, days: Days, settings: Settings, downstream: bool = False
) -> list[Build]:
    """The runs that rebuild the partitions of `key` holding any of `days`, built or not, and with `downstream`
    the partitions of its dependants that read what they rebuild (a dependant without partitions, whole). A model
    is not trained again: its predictions are rebuilt with the version there is."""
    contracts = _contracts(settings)
    landing = _LandingTimes(settings.landing)
    below = dg.AssetSelection.assets(key).downstream().resolve(graph) if downstream else {key}
    planned: dict[dg.AssetKey, _Planned] = {}
    for each in graph.toposorted_asset_keys:
        contract = contracts.get(product_name(each))
        if each not in below or contract is None:
            continue
        node = graph.get(each)
        if each == key:
            plan = _everything(node, contract, landing=landing, holding=days)
        else:
            rebuilt = _merged(
                [span for parent in node.parent_keys if parent in planned for span in planned[parent].spans()]
            )
            plan = _everything(node, contract, landing=landing, reading=rebuilt) if rebuilt else _Planned()
        if plan.whole or plan.partitions:
            planned[each] = plan
    return _runs(graph, planned)


def landing_times(landing: Path) -> dict[date, float]:
    """When each day of the tables that arrive by the day was last written (the newest of its tables' files)."""
    times = _LandingTimes(landing)
    landed: dict[date, float] = {}
    for table in by_day_tables(landing):
        for day, at in (times.landed(table) or {}).items():
            landed[day] = max(landed.get(day, 0.0), at)
    return landed


def built_through(contract: Contract, *, settings: Settings, landed: Mapping[date, float]) -> date | None:
    """The newest landed day a product has been built with: of the days that had landed (`landed`, as
    `landing_times` gives them) when the commit that last replaced the day newest landed was made, the newest (when
    none replaced it yet, the newest day any commit had seen within the days it replaced; the day before the first
    landed when no commit saw any). None when nothing has landed by the day or it was never published."""
    commits = _Publishes({contract.name: contract}, settings).of(contract.name)
    if not landed or not commits:
        return None
    newest = max(landed)

    def seen(at: float, before: date) -> date | None:
        return max((day for day, written in landed.items() if written <= at and day < before), default=None)

    covering = [c for c in commits if c.days[0] <= newest < c.days[1]]
    if covering:
        through = seen(max(c.at for c in covering), date.max)
    else:
        through = max((day for c in commits if (day := seen(c.at, c.days[1])) is not None), default=None)
    # built, but before any day now landed was written (every file landed again since): behind all of them
    return through if through is not None else min(landed) - timedelta(days=1)


def _merged(spans: Collection[Days]) -> list[Days]:
    """`spans` as the fewest spans of the same days (adjacent and overlapping ones joined)."""
    merged: list[Days] = []
    for first, end in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((first, end))
    return merged


def _contracts(settings: Settings) -> dict[str, Contract]:
    """The project's contracts that load: a product whose contract does not is in no code location that loaded."""
    contracts = {}
    for name, path in settings.contract_paths().items():
        try:
            contracts[name] = load_contract(path)
        except ContractInvalid:
            continue
    return contracts


def _everything(
    node: dg.AssetNode,
    contract: Contract | None,
    *,
    landing: _LandingTimes,
    holding: Days = _ALL_DAYS,
    reading: Collection[Days] = (_ALL_DAYS,),
) -> _Planned:
    """An asset asked for by name: all of it, or its partitions `holding` some of those days and `reading` some of
    those (a partition missing a landing day alone, as in a catch-up)."""
    if node.partitions_def is None or contract is None or contract.partitioning is None:
        return _Planned(whole=True)
    plan = _Planned()
    tables = list(node.metadata.get(LANDING_METADATA, []))
    for key in node.partitions_def.get_partition_keys():
        days = contract.partitioning.window(key)
        reads = contract.partitioning.reads(*days)
        if overlaps([holding], days) and overlaps(reading, reads):
            plan.add(key, days=days, reads=reads, alone=not all(landing.has_every_day(t, reads) for t in tables))
    return plan


def _model_plan(node: dg.AssetNode, *, settings: Settings) -> _Planned:
    """A model is trained when no registered version was trained by its code (new data is scored, not trained on)."""
    from lakemesh.ml.registry import CODE_VERSION_TAG, ModelRegistry

    registry = ModelRegistry.for_settings(settings)
    trained = registry.registered_by(product_name(node.key), tag=CODE_VERSION_TAG, value=node.code_version or "")
    return _Planned(whole=trained is None)


def _product_plan(
    node: dg.AssetNode,
    contract: Contract,
    *,
    graph: AssetGraph,
    planned: Mapping[dg.AssetKey, _Planned],
    landing: _LandingTimes,
    publishes: _Publishes,
) -> _Planned:
    """A product's partitions (or the product) that are missing, built by other code, or older than what they
    read: a landing day or snapshot, an input's days, or something built before them in this plan."""
    commits, judged_by = publishes.of(contract.name), contract.to_json()
    tables = list(node.metadata.get(LANDING_METADATA, []))
    parents = [p for p in node.parent_keys if graph.has(p)]

    def stale(days: Days, reads: Days) -> bool:
        covering = [c for c in commits if c.days[0] <= days[0] and days[1] <= c.days[1]]
        if not covering:
            return True  # never built
        built = covering[-1]
        if node.code_version is not None and built.code_version != node.code_version:
            return True
        if built.contract != judged_by:  # a guarantee, a column, the partitions changed: judged again
            return True
        if any(planned[p].overlaps(reads) for p in parents if p in planned):
            return True
        newest = max(
            [landing.newest(table, reads) for table in tables]
            + [publishes.newest(product_name(p), reads) for p in parents],
            default=0.0,
        )
        return newest > built.at

    partitioning = contract.partitioning
    if partitioning is None or node.partitions_def is None:
        return _Planned(whole=stale(_ALL_DAYS, _ALL_DAYS))
    plan = _Planned()
    for key in node.partitions_def.get_partition_keys():
        days = partitioning.window(key)
        reads = partitioning.reads(*days)
        if stale(days, reads):
            missing = not all(landing.has_every_day(table, reads) for table in tables)
            reads_missing = any(overlaps(planned[p].alone_days, reads) for p in parents if p in planned)
            plan.add(key, days=days, reads=reads, alone=missing or reads_missing)
    return plan


class _Publishes:
    """The products' publishes, oldest first, with the days each replaced: read from the Delta logs once a plan."""

    def __init__(self, contracts: Mapping[str, Contract], settings: Settings) -> None:
        self.contracts, self.settings = contracts, settings
        self._commits: dict[str, list[_Commit]] = {}

    def of(self, product: str) -> list[_Commit]:
        if product not in self._commits:
            self._commits[product] = self._read(product)
        return self._commits[product]

    def newest(self, product: str, days: Days) -> float:
        """When a product last changed in `days` (any day of a product without partitions), or a model had a
        version registered (its readers score with the newest); 0 for neither."""
        touching = [c.at for c in self.of(product) if c.days[0] < days[1] and days[0] < c.days[1]]
        return max(touching, default=0.0)

    def _read(self, product: str) -> list[_Commit]:
        contract = self.contracts.get(product)
        if contract is None:  # a model: its versions are registered, not committed
            from lakemesh.ml.registry import ModelRegistry

            registered = ModelRegistry.for_settings(self.settings).last_registered(product)
            return [] if registered is None else [_Commit(days=_ALL_DAYS, at=registered, code_version="", contract="")]
        try:
            table = open_table(self.settings.table_uri(product), storage_options=self.settings.storage_options)
            history = table.history()
        except (ProductNotFound, TableUnreadable):  # a damaged log: built again, its step says what is wrong
            return []
        commits = []
        for entry in reversed(history):
            record = PublishCommit.read(entry)
            if record is None or not record.of_publish:
                continue
            days = _ALL_DAYS
            if record.partition and contract.partitioning is not None:
                first, _, last = record.partition.partition("...")
                try:
                    days = contract.partitioning.span(first, last or first)
                except ValueError:  # a key of another grain: that commit covers none of today's partitions
                    days = (date.max, date.max)
            commits.append(
                _Commit(
                    days=days,
                    at=entry["timestamp"] / 1000,
                    code_version=record.code_version or "",
                    contract=record.contract or "",
                )
            )
        return commits


class _LandingTimes:
    """When the landing zone's files were written: a table that arrives by the day, day by day."""

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self._days: dict[str, dict[date, float]] = {}

    def landed(self, table: str) -> dict[date, float] | None:
        """When each landed day of a table that arrives by the day was written, by day; None for a snapshot."""
        path = landing_path(self.landing, table)
        if not path.is_dir():
            return None
        if table not in self._days:
            days = landing_days(self.landing, table) or []
            self._days[table] = {day: (path / f"{day.isoformat()}.parquet").stat().st_mtime for day in days}
        return self._days[table]

    def newest(self, table: str, days: Days) -> float:
        """When the newest file of `days` was written (the table's file, for a snapshot); 0 when none has landed."""
        landed = self.landed(table)
        if landed is None:
            path = landing_path(self.landing, table)
            return path.stat().st_mtime if path.exists() else 0.0
        return max((landed.get(day, 0.0) for day in _landed_days(landed, days)), default=0.0)

    def has_every_day(self, table: str, days: Days) -> bool:
        """Whether every day of `days` up to the newest landed has landed with rows (a snapshot: yes)."""
        landed = self.landed(table)
        if landed is None:
            return True
        wanted = _landed_days(landed, days)
        folder = landing_path(self.landing, table)
        return bool(wanted) and all(day in landed and _rows(folder, day) > 0 for day in wanted)


def _landed_days(landed: Mapping[date, float], days: Days) -> list[date]:
    """The days of `days` from the first landed through the newest landed (landed or not); `landed` is in order."""
    if not landed:
        return []
    first, end = max(days[0], next(iter(landed))), min(days[1], next(reversed(landed)) + timedelta(days=1))
    return [first + timedelta(days=n) for n in range((end - first).days)]


def _rows(folder: Path, day: date) -> int:
    try:
        return pq.read_metadata(folder / f"{day.isoformat()}.parquet").num_rows
    except Exception:  # an unreadable file: its partition's step says why, alone
        return 0


def partition_ranges(keys: list[str], every: list[str], *, alone: Collection[str] = ()) -> list[tuple[str, str]]:
    """`keys` (a subset of `every`, in its order) as the fewest runs of consecutive keys: (first, last) each; a
    key in `alone` is a range by itself."""
    position = {key: i for i, key in enumerate(every)}
    ranges: list[tuple[str, str]] = []
    for key in keys:
        joins = ranges and position[key] == position[ranges[-1][1]] + 1
        if joins and key not in alone and ranges[-1][1] not in alone:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def _runs(graph: AssetGraph, planned: Mapping[dg.AssetKey, _Planned]) -> list[Build]:
    """The plan as runs: an asset's range runs with those of the same range whose inputs are built before it, one
    stage after the latest stage of an input's range, in a run of another range, that writes days it reads."""
    units: dict[tuple[dg.AssetKey, tuple[str, str] | None], tuple[int, Days, Days]] = {}
    for key, plan in planned.items():  # in dependency order
        spans: list[tuple[tuple[str, str] | None, Days, Days]] = [(None, _ALL_DAYS, _ALL_DAYS)] if plan.whole else []
        if plan.partitions:
            every = graph.get(key).partitions_def.get_partition_keys()  # type: ignore[union-attr]
            at = {partition: i for i, partition in enumerate(plan.partitions)}
            for first, last in partition_ranges(plan.partitions, every, alone=plan.alone):
                writes = (plan.days[at[first]][0], plan.days[at[last]][1])
                spans.append(((first, last), writes, (plan.reads[at[first]][0], plan.reads[at[last]][1])))
        parents = graph.get(key).parent_keys
        for span, writes, reads in spans:
            stage = 0
            for (parent, parent_span), (parent_stage, parent_writes, _) in units.items():
                if parent in parents and overlaps([parent_writes], reads):
                    stage = max(stage, parent_stage + (0 if parent_span == span else 1))
            units[(key, span)] = (stage, writes, reads)
    stages: dict[tuple[int, tuple[str, str] | None], dict[dg.AssetKey, tuple[Days, Days]]] = {}
    for (key, span), (stage, writes, reads) in units.items():
        stages.setdefault((stage, span), {})[key] = (writes, reads)
    return [
        Build(
            keys=frozenset(found),
            partitions=span,
            writes={key: writes for key, (writes, _) in found.items()},
            reads={key: reads for key, (_, reads) in found.items()},
        )
        for (_, span), found in sorted(stages.items(), key=lambda item: (item[0][0], item[0][1] or ("", "")))
    ]
