"""Tolerant parsers for what real (and tiny) models emit.

Nothing here raises on model text: every function returns `None` or an empty value when it finds
nothing, and the caller decides whether to ask the model for a repair.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = [
    "answers_match",
    "extract_answer",
    "extract_boxed",
    "extract_choice",
    "extract_code_block",
    "final_line_answer",
    "last_number",
    "normalize_answer",
    "parse_score",
    "split_sections",
]

_BOX_OPENERS = ("\\boxed", "\\fbox")


def extract_boxed(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` (and ``\\fbox{...}``), nested braces included, in order.

    Unclosed boxes are skipped; ``\\boxed 5`` (no braces) yields ``5``.
    """
    found: list[str] = []
    i = 0
    while True:
        starts = [(text.find(op, i), op) for op in _BOX_OPENERS]
        starts = [(s, op) for s, op in starts if s >= 0]
        if not starts:
            return found
        start, op = min(starts)
        j = start + len(op)
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            depth = 0
            k = j
            while k < len(text):
                if text[k] == "{":
                    depth += 1
                elif text[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            if depth == 0 and k < len(text):
                found.append(text[j + 1 : k].strip())
                i = k + 1
                continue
            i = j + 1
            continue
        m = re.match(r"\s*([^\s$\\]+)", text[j:])
        if m and j > start + len(op):
            found.append(m.group(1))
        i = j
        if i >= len(text):
            return found


_FINAL = re.compile(
    r"(?:final\s+answer|the\s+answer\s+is|answer\s*(?:is)?\s*[:=])\s*[:=]?\s*(.+)",
    re.IGNORECASE,
)


def final_line_answer(text: str) -> str | None:
    """The value after the last "Final answer:" / "The answer is" / "Answer:" phrase."""
    matches = list(_FINAL.finditer(text))
    for m in reversed(matches):
        value = m.group(1).strip()
        boxed = extract_boxed(value)
        if boxed:
            return boxed[-1]
        value = value.split("\n")[0].strip().strip("*").strip()
        value = re.sub(r"^\$+|\$+$", "", value).strip()
        value = value.rstrip(".").strip()
        if value:
            return value
    return None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def last_number(text: str) -> str | None:
    """The last number in `text` (``1,234`` -> ``1234``), or None."""
    matches = _NUMBER.findall(text)
    if not matches:
        return None
    value = matches[-1].replace(",", "")
    return value.rstrip(".") or None


_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code_block(text: str, *, language: str | None = None) -> str | None:
    """The last fenced code block (an unclosed final fence runs to the end of the text)."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if language:
        preferred = [b for lang, b in blocks if lang in {language, language[:2]}]
        if preferred:
            return preferred[-1].strip("\n") or None
    if not blocks:
        return None
    return blocks[-1][1].strip("\n") or None


_CHOICE = re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?\s*([A-E])\s*\)?(?![a-zA-Z])", re.IGNORECASE)


def extract_choice(text: str) -> str | None:
    """A multiple-choice letter A-E."""
    for value in reversed(extract_boxed(text)):
        m = re.fullmatch(r"\(?\s*(?:\\text\{)?([A-Ea-e])\}?\s*\)?", value.strip())
        if m:
            return m.group(1).upper()
    matches = _CHOICE.findall(text)
    if matches:
        return str(matches[-1]).upper()
    m = re.search(r"^\s*\(?([A-E])\)?[.)]?\s*$", text.strip().splitlines()[-1] if text.strip() else "")
    return str(m.group(1)) if m else None


def extract_answer(text: str, fmt: str = "auto") -> tuple[str | None, str]:
    """Pull the final answer out of a response.

    Returns:
        (answer, source) where source says which rule found it; (None, "none") when nothing did.
    """
    if not text or not text.strip():
        return None, "none"
    if fmt == "code":
        code = extract_code_block(text, language="python")
        return (code, "code_block") if code else (None, "none")
    # Strings inside code (print(f"The answer is {x}")) are not answers: look outside code first.
    prose = _FENCED.sub("\n", text)
    if prose.strip() and prose != text:
        found = extract_answer(prose, fmt)
        if found[0] is not None:
            return found
        if extract_boxed(text):
            pass  # a boxed value inside code is still an explicit statement
        else:
            return None, "none"
    if fmt == "choice":
        letter = extract_choice(text)
        return (letter, "choice") if letter else (None, "none")
    boxed = [b for b in extract_boxed(text) if b]
    if boxed:
        value = boxed[-1]
        if fmt == "integer":
            number = last_number(value)
            return (number, "boxed") if number else (None, "none")
        return value, "boxed"
    line = final_line_answer(text)
    if line:
        if fmt == "integer":
            number = last_number(line)
            if number:
                return number, "final_line"
        else:
            return line, "final_line"
    if fmt in {"auto", "integer", "boxed"}:
        number = last_number(text)
        if number:
            return number, "last_number"
    if fmt == "text":
        return text.strip().splitlines()[-1].strip(), "response"
    return None, "none"


_LATEX_NOISE = [
    (re.compile(r"\\(?:d|t)frac"), r"\\frac"),
    (re.compile(r"\\left|\\right|\\!|\\,|\\;|\\ "), ""),
    (re.compile(r"\\text\{([^}]*)\}"), r"\1"),
    (re.compile(r"\\mathrm\{([^}]*)\}"), r"\1"),
    (re.compile(r"\^\{\\circ\}|\^\\circ|°"), ""),
]


def normalize_answer(answer: str | None) -> str:
    """A canonical form for comparing answers between agents (not a full equivalence checker).

    ``"1,000"``, ``"1000.0"`` and ``"$1000$"`` all map to ``"1000"``; ``\\dfrac12`` and
    ``\\frac{1}{2}`` and ``0.5`` map to ``"1/2"``.
    """
    if answer is None:
        return ""
    s = answer.strip().strip("$").strip()
    for pattern, repl in _LATEX_NOISE:
        s = pattern.sub(repl, s)
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = s.replace(" ", "").rstrip(".").lower()
    s = re.sub(r"^(?:x|y|n|k|answer)=", "", s)
    m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(-?\d+)\}", s)
    if m and int(m.group(2)) != 0:
        return _fraction_text(Fraction(int(m.group(1)), int(m.group(2))))
    s = re.sub(r"^\\?\$", "", s)
    numeric = s.replace(",", "")
    numeric = re.sub(r"(?:dollars?|cm|m|km|kg|g|units?|hours?|minutes?|%)$", "", numeric)
    try:
        return _fraction_text(Fraction(numeric))
    except (ValueError, ZeroDivisionError):
        return s


def answers_match(a: str, b: str) -> bool:
    """Whether two answers are the same for voting: equal normal forms, or numbers within 1e-6."""
    na, nb = normalize_answer(a), normalize_answer(b)
    if na == nb:
        return bool(na)
    try:
        x, y = float(_eval_fraction(na)), float(_eval_fraction(nb))
    except ValueError:
        return False
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def _eval_fraction(text: str) -> float:
    """``"3/4"`` -> 0.75, ``"2.5"`` -> 2.5; raises ValueError for anything else."""
    if "/" in text:
        num, _, den = text.partition("/")
        return float(num) / float(den)
    return float(text)


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# A score is read only from an explicit field: a "Score:" line (markdown emphasis allowed) or a JSON
# "score" key. Words such as "correct" in prose are never a score: "not entirely correct" and
# "Is it correct? No." must not read as approval, and a fraction in prose ("3/5 is wrong") is not one.
_SCORE_FIELD = re.compile(
    r"^[ \t>*_#-]*(?:final[ \t]+)?score[ \t]*(?:\*\*|__)?[ \t]*[:=][ \t]*(?:\*\*|__)?[ \t]*(?P<value>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_JSON_SCORE = re.compile(r'"score"\s*:\s*"?(?P<value>-?\d+(?:\.\d+)?)"?', re.IGNORECASE)
_SCORE_VALUE = re.compile(r"^\**\s*(?P<n>-?\d+(?:\.\d+)?)\s*(?:(?:/|out\s+of)\s*(?P<d>\d+(?:\.\d+)?)|(?P<pct>%))?")
_SCORE_WORDS = {
    "correct": 1.0,
    "right": 1.0,
    "yes": 1.0,
    "true": 1.0,
    "incorrect": 0.0,
    "wrong": 0.0,
    "no": 0.0,
    "false": 0.0,
}


def _score_value(raw: str) -> float | None:
    value = raw.strip().strip("*_`").strip()
    m = _SCORE_VALUE.match(value)
    if m:
        number = float(m.group("n"))
        if m.group("d"):
            d = float(m.group("d"))
            number = number / d if d else 0.0
        elif m.group("pct"):
            number /= 100
        elif number > 1:
            # "Score: 8" on a prompt that asked for 0-1 is read as 0-10 (or 0-100) scale.
            number = number / 10 if number <= 10 else number / 100
        return min(1.0, max(0.0, number))
    word = re.fullmatch(r"([a-z]+)[.!]?", value.lower())
    if word and word.group(1) in _SCORE_WORDS:
        return _SCORE_WORDS[word.group(1)]
    return None


def parse_score(text: str) -> float | None:
    """A score in [0, 1] from a judge reply's explicit score field, or None.

    Accepted: a ``Score:`` line (``Score: 1``, ``**Score:** 0.8``, ``SCORE = 8/10``, ``Score: 80%``,
    ``Score: correct``) or a JSON ``"score": 0.5``; the last one wins. Nothing else is a score:
    prose that says "correct" or contains a fraction returns None, and the caller treats the reply
    as unjudged. Values above 1 without a denominator are read on a 0-10 (or 0-100) scale.
    """
    if not text:
        return None
    for m in reversed(list(_SCORE_FIELD.finditer(text))):
        value = _score_value(m.group("value"))
        if value is not None:
            return value
    found = list(_JSON_SCORE.finditer(text))
    if found:
        return _score_value(found[-1].group("value"))
    return None


_HEADER = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*([A-Za-z][A-Za-z ]{1,30}?)[ \t]*(?:\*\*|__)?[ \t]*[:：]"
    r"[ \t]*(?:\*\*|__)?[ \t]*(.*)$",
    re.MULTILINE,
)


def split_sections(text: str, aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Split `text` at header lines (``THOUGHT:``, ``**Response:**``, ``## Critique:``...).

    Args:
        aliases: canonical section name -> accepted header words (case-insensitive).

    Returns:
        canonical name -> section body, for the sections found (the last occurrence wins).
    """
    lookup = {alias.lower(): name for name, words in aliases.items() for alias in words}
    marks: list[tuple[int, int, str, str]] = []
    for m in _HEADER.finditer(text):
        name = lookup.get(m.group(1).strip().lower())
        if name:
            marks.append((m.start(), m.start(2), name, m.group(2)))
    sections: dict[str, str] = {}
    for idx, (_start, body_start, name, _rest) in enumerate(marks):
        end = marks[idx + 1][0] if idx + 1 < len(marks) else len(text)
        body = text[body_start:end].strip()
        if body or name not in sections:
            sections[name] = body
    return sections
