"""The classroom market game's state: teams, their decisions, rounds, save and resume.

Every team runs one streaming service that enters the scenario's market. The model cannot
add services during a run (:meth:`MarketModel.set_policy` refuses it), so the game builds
the market with ``slots`` extra competitors, **team slots**, that are *not yet launched*:
no free tier, the schema's top price, no catalogue, no marketing, no initial users (their
share of the initial competitor users, added for them, is released to unaware before the
first month). A slot's service name is fixed (``Team slot 1`` ...); the team's name is
shown instead of it. A team that joins is launched at the start of the next round, with
one :meth:`MarketModel.set_policy` call that sets its decisions: the very policy path the
dashboard uses. There is no second simulation engine.

A round is ``months_per_round`` months. At its start every team's decisions are locked
and applied; decisions sent while it runs are refused with a message. The game is saved
as JSON (the scenario, the teams and every round's locked decisions) and resumed by
replaying the rounds with the same seed: the same market, month for month.

No solara here: the pages (:mod:`sim.classroom.page`) call this module.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sim.agents.listeners import State
from sim.app.controls import LISTENER_LIMITS
from sim.model import MarketModel
from sim.scenario import Scenario, ScenarioError
from sim.scenario.schema import MAX_SERVICES
from sim.scenario.errors import validate_scenario_data

SAVE_FORMAT = "freemium-sim classroom game 1"
SAVE_KEYS = {"format": str, "scenario": dict, "listeners": int, "months_per_round": int, "slots": int, "over": bool,
             "teams": list, "rounds": list, "individuals": bool}  # a saved game's keys and their JSON types
SAVE_DEFAULTS = {"individuals": False}  # keys that games saved by earlier versions lack
MIN_TEAMS = 3
TEAMS = 16  # team slots unless the teacher says: a class of thirty in pairs, and room for a few more
INDIVIDUALS = 32  # slots when students play one by one: a class of thirty and two more
NAME_LENGTH = 24  # characters of a team name: fits a leaderboard row on a phone
# bidi embeddings, overrides and isolates: a name may be right-to-left, but may not turn the page around it
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
TOKEN_BYTES = 16  # a team's page token: 128 random bits, nobody guesses it
# token_urlsafe's alphabet; from 12 characters (72 bits), the length games of the first version saved
TOKEN = re.compile(r"[A-Za-z0-9_-]{12,64}")
SLOT_PRICE = 200.0  # the schema's top price: nobody subscribes to a slot not yet launched
ENTRANT_SUPPORT_STAFF = 100  # advisors of a launched team's service (its cost counts in its profit)
KPIS = ("mau", "premium_subscribers", "revenue_subscription_eur", "revenue_ads_eur", "gross_profit_eur",
        "marketing_spend_eur", "market_share")


class GameError(ValueError):
    """Something a player asked for that the game refuses; the message is for the player."""


@dataclass(frozen=True)
class Decisions:
    """What a team decides for its service: individual plan ``price`` (EUR/month), a
    ``free_tier`` (bool), ``ad_load`` on it (ad-min/hour), ``marketing`` (million EUR/month)
    and ``personalization`` (0..1)."""

    price: float = 9.99
    free_tier: bool = True
    ad_load: float = 2.5
    marketing: float = 2.0
    personalization: float = 0.5

    #: (low, high, step) of each number: what the student page's sliders offer
    LIMITS = {"price": (0.99, 19.99, 0.5), "ad_load": (0.0, 10.0, 0.5), "marketing": (0.0, 20.0, 0.5),
              "personalization": (0.0, 1.0, 0.05)}

    @classmethod
    def checked(cls, raw: dict[str, Any]) -> Decisions:
        """Decisions from a dict of the fields above (missing ones take the defaults); a
        value that is not a finite number in its range is refused with a GameError."""
        unknown = set(raw) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise GameError(f"unknown decision(s): {', '.join(sorted(unknown))}")
        values = {}
        for name, value in raw.items():
            if name == "free_tier":
                if not isinstance(value, bool):
                    raise GameError(f"free_tier: must be true or false (got {value!r})")
            else:
                low, high, _ = cls.LIMITS[name]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or not low <= value <= high:
                    raise GameError(f"{name}: must be a number from {low:g} to {high:g} (got {value!r})")
                value = float(value)
            values[name] = value
        return cls(**values)

    def policy(self, slot: str, content_value: float) -> dict[str, Any]:
        """Scenario key path -> value that launch service ``slot`` with these decisions."""
        base = f"services.competitors.{slot}"
        return {f"{base}.plans": {"individual": {"price": self.price}}, f"{base}.free_tier": self.free_tier,
                f"{base}.ad_load": self.ad_load, f"{base}.marketing_budget": self.marketing * 1e6,
                f"{base}.personalization": self.personalization, f"{base}.content_value": content_value,
                f"{base}.support_staff": ENTRANT_SUPPORT_STAFF, f"{base}.trial_months": 1}


def team_name(raw: object) -> str:
    """A team name as typed, spaces trimmed and collapsed; refused (GameError) if empty, longer than
    :data:`NAME_LENGTH` characters, or holding control characters or bidi overrides."""
    name = " ".join(str(raw).split())
    if not name:
        raise GameError("Enter a team name.")
    if len(name) > NAME_LENGTH:
        raise GameError(f"A team name has at most {NAME_LENGTH} characters.")
    if any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in name):
        raise GameError("A team name cannot hold control characters.")
    return name


def check_token(token: object) -> str:
    """A team's page token, refused (GameError) unless made of letters, digits, ``-`` and ``_``, 12 to 64 of them."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise GameError(f"a team token is 12 to 64 letters, digits, '-' or '_' (got {str(token)[:80]!r})")
    return token


@dataclass
class Team:
    """A team: its ``name``, the secret ``token`` in its page's address (a reload keeps
    the service), its service ``slot`` (0-based), the round it joined before
    (``joined_round`` rounds had been played) and its ``decisions`` for the next round."""

    name: str
    token: str
    slot: int
    joined_round: int
    decisions: Decisions = field(default_factory=Decisions)


@dataclass(frozen=True)
class Round:
    """A round played: its ``number`` (1-based), first month index ``start``, ``months``
    played, and each team's locked decisions (token -> Decisions)."""

    number: int
    start: int
    months: int
    decisions: dict[str, Decisions]


def slot_name(k: int) -> str:
    """The fixed service name of team slot ``k`` (0-based)."""
    return f"Team slot {k + 1}"


def room(scenario: Scenario) -> int:
    """Team slots the scenario leaves: a market holds at most :data:`MAX_SERVICES` services in all."""
    return MAX_SERVICES - len(scenario.all_services())


def default_slots(scenario: Scenario, individuals: bool = False) -> int:
    """Team slots unless the teacher says (:data:`TEAMS`, or :data:`INDIVIDUALS` when students
    play one by one), fewer if the market has no room for them."""
    return min(INDIVIDUALS if individuals else TEAMS, room(scenario))


def classroom_scenario(scenario: Scenario, listeners: int, slots: int) -> Scenario:
    """The scenario with ``slots`` team slots added as competitors not yet launched, and
    ``listeners`` simulated listeners.

    The scenario's initial competitor share is split evenly over every competitor, so it
    is raised for the slots, and the aware share with it: the named competitors start as
    large as in the scenario, and once the slots' listeners are released to unaware
    (:func:`release_slots`), as many people are aware and use a service as in the scenario.
    """
    if not MIN_TEAMS <= slots <= room(scenario):
        raise ScenarioError(f"classroom: --teams must be from {MIN_TEAMS} to {room(scenario)} (got {slots}): the "
                            f"scenario has {len(scenario.all_services())} services, a market at most {MAX_SERVICES}")
    data = scenario.model_dump(mode="python")
    comps = data["services"]["competitors"]
    named = len(comps)
    comps.extend({"name": slot_name(k), "free_tier": False, "content_value": 0.0, "personalization": 0.0,
                  "plans": {"individual": {"price": SLOT_PRICE}}, "trial_months": 0, "marketing_budget": 0.0,
                  "support_staff": 0, "wrapped": False, "strategy": "static"} for k in range(slots))
    init = data["initial"]
    if named:
        extra = min(init["competitor"] * slots / named, 1.0 - init["aware"])
        init["competitor"] += extra
        init["aware"] += extra
    data["market"]["agents"] = listeners
    return Scenario.model_validate(data)


def release_slots(model: MarketModel, first: int) -> None:
    """Before the first month: the listeners placed on services ``first`` and later (the
    slots) become unaware, as if those services did not exist yet."""
    pop = model.population
    released = np.flatnonzero((pop.state == State.USER) & (pop.service >= first))
    pop.forget(released)
    model.memory.sharing[released] = False  # nor do they share data with anyone
    pop.recount_known()
    model.gather_known(history=True)


class Game:
    """One classroom market game.

    Parameters
    ----------
    scenario : Scenario
        The market the teams enter (its focal service and competitors stay as the scenario has them).
    listeners : int
        Simulated listeners (a classroom round must take seconds).
    months_per_round : int
        Months played by :meth:`play_round`.
    slots : int, optional
        Teams that can join (default: :func:`default_slots`).
    individuals : bool
        Students join one by one under their own name (the pages say "you", not "your team").

    Thread-safe: the pages of the teacher and of every student call it from their own threads.
    """

    def __init__(self, scenario: Scenario, listeners: int = 20_000, months_per_round: int = 12,
                 slots: int | None = None, individuals: bool = False):
        named = len(scenario.services.competitors)
        slots = default_slots(scenario, individuals) if slots is None else slots
        self.individuals = individuals
        if months_per_round < 1:
            raise ScenarioError(f"classroom: --round-months must be at least 1 (got {months_per_round})")
        self.scenario, self.listeners, self.months_per_round, self.slots = scenario, listeners, months_per_round, slots
        self.model = MarketModel(classroom_scenario(scenario, listeners, slots))
        self.first_slot = 1 + named  # service index of slot 0
        release_slots(self.model, self.first_slot)
        focal, comps = scenario.services.focal, scenario.services.competitors
        # an entrant licenses the catalogue the smaller rivals have (the focal service's if there are none)
        self.content_value = float(np.mean([c.content_value for c in comps])) if comps else focal.content_value
        self.teams: dict[str, Team] = {}  # by token, in joining order
        self.browsers: dict[str, str] = {}  # browser session (a cookie) -> the token of the team it joined
        self.rounds: list[Round] = []
        self.running = False
        self.over = False  # the teacher ended the game
        self.version = 0  # bumped at every change the pages must show
        self._lock = threading.RLock()

    # ------------------------------------------------------------ players

    def join(self, name: str, token: str | None = None, browser: str | None = None) -> Team:
        """A new team named ``name`` (spaces trimmed); refused if empty, taken (ignoring
        case), too long, or if every slot is taken or the market's horizon is reached.
        ``browser`` (the page's session cookie) remembers the team for that browser: the
        join link opened again there leads back to it (:meth:`returning`)."""
        name = team_name(name)
        token = secrets.token_urlsafe(TOKEN_BYTES) if token is None else check_token(token)
        with self._lock:
            if token in self.teams:
                raise GameError("That team token is taken.")
            if any(t.name.casefold() == name.casefold() for t in self.teams.values()):
                raise GameError(f"The name '{name}' is taken: choose another one.")
            if len(self.teams) >= self.slots:
                raise GameError(f"The market is full: {self.slots} teams play already.")
            if self.finished:
                raise GameError("The game is over: no new teams.")
            team = Team(name, token, len(self.teams), len(self.rounds))
            self.teams[team.token] = team
            if browser:
                self.browsers[browser] = team.token
            self.version += 1
            return team

    def returning(self, browser: str | None) -> Team | None:
        """The team this browser joined, if any (not saved: a resumed game relies on the page addresses)."""
        return self.team(self.browsers.get(browser or ""))

    def team(self, token: str | None) -> Team | None:
        """The team with this page token, or None."""
        return self.teams.get(token or "")

    def decide(self, token: str, raw: dict[str, Any]) -> Decisions:
        """Set a team's decisions for the next round (refused while a round runs and once the game is over)."""
        with self._lock:
            team = self.teams.get(token)
            if team is None:
                raise GameError("Unknown team: join the game first.")
            if self.running:
                raise GameError(f"Round {len(self.rounds)} is running: decisions are locked until it ends.")
            if self.finished:
                raise GameError("The game is over: decisions are closed.")
            team.decisions = Decisions.checked({**asdict(team.decisions), **raw})
            self.version += 1
            return team.decisions

    # ------------------------------------------------------------ rounds

    @property
    def finished(self) -> bool:
        """The teacher ended the game, or the market reached the end of its horizon."""
        return self.over or self.model.t >= self.model.n_steps

    def end(self) -> None:
        """End the game: no more rounds or teams."""
        with self._lock:
            if self.running:
                raise GameError("A round is running: end the game when it is over.")
            self.over = True
            self.version += 1

    @property
    def months_left(self) -> int:
        return self.model.n_steps - self.model.t

    def lock_round(self) -> Round:
        """Start a round: lock every team's decisions and apply them (launching the teams
        that joined since the last round) with one ``set_policy`` call."""
        with self._lock:
            if self.running:
                raise GameError("A round is running already.")
            if self.finished:
                raise GameError("The game is over.")
            locked = {t.token: t.decisions for t in self.teams.values()}
            changes: dict[str, Any] = {}
            for token, decisions in locked.items():
                changes.update(decisions.policy(slot_name(self.teams[token].slot), self.content_value))
            number = len(self.rounds) + 1
            if changes:
                self.model.set_policy(changes, source=f"classroom round {number}")
            played = Round(number, self.model.t, min(self.months_per_round, self.months_left), locked)
            self.rounds.append(played)
            self.running = True
            self.version += 1
            return played

    def play_round(self, on_month: Callable[[int], None] | None = None) -> Round:
        """Lock the decisions (:meth:`lock_round`) and play the round's months;
        ``on_month(k)`` is called after month k (1-based) of the round."""
        played = self.lock_round()
        try:
            for k in range(played.months):
                self.model.step()
                self.version += 1
                if on_month is not None:
                    on_month(k + 1)
        finally:
            with self._lock:
                self.running = False
                self.version += 1
        return played

    # ------------------------------------------------------------ what the pages show

    def service_index(self, team: Team) -> int:
        return self.first_slot + team.slot

    def labels(self) -> list[str]:
        """Each service's name as the game shows it (a slot by its team's name), in model order."""
        names = [s.name for s in self.model.services]
        for team in self.teams.values():
            names[self.service_index(team)] = team.name
        return names

    def live_services(self) -> list[int]:
        """Service indices shown in charts: the scenario's own services (its entrants, which follow
        the slots, included) and the launched teams'."""
        launched = [self.service_index(t) for t in self.teams.values() if t.joined_round < len(self.rounds)]
        return [*range(self.first_slot), *launched, *range(self.first_slot + self.slots, len(self.model.services))]

    def leaderboard(self) -> list[dict[str, Any]]:
        """One row per team, best profit first: users and premium subscribers in the last
        month played (people), and since launch revenue from subscriptions and ads and
        profit after marketing (million EUR)."""
        t, rec = self.model.t, self.model.records
        rows = []
        for team in self.teams.values():
            k = self.service_index(team)
            since = self.rounds[team.joined_round].start if team.joined_round < len(self.rounds) else t
            window = slice(since, t)

            def total(kpi: str) -> float:  # a flow in EUR/month, summed over the steps: million EUR
                return float(np.nansum(rec[kpi][window, k])) * self.model.dt / 1e6

            last = (lambda kpi: float(np.nan_to_num(rec[kpi][t - 1, k]))) if t > since else (lambda kpi: 0.0)
            rows.append({"team": team.name, "users": last("mau"), "premium": last("premium_subscribers"),
                         "market_share": last("market_share"),
                         "revenue_subscriptions_m": total("revenue_subscription_eur"),
                         "revenue_ads_m": total("revenue_ads_eur"),
                         "profit_m": total("gross_profit_eur") - total("marketing_spend_eur"),
                         "launched": t > since})
        return sorted(rows, key=lambda r: -r["profit_m"])

    def summary_csv(self) -> str:
        """The game month by month, one row per month and service shown: date, round, team
        (or service), the KPIs of :data:`KPIS` and the team's decisions in effect."""
        out = io.StringIO()
        fields = [f for f in Decisions.__dataclass_fields__]
        writer = csv.writer(out)
        writer.writerow(["date", "round", "service", "team", *KPIS, *fields])
        labels, rec = self.labels(), self.model.records
        by_slot = {self.service_index(t): t for t in self.teams.values()}
        for rnd in self.rounds:
            for step in range(rnd.start, rnd.start + rnd.months):
                if step >= self.model.t:
                    break
                for k in self.live_services():
                    team = by_slot.get(k)
                    if team is not None and team.joined_round >= rnd.number:
                        continue  # not launched yet in this round
                    chosen = asdict(rnd.decisions[team.token]) if team is not None else {}
                    writer.writerow([f"{self.model.dates[step]:%Y-%m}", rnd.number, self.model.services[k].name,
                                     labels[k] if team is not None else "", *(repr(float(rec[kpi][step, k])) for kpi in KPIS),
                                     *(chosen.get(f, "") for f in fields)])
        return out.getvalue()

    # ------------------------------------------------------------ save and resume

    def to_json(self) -> str:
        """The game as JSON: scenario, settings, teams, every round's locked decisions and
        the decisions waiting for the next round."""
        with self._lock:
            doc = {"format": SAVE_FORMAT, "scenario": self.scenario.model_dump(mode="json"),
                   "listeners": self.listeners, "months_per_round": self.months_per_round, "slots": self.slots,
                   "individuals": self.individuals,
                   "over": self.over,
                   "teams": [{"name": t.name, "token": t.token, "joined_round": t.joined_round,
                              "decisions": asdict(t.decisions)} for t in self.teams.values()],
                   "rounds": [{"number": r.number, "months": r.months,
                               "decisions": {tok: asdict(d) for tok, d in r.decisions.items()}} for r in self.rounds]}
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "saved game") -> Game:
        """Resume a saved game (checked first by :func:`read_save`): rebuild the market and
        replay every round with the same seed."""
        doc = read_save(text, where)
        try:
            game = cls(doc["scenario"], doc["listeners"], doc["months_per_round"], doc["slots"], doc["individuals"])
            teams = doc["teams"]
            for rnd in doc["rounds"]:
                for t in teams:
                    if t["joined_round"] == rnd["number"] - 1:
                        game.join(t["name"], t["token"])
                for token, raw in rnd["decisions"].items():
                    game.decide(token, raw)
                played = game.play_round()
                if played.months != rnd["months"]:
                    raise GameError(f"round {rnd['number']}: {rnd['months']} months saved, {played.months} replayed")
            if not game.finished:
                for t in teams:
                    if game.team(t["token"]) is None:
                        game.join(t["name"], t["token"])
                    game.decide(t["token"], t["decisions"])
            if doc["over"]:
                game.end()
        except (GameError, ScenarioError) as exc:
            raise ScenarioError(f"{where}: cannot resume: {str(exc).splitlines()[0][:300]}") from None
        return game


def whole(value: object, low: int, high: int) -> int:
    """``value`` if it is a whole number from ``low`` to ``high``, else a GameError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GameError(f"must be a whole number from {low:,} to {high:,} (got {str(value)[:80]!r})")
    return value


def read_save(text: str, where: str = "saved game") -> dict[str, Any]:
    """A saved game's document, checked without replaying it: the format, the scenario (as the
    scenario files are), the settings, every team's name and token (see :func:`team_name`,
    :func:`check_token`) and every decision. The ``scenario`` comes back as a :class:`Scenario`.
    Anything wrong is one ScenarioError naming ``where``, the key path and the problem."""
    path = "file"
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != SAVE_FORMAT:
            path, got = "format", doc.get("format") if isinstance(doc, dict) else None
            raise GameError(f"not a saved classroom game (format {str(got)[:80]!r}, expected {SAVE_FORMAT!r})")
        for path in sorted(set(doc) - set(SAVE_KEYS)):
            raise GameError(f"unknown key (a saved game has {', '.join(SAVE_KEYS)})")
        doc = {**SAVE_DEFAULTS, **doc}
        for path in SAVE_KEYS:
            if path not in doc or not isinstance(doc[path], SAVE_KEYS[path]):
                raise GameError(f"missing, or not a {SAVE_KEYS[path].__name__}")
        path = "scenario"
        scenario = validate_scenario_data(doc["scenario"], f"{where}: cannot resume: scenario")
        path = "listeners"
        whole(doc["listeners"], *LISTENER_LIMITS)
        path = "months_per_round"
        whole(doc["months_per_round"], 1, scenario.time.months)
        path = "slots"
        whole(doc["slots"], MIN_TEAMS, room(scenario))
        teams, rounds = doc["teams"], doc["rounds"]
        joined: dict[str, int] = {}  # token -> rounds played before it joined
        for k, t in enumerate(teams):
            path = f"teams.{k}"
            if not isinstance(t, dict) or set(t) != {"name", "token", "joined_round", "decisions"}:
                raise GameError("must have exactly a name, token, joined_round and decisions")
            team_name(t["name"])
            if check_token(t["token"]) in joined:
                raise GameError("token of another team")
            joined[t["token"]] = whole(t["joined_round"], 0, len(rounds))
            Decisions.checked(t["decisions"] if isinstance(t["decisions"], dict) else {"decisions": None})
        if len(teams) > doc["slots"]:
            raise GameError(f"{len(teams)} teams for {doc['slots']} slots")
        for k, rnd in enumerate(rounds):
            path = f"rounds.{k}"
            if not isinstance(rnd, dict) or rnd.get("number") != k + 1 or not isinstance(rnd.get("decisions"), dict):
                raise GameError(f"must have number {k + 1}, months and decisions")
            whole(rnd.get("months"), 1, doc["months_per_round"])
            for token, raw in rnd["decisions"].items():
                if joined.get(token, k + 1) > k:
                    raise GameError(f"decisions of a team that had not joined: {token[:80]!r}")
                Decisions.checked(raw if isinstance(raw, dict) else {"decisions": None})
    except (ValueError, TypeError) as exc:  # GameError and JSONDecodeError are ValueErrors
        raise ScenarioError(f"{where}: cannot resume: {path}: {str(exc).splitlines()[0][:300]}") from None
    return {**doc, "scenario": scenario}
