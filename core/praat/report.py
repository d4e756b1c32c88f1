"""Praat "Voice report" text: the measures it holds and a tolerant, line-checked parser.

A report is what Praat prints for ``Voice report`` (Sound + Pitch + PointProcess), often
saved from the Sound editor with a header (``-- Voice report for 1. Sound … --``, ``Date:``,
a pitch-method warning, ``Time range of SELECTION``). The header names the sound, which in
clinic folders carries a record number, so it is read only for the pitch-method warning and
never kept. Every line from the first section (``Pitch:``) or time range on must be a known
section, a known measure, or blank; anything else is a problem naming its line.

Values keep Praat's printed units, spelled out in the measure key (``jitter_local_pct``,
``jitter_local_abs_us``, ``mean_period_ms``); ``--undefined--`` becomes NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import CohortError


class ReportParseError(CohortError):
    """A Praat voice report cannot be read or has lines that are not a voice report's."""


@dataclass(frozen=True)
class Measure:
    """One line of a voice report.

    Attributes
    ----------
    key : str
        Column name in every table (unit in the name).
    label : str
        Text before the colon in the report, e.g. ``"Jitter (local)"``.
    section : str
        Report section: pitch, pulses, voicing, jitter, shimmer, harmonicity.
    unit : str
        Unit Praat prints after the number ("Hz", "%", "seconds", "dB", "" for none).
    scale : float
        Factor from the printed number in ``unit`` to the key's unit (seconds → ms: 1e3).
    decimals : int
        Decimals Praat prints, in the key's unit: a report is exact to half of their last digit.
    """

    key: str
    label: str
    section: str
    unit: str
    scale: float = 1.0
    decimals: int = 3

    @property
    def rounding(self) -> float:
        """Largest difference that printing alone explains (half a unit of the last digit)."""
        return 0.5 * 10.0**-self.decimals


#: Every measure of Praat's voice report, in report order.
MEASURES: tuple[Measure, ...] = (
    Measure("median_pitch_hz", "Median pitch", "pitch", "Hz"),
    Measure("mean_pitch_hz", "Mean pitch", "pitch", "Hz"),
    Measure("sd_pitch_hz", "Standard deviation", "pitch", "Hz"),
    Measure("min_pitch_hz", "Minimum pitch", "pitch", "Hz"),
    Measure("max_pitch_hz", "Maximum pitch", "pitch", "Hz"),
    Measure("n_pulses", "Number of pulses", "pulses", "", decimals=0),
    Measure("n_periods", "Number of periods", "pulses", "", decimals=0),
    Measure("mean_period_ms", "Mean period", "pulses", "seconds", 1e3, decimals=6),
    Measure("sd_period_ms", "Standard deviation of period", "pulses", "seconds", 1e3, decimals=6),
    Measure("unvoiced_frames_pct", "Fraction of locally unvoiced frames", "voicing", "%"),
    Measure("n_voice_breaks", "Number of voice breaks", "voicing", "", decimals=0),
    Measure("voice_breaks_pct", "Degree of voice breaks", "voicing", "%"),
    Measure("jitter_local_pct", "Jitter (local)", "jitter", "%"),
    Measure("jitter_local_abs_us", "Jitter (local, absolute)", "jitter", "seconds", 1e6),
    Measure("jitter_rap_pct", "Jitter (rap)", "jitter", "%"),
    Measure("jitter_ppq5_pct", "Jitter (ppq5)", "jitter", "%"),
    Measure("jitter_ddp_pct", "Jitter (ddp)", "jitter", "%"),
    Measure("shimmer_local_pct", "Shimmer (local)", "shimmer", "%"),
    Measure("shimmer_local_db", "Shimmer (local, dB)", "shimmer", "dB"),
    Measure("shimmer_apq3_pct", "Shimmer (apq3)", "shimmer", "%"),
    Measure("shimmer_apq5_pct", "Shimmer (apq5)", "shimmer", "%"),
    Measure("shimmer_apq11_pct", "Shimmer (apq11)", "shimmer", "%"),
    Measure("shimmer_dda_pct", "Shimmer (dda)", "shimmer", "%"),
    Measure("autocorrelation", "Mean autocorrelation", "harmonicity", "", decimals=6),
    Measure("nhr", "Mean noise-to-harmonics ratio", "harmonicity", "", decimals=6),
    Measure("hnr_db", "Mean harmonics-to-noise ratio", "harmonicity", "dB"),
)

MEASURE_KEYS: tuple[str, ...] = tuple(m.key for m in MEASURES)

#: Section header lines (lower case, without the colon).
SECTIONS: tuple[str, ...] = (
    "pitch",
    "pulses",
    "voicing",
    "jitter",
    "shimmer",
    "harmonicity of the voiced parts only",
)

UNDEFINED = "--undefined--"

_BY_LABEL: dict[str, Measure] = {m.label.casefold(): m for m in MEASURES}
_NUMBER = r"[+\-\u2212]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+\-\u2212]?\d+)?"
_VALUE = re.compile(rf"^(?P<number>{_NUMBER}|{re.escape(UNDEFINED)})\s*(?P<unit>%|Hz|dB|seconds|s)?$")
_DETAIL = re.compile(r"^(?P<head>.*?)\s*\((?P<detail>[^()]*)\)\s*$")
_RATIO = re.compile(
    rf"^(?P<num>{_NUMBER}|{re.escape(UNDEFINED)})(?:\s*seconds)?\s*/\s*"
    rf"(?P<den>{_NUMBER}|{re.escape(UNDEFINED)})(?:\s*seconds)?$"
)
_TIME_RANGE = re.compile(
    rf"^From\s+(?P<start>{_NUMBER})\s+to\s+(?P<end>{_NUMBER})\s+seconds?"
    rf"\s*\(duration:\s*(?P<duration>{_NUMBER})\s+seconds?\)$",
    re.IGNORECASE,
)
_AC_WARNING = "some of the following measurements may be imprecise"
_QUOTE_CHARS = 60
#: Digit runs this long that are not decimals may be record numbers; quoted lines mask them.
_LONG_NUMBER = re.compile(r"(?<![\d.,])\d{7,}")


@dataclass(frozen=True)
class VoiceReport:
    """A parsed voice report.

    Attributes
    ----------
    values : dict of str to float
        One entry per key of :data:`MEASURE_KEYS`; NaN when the report says
        ``--undefined--`` or lacks the line (then ``problems`` says so).
    selection : tuple of (float, float) or None
        Analysed time range in seconds from the file start; None when the report covers
        the whole sound (Praat prints ``From 0 to 0`` then) or has no time-range line.
    duration_s : float
        Duration Praat printed for the analysed range (NaN if absent).
    pitch_method : {"ac", "cc"} or None
        "ac" when the editor's header carries Praat's imprecision warning (autocorrelation
        pitch), "cc" when the header is there without it, None without a header.
    unvoiced_frames : tuple of (int, int) or None
        Unvoiced and total pitch frames, from ``(60 / 283)``.
    voice_breaks_s : tuple of (float, float) or None
        Break duration and analysed duration in seconds, from ``(0.38 seconds / 0.97 seconds)``.
    problems : tuple of str
        One sentence per line that could not be read, naming the source and line number.
    """

    values: dict[str, float]
    selection: tuple[float, float] | None = None
    duration_s: float = math.nan
    pitch_method: str | None = None
    unvoiced_frames: tuple[int, int] | None = None
    voice_breaks_s: tuple[float, float] | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    def as_series(self) -> pd.Series:
        """The measures as a float Series indexed by :data:`MEASURE_KEYS`."""
        return pd.Series({k: self.values.get(k, math.nan) for k in MEASURE_KEYS}, dtype=float)


def parse_number(text: str) -> float:
    """Read one number as Praat or a spreadsheet may print it.

    Accepts ``0.486``, ``31.929E-6``, ``1e-05``, a decimal comma (``0,486``), a Unicode
    minus, and ``--undefined--`` (NaN).

    Raises
    ------
    ValueError
        If ``text`` is none of these.
    """
    text = text.strip()
    if text == UNDEFINED:
        return math.nan
    if not re.fullmatch(_NUMBER, text):
        raise ValueError(f"{text!r} is not a number")
    return float(text.replace("\u2212", "-").replace(",", "."))


def parse_voice_report(text: str, *, source: str = "voice report", strict: bool = True) -> VoiceReport:
    """Parse the text of a Praat voice report.

    Parameters
    ----------
    text : str
        The report as Praat prints it, with or without the editor's header; any line
        ending, tabs or non-breaking spaces.
    source : str
        How the report is named in problems (pass a redacted path or a recording id).
    strict : bool
        Raise when the report has any problem (True), or return the problems in
        ``VoiceReport.problems`` with every readable value (False).

    Returns
    -------
    report : VoiceReport

    Raises
    ------
    ReportParseError
        In strict mode, if any line after the header is neither blank, a section, the
        time range nor a known measure with a readable value, or if a measure is missing;
        the message lists every such line.
    """
    lines = text.replace("\ufeff", "").replace("\u00a0", " ").splitlines()
    start = _body_start(lines)
    problems: list[str] = []
    if start is None:
        problems.append(
            f"{source}: no voice report found (expected a 'Pitch:' section or a 'From … to … seconds' line)"
        )
        lines = []
        start = 0
    preamble = " ".join(lines[:start]).casefold()
    values: dict[str, float] = {}
    seen: set[str] = set()
    details: dict[str, str] = {}
    selection: tuple[float, float] | None = None
    duration = math.nan
    for number, raw in enumerate(lines[start:], start=start + 1):
        line = raw.strip()
        if not line or line.rstrip(":").casefold() in SECTIONS or line.casefold().startswith("time range of"):
            continue
        where = f"{source} line {number}"
        span = _TIME_RANGE.match(line)
        if span:
            begin, end = float(parse_number(span["start"])), float(parse_number(span["end"]))
            duration = parse_number(span["duration"])
            selection = (begin, end) if end > begin else None
            continue
        label, colon, rest = line.partition(":")
        measure = _BY_LABEL.get(" ".join(label.split()).casefold()) if colon else None
        if measure is None:
            problems.append(
                f"{where}: {_quote(line)} is not a voice-report line (expected a measure such as "
                "'Jitter (local): 0.486%', a section such as 'Pitch:', or a blank line)"
            )
            continue
        if measure.key in seen:
            problems.append(f"{where}: '{measure.label}' appears twice; expected once")
            continue
        seen.add(measure.key)
        try:
            values[measure.key], detail = _measure_value(measure, rest.strip())
        except ValueError as exc:
            problems.append(f"{where}: '{measure.label}' {exc}")
            continue
        if detail is not None:
            details[measure.key] = detail
    if lines:
        problems += _missing(seen, source)
    unvoiced, breaks = _counts(details, source, problems)
    if strict and problems:
        raise ReportParseError("; ".join(problems))
    return VoiceReport(
        values={k: values.get(k, math.nan) for k in MEASURE_KEYS},
        selection=selection,
        duration_s=duration,
        pitch_method=_pitch_method(preamble),
        unvoiced_frames=unvoiced,
        voice_breaks_s=breaks,
        problems=tuple(problems),
    )


def read_voice_report(path: Path | str, *, source: str | None = None, strict: bool = True) -> VoiceReport:
    """Read and parse a voice report file (UTF-8, UTF-16 with BOM as Praat saves it, or Latin-1).

    Parameters
    ----------
    path : Path or str
        The ``.txt`` file.
    source : str, optional
        How the file is named in problems; defaults to the file name. Pass a redacted
        path when the name may carry a record number.
    strict : bool
        See :func:`parse_voice_report`.

    Raises
    ------
    ReportParseError
        If the file cannot be read, or (strict) parsed.
    """
    path = Path(path)
    source = source or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportParseError(f"{source}: cannot be read ({exc.strerror})") from None
    return parse_voice_report(decode_report(data), source=source, strict=strict)


def decode_report(data: bytes) -> str:
    """Decode report bytes: a BOM decides, else UTF-16 if NUL bytes abound, else UTF-8, else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data and data.count(0) > len(data) // 4:
        # Praat writes UTF-16 without BOM on some systems; odd NULs mean little-endian.
        return data.decode("utf-16-le" if data[1:2] == b"\x00" else "utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _missing(seen: set[str], source: str) -> list[str]:
    """A problem naming the measures a report lacks (or saying it has none)."""
    missing = [m.label for m in MEASURES if m.key not in seen]
    if not missing:
        return []
    if len(missing) < len(MEASURES):
        return [f"{source}: missing line(s) {missing}"]
    return [f"{source}: no voice-report measure found"]


def _pitch_method(preamble: str) -> str | None:
    """The Sound editor warns when pitch is autocorrelation; its header without the warning means cc."""
    if _AC_WARNING in preamble:
        return "ac"
    return "cc" if "voice report for" in preamble else None


def _body_start(lines: list[str]) -> int | None:
    """Index of the first line of the report body (time range or first section)."""
    for index, raw in enumerate(lines):
        line = raw.strip()
        if line.casefold().startswith("time range of") or _TIME_RANGE.match(line):
            return index
        if line.rstrip(":").casefold() in SECTIONS and line.endswith(":"):
            return index
    return None


def _measure_value(measure: Measure, rest: str) -> tuple[float, str | None]:
    """Value of one measure line in the key's unit, and its parenthesised detail if any."""
    detail = None
    found = _DETAIL.match(rest)
    if found:
        rest, detail = found["head"].strip(), found["detail"].strip()
    value = _VALUE.match(rest)
    if not value:
        raise ValueError(
            f"has value {_quote(rest)}; expected a number such as 0.486%, 31.929E-6 seconds or {UNDEFINED}"
        )
    number = parse_number(value["number"])
    unit = value["unit"] or ""
    if unit == "s":
        unit = "seconds"
    if math.isnan(number) or unit == measure.unit:
        return number * measure.scale, detail
    # Praat prints an exact zero percentage as a bare "0".
    if measure.unit == "%" and unit == "" and number == 0:
        return 0.0, detail
    expected = measure.unit or "no unit"
    raise ValueError(f"has unit {unit or 'none'!r} in {_quote(rest)}; expected {expected}")


def _counts(
    details: dict[str, str], source: str, problems: list[str]
) -> tuple[tuple[int, int] | None, tuple[float, float] | None]:
    """The ``(a / b)`` details of the unvoiced-frames and voice-breaks lines."""
    parsed: dict[str, tuple[float, float]] = {}
    for key in ("unvoiced_frames_pct", "voice_breaks_pct"):
        if key not in details:
            continue
        ratio = _RATIO.match(details[key])
        if not ratio:
            problems.append(f"{source}: detail ({_quote(details[key])}) of '{key}' is not 'a / b'")
            continue
        parsed[key] = (parse_number(ratio["num"]), parse_number(ratio["den"]))
    frames = parsed.get("unvoiced_frames_pct")
    unvoiced = (int(frames[0]), int(frames[1])) if frames and not any(map(math.isnan, frames)) else None
    return unvoiced, parsed.get("voice_breaks_pct")


#: Words a voice report is made of; any other word in a quoted line may be a name and is masked.
_VOCABULARY: frozenset[str] = frozenset(
    word.casefold()
    for text in (
        *(m.label for m in MEASURES),
        *SECTIONS,
        "from to seconds duration time range of selection undefined hz db ms e s",
    )
    for word in re.findall(r"[^\W\d_]+", text)
)
_WORD = re.compile(r"[^\W\d_]+")


def _quote(text: str) -> str:
    """A line quoted for a message: words outside the report's vocabulary (a name typed into the
    report, in any script) shown as ``[text]``, possible record numbers masked, length capped."""
    text = _LONG_NUMBER.sub("[number]", text)
    text = _WORD.sub(lambda m: m.group(0) if m.group(0).casefold() in _VOCABULARY else "[text]", text)
    return repr(text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…")
