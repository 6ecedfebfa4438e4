"""A small SOQL engine for the Salesforce emulator: tokenizer, recursive-descent parser, evaluator.

It covers the SOQL the project sends:

    SELECT f1, f2 FROM Object
      [WHERE cond]            cond: f op literal | f [NOT] IN (...) | f LIKE 'x%' | NOT cond
                              | (cond) | cond AND cond ... | cond OR cond ...
      [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n]

Like the real service, a WHERE that mixes AND and OR at one level without parentheses is
refused (MALFORMED_QUERY), string comparisons are case-insensitive, `!=` matches nulls, and a
literal must suit the field's type. The parser knows nothing about objects: `compile_query`
checks names and literal types against an `{object: {field: type}}` map given by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

# ---------------------------------------------------------------- errors


class SoqlError(Exception):
    """A query the service refuses; `code` is the Salesforce errorCode."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


# ---------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)

# SOQL escape sequences inside a quoted string (Salesforce "Quoted String Escape Sequences").
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
# In LIKE patterns \% and \_ keep their backslash so the pattern matcher sees a literal.
_LIKE_ESCAPES = {"%", "_"}


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, number, date, datetime, op, punct, end
    text: str
    value: Any = None


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted literal whose opening quote is at `start`; return (value, index after it)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt.lower() in _ESCAPES:
                out.append(_ESCAPES[nxt.lower()] if nxt not in "\"'\\" else nxt)
            elif nxt in _LIKE_ESCAPES:
                out.append("\\" + nxt)
            elif nxt in "uU" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 4
            else:
                raise _malformed(f"Invalid string literal: bad escape \\{nxt}")
            i += 2
            continue
        out.append(ch)
        i += 1
    raise _malformed("Invalid string literal: missing closing quote")


def tokenize(text: str) -> list[Token]:
    """Split SOQL text into tokens (keywords stay words; the parser compares them case-insensitively)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise _malformed(f"unexpected token at: {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        if kind == "string":
            value, pos = _read_string(text, pos)
            tokens.append(Token("string", value, value))
            continue
        pos = match.end()
        if kind != "space":
            tokens.append(Token(kind, match.group()))
    tokens.append(Token("end", ""))
    return tokens


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime
    value: Any


@dataclass
class Compare:
    field: str
    op: str
    literal: Literal


@dataclass
class InList:
    field: str
    literals: list[Literal]
    negated: bool


@dataclass
class Like:
    field: str
    pattern: str


@dataclass
class Not:
    inner: "Condition"


@dataclass
class BoolOp:
    op: str  # AND or OR
    parts: list["Condition"]


Condition = Compare | InList | Like | Not | BoolOp


@dataclass
class OrderKey:
    field: str
    descending: bool = False
    nulls_last: bool = False


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Condition | None = None
    order_by: list[OrderKey] = field(default_factory=list)
    limit: int | None = None


# ---------------------------------------------------------------- parser


_DATE_KEYWORDS = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, tokens: list[Token], today: date):
        self.tokens = tokens
        self.pos = 0
        self.today = today

    # -- helpers
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.upper() in words

    def expect_keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise _malformed(f"expecting '{word}', found '{self.peek().text or 'end of query'}'")
        self.advance()

    def expect_punct(self, ch: str) -> None:
        token = self.advance()
        if token.kind != "punct" or token.text != ch:
            raise _malformed(f"expecting '{ch}', found '{token.text or 'end of query'}'")

    def field_name(self) -> str:
        token = self.advance()
        if token.kind != "word":
            raise _malformed(f"expecting a field name, found '{token.text or 'end of query'}'")
        return token.text

    # -- grammar
    def query(self) -> Query:
        self.expect_keyword("SELECT")
        fields = [self.field_name()]
        while self.peek().text == ",":
            self.advance()
            fields.append(self.field_name())
        self.expect_keyword("FROM")
        query = Query(fields=fields, sobject=self.field_name())
        if self.at_keyword("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.at_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            query.order_by = [self.order_key()]
            while self.peek().text == ",":
                self.advance()
                query.order_by.append(self.order_key())
        if self.at_keyword("LIMIT"):
            self.advance()
            token = self.advance()
            if token.kind != "number" or not token.text.isdigit():
                raise _malformed("LIMIT needs a non-negative integer")
            query.limit = int(token.text)
        if self.peek().kind != "end":
            raise _malformed(f"unexpected token: '{self.peek().text}'")
        return query

    def condition(self) -> Condition:
        """condition := term ((AND term)* | (OR term)*) -- never both at one level."""
        parts = [self.term()]
        joiner: str | None = None
        while self.at_keyword("AND", "OR"):
            word = self.advance().text.upper()
            if joiner and word != joiner:
                raise _malformed("unexpected token: 'AND'/'OR' mixed without parentheses")
            joiner = word
            parts.append(self.term())
        return BoolOp(joiner, parts) if joiner else parts[0]

    def term(self) -> Condition:
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.term())
        if self.peek().text == "(":
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        name = self.field_name()
        if self.at_keyword("NOT"):
            self.advance()
            self.expect_keyword("IN")
            return InList(name, self.literal_list(), negated=True)
        if self.at_keyword("IN"):
            self.advance()
            return InList(name, self.literal_list(), negated=False)
        if self.at_keyword("LIKE"):
            self.advance()
            token = self.advance()
            if token.kind != "string":
                raise _malformed("LIKE needs a string literal")
            return Like(name, token.value)
        token = self.advance()
        if token.kind != "op":
            raise _malformed(f"expecting an operator after {name}, found '{token.text or 'end'}'")
        op = "!=" if token.text == "<>" else token.text
        return Compare(name, op, self.literal())

    def literal_list(self) -> list[Literal]:
        self.expect_punct("(")
        items = [self.literal()]
        while self.peek().text == ",":
            self.advance()
            items.append(self.literal())
        self.expect_punct(")")
        return items

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind == "string":
            return Literal("string", token.value)
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Literal("number", number)
        if token.kind == "date":
            return Literal("date", date.fromisoformat(token.text))
        if token.kind == "datetime":
            return Literal("datetime", parse_datetime(token.text))
        if token.kind == "word":
            word = token.text.upper()
            if word in ("TRUE", "FALSE"):
                return Literal("boolean", word == "TRUE")
            if word == "NULL":
                return Literal("null", None)
            if word in _DATE_KEYWORDS:
                return Literal("date", self.today + timedelta(days=_DATE_KEYWORDS[word]))
        raise _malformed(f"expecting a literal, found '{token.text or 'end of query'}'")

    def order_key(self) -> OrderKey:
        key = OrderKey(self.field_name())
        if self.at_keyword("ASC", "DESC"):
            key.descending = self.advance().text.upper() == "DESC"
        key.nulls_last = key.descending  # Salesforce default: nulls first ascending
        if self.at_keyword("NULLS"):
            self.advance()
            if not self.at_keyword("FIRST", "LAST"):
                raise _malformed("expecting FIRST or LAST after NULLS")
            key.nulls_last = self.advance().text.upper() == "LAST"
        return key


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 datetime with an offset (Z, +hh:mm or +hhmm) into aware UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("datetime without a time zone")
    return value.astimezone(timezone.utc)


# ---------------------------------------------------------------- checking against fields

# Literal kinds each field type accepts (NULL fits every field).
_ACCEPTS = {
    "id": {"string"},
    "reference": {"string"},
    "string": {"string"},
    "textarea": {"string"},
    "picklist": {"string"},
    "email": {"string"},
    "phone": {"string"},
    "url": {"string"},
    "boolean": {"boolean"},
    "int": {"number"},
    "double": {"number"},
    "date": {"date"},
    "datetime": {"datetime"},
}


def compile_query(text: str, objects: dict[str, dict[str, str]], today: date) -> Query:
    """Parse `text`, then resolve object and field names (case-insensitively) against `objects`.

    `objects` maps each canonical object name to `{canonical field name: field type}`.
    The returned Query carries canonical names and its literals are type-checked.
    """
    query = _Parser(tokenize(text), today).query()
    object_names = {name.lower(): name for name in objects}
    if query.sobject.lower() not in object_names:
        raise SoqlError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
    query.sobject = object_names[query.sobject.lower()]
    types = objects[query.sobject]
    by_lower = {name.lower(): name for name in types}

    def resolve(name: str) -> str:
        canonical = by_lower.get(name.lower())
        if canonical is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{query.sobject}'.")
        return canonical

    def check(name: str, literal: Literal) -> None:
        if literal.kind != "null" and literal.kind not in _ACCEPTS[types[name]]:
            raise SoqlError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{name}' must be of type {types[name]}",
            )

    def visit(node: Condition) -> None:
        if isinstance(node, BoolOp):
            for part in node.parts:
                visit(part)
        elif isinstance(node, Not):
            visit(node.inner)
        elif isinstance(node, Like):
            node.field = resolve(node.field)
        else:
            node.field = resolve(node.field)
            for literal in node.literals if isinstance(node, InList) else [node.literal]:
                check(node.field, literal)

    query.fields = [resolve(name) for name in query.fields]
    if query.where is not None:
        visit(query.where)
    for key in query.order_by:
        key.field = resolve(key.field)
    return query


# ---------------------------------------------------------------- evaluation


def _fold(value: Any) -> Any:
    """Strings compare case-insensitively in SOQL."""
    return value.casefold() if isinstance(value, str) else value


def _compare(value: Any, op: str, literal: Literal) -> bool:
    if literal.kind == "null":
        if op == "=":
            return value is None
        if op == "!=":
            return value is not None
        return False
    if value is None:
        return op == "!="
    left, right = _fold(value), _fold(literal.value)
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        left = left.date()
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }[op]


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in _LIKE_ESCAPES:
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def matches(record: dict[str, Any], node: Condition | None) -> bool:
    """True when `record` satisfies the WHERE tree (None = no WHERE)."""
    if node is None:
        return True
    if isinstance(node, BoolOp):
        results = (matches(record, part) for part in node.parts)
        return all(results) if node.op == "AND" else any(results)
    if isinstance(node, Not):
        return not matches(record, node.inner)
    value = record.get(node.field)
    if isinstance(node, Compare):
        return _compare(value, node.op, node.literal)
    if isinstance(node, InList):
        found = any(_compare(value, "=", literal) for literal in node.literals)
        return (not found and value is not None) if node.negated else found
    return value is not None and bool(_like_regex(node.pattern).fullmatch(str(value)))


def order_records(records: list[dict[str, Any]], keys: list[OrderKey]) -> list[dict[str, Any]]:
    """Sort by the ORDER BY keys (stable, applied last key first)."""
    result = list(records)
    for key in reversed(keys):
        present = [r for r in result if r.get(key.field) is not None]
        missing = [r for r in result if r.get(key.field) is None]
        present.sort(key=lambda r: _fold(r[key.field]), reverse=key.descending)
        result = present + missing if key.nulls_last else missing + present
    return result
