"""Building blocks of the scenario schema: a field with its unit, the strict section base,
the value distributions and the calendar month ``YYYY-MM``."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def did_you_mean(word: str, options: list[str], cutoff: float = 0.5) -> str:
    """``"; did you mean 'X'?"`` for the closest of ``options`` to a misspelt ``word``, else ``""``."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""


# A name that names a folder (results/<name>/): no path separator, not hidden, not `.` or `..`,
# short enough for every file system once prefixed (compare-<A>-vs-<B>).
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$"


def P(default: Any, unit: str, description: str, **bounds: Any) -> Any:
    """A schema field with its unit and one-line description (and optional ge/le bounds)."""
    return Field(default, description=description, json_schema_extra={"unit": unit}, **bounds)


class Strict(BaseModel):
    """Base of every scenario section: immutable, unknown keys rejected, numbers finite (no NaN, no infinity)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


# ---------------------------------------------------------------- distributions


class Constant(Strict):
    dist: Literal["constant"] = "constant"
    value: float


class Lognormal(Strict):
    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)


class Normal(Strict):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)
    low: float | None = None
    high: float | None = None


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


def _scalar_is_constant(v: Any) -> Any:
    # `wtp: 3.0` is shorthand for a constant distribution
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return {"dist": "constant", "value": float(v)}
    return v


DISTRIBUTIONS = {"constant": Constant, "lognormal": Lognormal, "normal": Normal, "uniform": Uniform}
Distribution = Annotated[
    Union[Constant, Lognormal, Normal, Uniform],
    Field(discriminator="dist"),
    BeforeValidator(_scalar_is_constant),
]



# ---------------------------------------------------------------- calendar months

YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _year_month(v: Any) -> str:
    if isinstance(v, str) and YEAR_MONTH.match(v):
        return v
    # yaml reads 2015-01 as a string but 2015-01-01 as a date
    if hasattr(v, "year") and hasattr(v, "month"):
        return f"{v.year:04d}-{v.month:02d}"
    raise ValueError(f"expected a calendar month YYYY-MM, got {v!r}")


YearMonth = Annotated[str, BeforeValidator(_year_month)]


def _month_index(ym: str) -> int:
    y, m = ym.split("-")
    return int(y) * 12 + int(m) - 1


# ---------------------------------------------------------------- dated schedules

PeopleCount = Annotated[float, Field(ge=1e3, le=1e10)]
#: People: a number, or a dated schedule ``{YYYY-MM: people}``, linear in between and flat outside.
PeopleSchedule = Union[PeopleCount, dict[YearMonth, PeopleCount]]
Share = Annotated[float, Field(gt=0, le=1)]
#: A share: a number, or a dated schedule ``{YYYY-MM: share}``, linear in between and flat outside.
ShareSchedule = Union[Share, dict[YearMonth, Share]]


def schedule_points(schedule: float | dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """A schedule's (month index, value) points sorted by date; a number is one point."""
    if not isinstance(schedule, dict):
        return np.zeros(1), np.array([float(schedule)])
    items = sorted((_month_index(k), float(v)) for k, v in schedule.items())
    return np.array([m for m, _ in items], dtype=float), np.array([v for _, v in items])


def linear_schedule(schedule: float | dict[str, float], months: np.ndarray) -> np.ndarray:
    """Values of a schedule at month indices ``months`` (shape kept): linear between its dates, flat outside."""
    x, y = schedule_points(schedule)
    return np.interp(np.asarray(months, dtype=float), x, y)


def step_schedule(schedule: dict[str, float], months: np.ndarray, before: float = 0.0) -> np.ndarray:
    """Values of a step schedule at month indices ``months``: each value holds from its date; ``before`` earlier."""
    x, y = schedule_points(schedule)
    pos = np.searchsorted(x, np.asarray(months, dtype=float), side="right") - 1
    return np.where(pos >= 0, y[np.maximum(pos, 0)], before)
