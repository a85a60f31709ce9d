"""SQLite's SQL as PostgreSQL runs it: the one place the two dialects differ.

The repositories keep writing the SQL they write today (``?`` and ``:name`` placeholders,
``INSERT OR IGNORE``, ``IS ?``, scalar ``MAX(a, b)``, ``rowid``...), and the migrations stay
the SQLite files they are. Rewriting every call site for PostgreSQL would touch some 40
modules that other work changes at the same time; translating mechanically, once per
distinct statement (cached), keeps one set of SQL and puts every difference here, where a
test pins each rule (tests/test_dialect.py). A construct this module cannot translate
faithfully raises :class:`UntranslatableSQL` rather than running with other semantics.

Rules (code only: string literals and quoted names are left alone):

- ``?`` → ``%s``, ``:name`` → ``%(name)s``, ``%`` → ``%%`` (psycopg's placeholders; in
  literals too, where psycopg looks for them as well).
- ``INSERT OR IGNORE INTO`` → ``INSERT INTO … ON CONFLICT DO NOTHING``.
- ``IS x`` / ``IS NOT x`` (x not NULL, TRUE or FALSE) → ``IS [NOT] DISTINCT FROM x``.
- scalar ``MAX(a, b, …)`` / ``MIN(a, b, …)`` → ``GREATEST`` / ``LEAST``.
- ``LIKE`` → ``ILIKE`` (SQLite's LIKE ignores ASCII case), ``rowid`` → ``ctid``,
  ``COLLATE BINARY`` → ``COLLATE "C"``, ``json_object(`` → ``json_build_object(``,
  ``json_extract(col, '$.key')`` → ``(col::json ->> 'key')``,
  ``strftime('%s', 'now')`` → ``EXTRACT(EPOCH FROM now())``, the thread key's
  ``printf('%020.6f.%d', …)`` → ``to_char``; ``INDEXED BY`` is dropped, ``CROSS JOIN … ON`` is a
  ``JOIN``; a
  subquery in FROM or JOIN without an alias gets one (PostgreSQL 15 requires it);
  ``group_concat(x[, sep])`` → ``string_agg(x, sep)``; ``IN ()`` → ``= ANY('{}')``.
- types: ``INTEGER`` → ``BIGINT`` (SQLite's integers are 64-bit), ``REAL`` → ``DOUBLE
  PRECISION`` (unix times do not fit a 4-byte float), ``BLOB`` → ``BYTEA``; in DDL
  ``INTEGER PRIMARY KEY`` → an identity column and ``COLLATE NOCASE`` → the ``nocase``
  collation :data:`PREAMBLE` creates.
- an ``INSERT`` into a table with an ``id`` key gets ``RETURNING id``, which is how the
  PostgreSQL cursor answers ``lastrowid``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# SQLite's NOCASE folds ASCII case only; an ICU case-insensitive (level 2) collation is the
# nearest PostgreSQL has. Nondeterministic collations cannot serve LIKE, which no NOCASE
# column is queried with.
PREAMBLE = (
    "CREATE COLLATION IF NOT EXISTS nocase"
    " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
)


class UntranslatableSQL(ValueError):
    """SQLite SQL with no faithful PostgreSQL form here (a programming error, not input)."""


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|[^'\"-]+|-")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+(?:OR\s+IGNORE\s+)?INTO\s+(\w+)", re.IGNORECASE)
_WORD_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", "INSERT INTO"),
        (r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", "IS DISTINCT FROM "),
        (r"\bIS\s+(?!NULL\b|NOT\b|TRUE\b|FALSE\b|DISTINCT\b)", "IS NOT DISTINCT FROM "),
        (r"\bLIKE\b", "ILIKE"),
        (r"\s*\bINDEXED\s+BY\s+\w+", ""),
        # An empty list: false (NOT IN: true) on SQLite, a syntax error on PostgreSQL. The
        # array literal takes the type of the left operand.
        (r"\bNOT\s+IN\s*\(\s*\)", "<> ALL('{}')"),
        (r"\bIN\s*\(\s*\)", "= ANY('{}')"),
        # SQLite's CROSS JOIN … ON is an inner join that keeps the written order.
        (r"\bCROSS\s+JOIN(?=\s+\w+(?:\s+(?:AS\s+)?\w+)?\s+ON\b)", "JOIN"),
        (r"\browid\b", "ctid"),
        (r"\bCOLLATE\s+BINARY\b", 'COLLATE "C"'),
        (r"\bCOLLATE\s+NOCASE\b", "COLLATE nocase"),
        (r"\bjson_object\(", "json_build_object("),
        (r"\bINTEGER\b", "BIGINT"),
        (r"\bREAL\b", "DOUBLE PRECISION"),
        (r"\bBLOB\b", "BYTEA"),
    )
)
_RAW_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # The thread order's sort key (storage/timelines.py): a fixed-width time, then the id.
    (
        re.compile(r"printf\('%020\.6f\.%d',\s*([\w.]+),\s*([\w.]+)\)", re.IGNORECASE),
        r"""((to_char(\1, 'FM0000000000000.000000') || '.' || \2) COLLATE "C")""",
    ),
    (re.compile(r"strftime\(\s*'%s'\s*,\s*'now'\s*\)", re.IGNORECASE), "EXTRACT(EPOCH FROM now())"),
    (
        re.compile(r"json_extract\(\s*(\w+)\s*,\s*'\$\.(\w+)'\s*\)", re.IGNORECASE),
        r"(\1::json ->> '\2')",
    ),
)
_UNSUPPORTED = re.compile(
    r"\b(INSERT\s+OR\s+REPLACE|REPLACE\s+INTO|GLOB|PRAGMA|sqlite_master|datetime\(|julianday\(|"
    r"strftime\(|json_extract\(|printf\(|last_insert_rowid|group_concat|ifnull)",
    re.IGNORECASE,
)
_PRIMARY_ID = re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE)
_ID_TABLE = re.compile(r"CREATE\s+TABLE\s+(\w+)\s*\(\s*id\s+INTEGER\s+PRIMARY\s+KEY", re.IGNORECASE)


def _segments(sql: str) -> list[tuple[bool, str]]:
    """(is_code, text) pieces: string literals, quoted names and comments are not code."""
    return [(tok[0] not in "'\"" and not tok.startswith("--"), tok) for tok in _TOKEN.findall(sql)]


def _code_only(sql: str) -> str:
    """``sql`` with literals blanked, same length: for searching code without false hits."""
    return "".join(text if code else " " * len(text) for code, text in _segments(sql))


def _scalar_min_max(sql: str) -> str:
    """SQLite's scalar ``MAX(a, b)`` / ``MIN(a, b)`` (two or more arguments) as GREATEST / LEAST."""
    code = _code_only(sql)
    out = list(sql)
    for m in re.finditer(r"\b(MAX|MIN)\s*\(", code, re.IGNORECASE):
        depth, commas = 0, 0
        for ch in code[m.end() - 1 :]:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            elif ch == "," and depth == 1:
                commas += 1
        if commas:
            name = "GREATEST" if m.group(1).upper() == "MAX" else "LEAST"
            # One list slot per character keeps the later matches' offsets valid.
            out[m.start()] = name
            out[m.start() + 1] = out[m.start() + 2] = ""
    return "".join(out)


_AFTER_SUBQUERY = re.compile(
    r"\s*(?:$|[),;]|(?:WHERE|UNION|ORDER|GROUP|LIMIT|OFFSET|JOIN|LEFT|INNER|CROSS|ON|HAVING|"
    r"EXCEPT|INTERSECT|RETURNING|WINDOW)\b)",
    re.IGNORECASE,
)


def _matching_paren(code: str, start: int) -> int:
    """Offset of the ``)`` closing the ``(`` at ``start``."""
    depth = 0
    for i in range(start, len(code)):
        if code[i] == "(":
            depth += 1
        elif code[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise UntranslatableSQL("unbalanced parentheses")


def _alias_subqueries(sql: str) -> str:
    """PostgreSQL 15 wants an alias on every subquery in FROM or JOIN; SQLite does not."""
    code = _code_only(sql)
    ends = []
    for m in re.finditer(r"\b(?:FROM|JOIN)\s*\(\s*SELECT\b", code, re.IGNORECASE):
        end = _matching_paren(code, code.index("(", m.start())) + 1
        if _AFTER_SUBQUERY.match(code, end):
            ends.append(end)
    for n, end in enumerate(sorted(ends, reverse=True)):
        sql = f"{sql[:end]} AS _sub{n}{sql[end:]}"
    return sql


def _group_concat(sql: str) -> str:
    """``group_concat(x[, sep])`` → ``string_agg(x, sep)`` (SQLite's separator defaults to ",")."""
    code = _code_only(sql)
    for m in reversed(list(re.finditer(r"\bgroup_concat\s*\(", code, re.IGNORECASE))):
        open_at = code.index("(", m.start())
        close = _matching_paren(code, open_at)
        depth, split = 0, close
        for i in range(open_at + 1, close):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            if code[i] == "," and depth == 0:
                split = i
                break
        value = sql[open_at + 1 : split].strip()
        sep = sql[split + 1 : close].strip() if split < close else "','"
        # CAST: SQLite concatenates numbers too, string_agg only text.
        agg = f"string_agg(CAST({value} AS TEXT), {sep})"
        sql = f"{sql[: m.start()]}{agg}{sql[close + 1 :]}"
    return sql


def _top_level_returning(code: str) -> int:
    """Offset of a RETURNING clause outside parentheses, or -1."""
    depth = 0
    for m in re.finditer(r"[()]|\bRETURNING\b", code, re.IGNORECASE):
        found = m.group(0)
        if found == "(":
            depth += 1
        elif found == ")":
            depth -= 1
        elif depth == 0:
            return m.start()
    return -1


def to_postgres(sql: str, id_tables: frozenset[str] = frozenset()) -> str:
    """The PostgreSQL form of one SQLite statement (see the module docstring for the rules)."""
    return translate(sql, id_tables)[0]


@functools.lru_cache(maxsize=4096)
def translate(sql: str, id_tables: frozenset[str] = frozenset()) -> tuple[str, bool]:
    """:func:`to_postgres`, and whether it added the ``RETURNING id`` behind ``lastrowid``."""
    for pattern, replacement in _RAW_RULES:
        sql = pattern.sub(replacement, sql)
    sql = _alias_subqueries(_group_concat(_scalar_min_max(sql)))
    ignore = re.search(r"\bINSERT\s+OR\s+IGNORE\b", _code_only(sql), re.IGNORECASE) is not None
    pieces = []
    for is_code, text in _segments(sql):
        # psycopg reads placeholders in string literals too: every % is escaped.
        text = text.replace("%", "%%")
        if not is_code:
            pieces.append(text)
            continue
        if _UNSUPPORTED.search(text):
            raise UntranslatableSQL(f"no PostgreSQL form for: {sql[:200]}")
        for pattern, replacement in _WORD_RULES:
            text = pattern.sub(replacement, text)
        text = _NAMED.sub(r"%(\1)s", text).replace("?", "%s")
        pieces.append(text)
    out = "".join(pieces).rstrip().rstrip(";")
    code = _code_only(out)
    at = _top_level_returning(code)
    if ignore:
        clause = " ON CONFLICT DO NOTHING"
        out = out + clause if at < 0 else f"{out[:at].rstrip()}{clause} {out[at:]}"
        code = _code_only(out)
        at = _top_level_returning(code)
    table = _INSERT_TABLE.match(code)
    if at < 0 and table and table.group(1).lower() in id_tables:
        return out + " RETURNING id", True
    return out, False


def ddl_to_postgres(statement: str) -> str:
    """One migration statement as PostgreSQL DDL."""
    statement = _PRIMARY_ID.sub("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    return to_postgres(statement).replace("%%", "%")


def id_tables(scripts: Iterable[str]) -> frozenset[str]:
    """Tables whose key is an ``id INTEGER PRIMARY KEY`` (their inserts answer ``lastrowid``)."""
    return frozenset(m.group(1).lower() for s in scripts for m in _ID_TABLE.finditer(s))
