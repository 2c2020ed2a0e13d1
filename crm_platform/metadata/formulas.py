"""Formula expressions: the grammar, and the typed tree that both compilers read.

``amount * probability / 100`` is parsed by a ``lark`` grammar and checked against the entity's
fields at definition time: every node gets its type (a number with its scale, text, yes/no, a
date), so a number plus a text, an unknown or archived field, a formula that refers to itself or
makes a cycle through other formulas is refused before anything is stored, naming the place. The
typed tree (``Node``) is the one source of ``runtime/formulas.py``'s two compilers, to a SQLAlchemy
expression and to a Python function; nothing here touches SQL or HTTP.

Numbers are exact: a number is held as a whole number scaled by ``10 ** scale`` (12.50 at scale 2
is 1250), and the scale of every node is known here. The rules (docs/computed-fields.md):
``+`` and ``-`` keep the larger scale, ``*`` adds the scales (at most ``MAX_SCALE``, rounded), ``/``
keeps ``max(scales, DIV_SCALE)`` places and drops further digits; a value whose scaled form reaches
18 digits is an overflow and is null, as is a division by zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Callable

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

#: The largest scale an intermediate number keeps (a product of two 2-place amounts has 4).
MAX_SCALE = 10
#: The places a division keeps at least.
DIV_SCALE = 4
#: A scaled number must stay below this in magnitude (18 digits, what a decimal field and SQLite's
#: 64-bit integers hold); past it the value is an overflow: null.
LIMIT = 10 ** 18
#: add_days moves at most this many days (a century), else null: every database agrees on the dates.
MAX_DAYS = 36_500
MAX_LENGTH = 2000

GRAMMAR = r"""
?start: or_

?or_: and_
    | or_ "or"i and_          -> or_op
?and_: not_
    | and_ "and"i not_        -> and_op
?not_: cmp
    | "not"i not_             -> not_op
?cmp: concat
    | concat CMP concat       -> compare
?concat: sum
    | concat AMP sum          -> concat
?sum: product
    | sum ADD product         -> arith
?product: unary
    | product MUL unary       -> arith
?unary: atom
    | MINUS unary             -> neg
?atom: NUMBER                 -> number
    | STRING                  -> string
    | "true"i                 -> true
    | "false"i                -> false
    | "null"i                 -> null
    | NAME "(" [args] ")"     -> call
    | NAME "." NAME           -> related
    | NAME                    -> field
    | "(" or_ ")"
args: or_ ("," or_)*

CMP: "<=" | ">=" | "!=" | "<>" | "==" | "=" | "<" | ">"
AMP: "&"
ADD: "+" | "-"
MINUS: "-"
MUL: "*" | "/"
NUMBER: /\d+(\.\d+)?/
STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
NAME: /[a-z_][a-z0-9_]*/i

%import common.WS
%ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="earley", propagate_positions=True, maybe_placeholders=True, ambiguity="resolve")


class FormulaError(Exception):
    """An expression that cannot be a formula; ``pos`` is the 1-based character it concerns."""

    def __init__(self, pos: int | None, message: str):
        self.pos = pos
        self.message = message if pos is None else f"at character {pos}: {message}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Type:
    kind: str  # "num", "str", "bool", "day", "null"
    scale: int = 0

    def __str__(self):
        return {"num": "a number", "str": "a text", "bool": "a yes/no value", "day": "a date",
                "null": "null"}[self.kind]


NUMBER, TEXT, BOOLEAN, DATE, NULL = Type("num"), Type("str"), Type("bool"), Type("day"), Type("null")


@dataclass
class Node:
    """A typed node. ``op``: lit, field, related, inline, neg, + - * /, cmp, and, or, not, concat, if,
    coalesce, len, upper, lower, days_between, add_days, today, round. ``value``: a literal's value
    (numbers scaled), a field's key, ``(reference, target entity, key)``, a comparison's operator,
    round's places. ``source``: how a field stores its value ("moment" is read as its UTC day)."""
    op: str
    type: Type
    pos: int
    args: tuple = ()
    value: Any = None
    source: str | None = None
    #: the stored field definition a field node reads (its scale, its storage)
    field: dict | None = dc_field(default=None, compare=False)


def parse(expression: str) -> Tree:
    if not isinstance(expression, str) or not expression.strip():
        raise FormulaError(None, "the expression is empty")
    if len(expression) > MAX_LENGTH:
        raise FormulaError(None, f"the expression is longer than {MAX_LENGTH} characters")
    try:
        return _PARSER.parse(expression)
    except UnexpectedCharacters as exc:
        raise FormulaError(exc.pos_in_stream + 1, f"unexpected {expression[exc.pos_in_stream]!r}") from None
    except UnexpectedEOF:
        raise FormulaError(len(expression), "the expression ends too early") from None
    except UnexpectedToken as exc:
        pos = exc.token.start_pos if exc.token.start_pos is not None else len(expression)
        what = "the end" if exc.token.type == "$END" else repr(str(exc.token))
        raise FormulaError(pos + 1, f"unexpected {what}") from None
    except UnexpectedInput as exc:
        raise FormulaError(getattr(exc, "pos_in_stream", 0) + 1, "the expression does not parse") from None
    except LarkError as exc:  # pragma: no cover - the grammar's own failures
        raise FormulaError(None, f"the expression does not parse: {exc}") from None


# ---- what the checker asks about fields -------------------------------------------------------------

@dataclass
class Scope:
    """The fields a formula may read. ``fields(entity)`` gives an entity's active fields by key (None
    for no such active entity), ``archived(entity)`` its archived field keys; ``operand(field)`` says
    how a formula reads a field: ``("num", scale)``, ``("str", 0)``, ``("bool", 0)``,
    ``("day", 0)``, ``("moment", 0)`` or ``("ref", 0)``, None when it cannot;
    ``expression(field)`` is a formula field's expression (None for a stored field);
    ``target(field)`` a reference's entity; ``declared(field)`` a formula field's result."""
    entity: str
    fields: Callable[[str], dict | None]
    archived: Callable[[str], set]
    operand: Callable[[dict], tuple | None]
    expression: Callable[[dict], str | None]
    target: Callable[[dict], str | None]
    #: a formula field's declared result as (kind, scale): what another formula reading it gets
    declared: Callable[[dict], tuple] = lambda f: ("null", 0)


def check(expression: str, scope: Scope, own_key: str, path: tuple = ()) -> Node:
    """The typed tree of a formula field ``own_key`` of ``scope.entity``, or raise FormulaError."""
    return _Checker(scope, (*path, own_key)).node(parse(expression))


def result_problem(tree: Node, kind: str, result: str) -> str | None:
    """Why a tree cannot give a formula's declared result, of ``kind`` (None when it can)."""
    if tree.type.kind in (kind, "null"):
        return None
    return f"the expression gives {tree.type} but the field's result is {result}"


def used_fields(tree: Node) -> set[tuple[str | None, str]]:
    """Fields the tree reads: (None, key) on the record itself, (entity, key) through a reference;
    a reference a path goes through counts as read too."""
    out: set = set()

    def walk(n: Node):
        if n.op == "field":
            out.add((None, n.value))
        elif n.op == "related":
            out.add((None, n.value[0]))
            out.add((n.value[1], n.value[2]))
        elif n.op == "inline":
            out.add((None, n.value))
        for a in n.args:
            walk(a)
    walk(tree)
    return out


_COMPARE = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FUNCTIONS = {
    # name: (arity range, short description)
    "if": ((3, 3), "if(condition, then, else)"),
    "coalesce": ((1, 20), "coalesce(a, b, ...)"),
    "len": ((1, 1), "len(text)"),
    "upper": ((1, 1), "upper(text)"),
    "lower": ((1, 1), "lower(text)"),
    "days_between": ((2, 2), "days_between(from_date, to_date)"),
    "add_days": ((2, 2), "add_days(date, days)"),
    "today": ((0, 0), "today()"),
    "round": ((1, 2), "round(number, places)"),
}


class _Checker:
    def __init__(self, scope: Scope, path: tuple):
        self.scope, self.path = scope, path

    def node(self, t) -> Node:
        method = getattr(self, "_" + t.data)
        return method(t, _pos(t))

    # ---- leaves ---------------------------------------------------------------------------------
    def _number(self, t, pos):
        text = str(t.children[0])
        whole, _, frac = text.partition(".")
        if len(frac) > MAX_SCALE:
            raise FormulaError(pos, f"{text} has more than {MAX_SCALE} decimal places")
        scaled = int(whole + frac)
        if scaled >= LIMIT:
            raise FormulaError(pos, f"{text} has more than 18 digits")
        return Node("lit", Type("num", len(frac)), pos, value=scaled)

    def _string(self, t, pos):
        raw = str(t.children[0])[1:-1]
        out, i = [], 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        text = "".join(out)
        if "\x00" in text:
            raise FormulaError(pos, "a text may not hold the NUL character")
        return Node("lit", TEXT, pos, value=text)

    def _true(self, t, pos):
        return Node("lit", BOOLEAN, pos, value=True)

    def _false(self, t, pos):
        return Node("lit", BOOLEAN, pos, value=False)

    def _null(self, t, pos):
        return Node("lit", NULL, pos, value=None)

    def _field(self, t, pos):
        key = str(t.children[0])
        return self._read(self.scope.entity, key, pos, own=True)

    def _related(self, t, pos):
        ref_key, key = str(t.children[0]), str(t.children[1])
        ref = self._lookup(self.scope.entity, ref_key, pos)
        target = self.scope.target(ref)
        if target is None:
            raise FormulaError(pos, f"'{ref_key}' is not a reference field, so '{ref_key}.{key}' reads nothing")
        node = self._read(target, key, pos + len(ref_key) + 1, own=False)
        return Node("related", node.type, pos, value=(ref_key, target, key), source=node.source, field=node.field)

    def _lookup(self, entity: str, key: str, pos: int) -> dict:
        fields = self.scope.fields(entity)
        if fields is None:
            raise FormulaError(pos, f"there is no active entity '{entity}'")
        found = fields.get(key)
        if found is None:
            where = "this entity" if entity == self.scope.entity else f"'{entity}'"
            if key in self.scope.archived(entity):
                raise FormulaError(pos, f"'{key}' is an archived field of {where}: restore it or change the formula")
            raise FormulaError(pos, f"{where} has no field '{key}'")
        return found

    def _read(self, entity: str, key: str, pos: int, own: bool) -> Node:
        f = self._lookup(entity, key, pos)
        expression = self.scope.expression(f)
        if expression is not None:
            if not own:
                raise FormulaError(pos, f"'{entity}.{key}' is a formula: a formula reads another record's "
                                        "stored fields only (one level)")
            if key in self.path:
                cycle = " → ".join((*self.path[self.path.index(key):], key))
                raise FormulaError(pos, f"the formula refers to itself: {cycle}" if len(self.path) == 1 and key == self.path[0]
                                   else f"the formulas make a cycle: {cycle}")
            try:
                inner = check(expression, self.scope, key, self.path)
            except FormulaError as exc:
                raise FormulaError(pos, f"formula '{key}' cannot be used: {exc.message}") from None
            kind, scale = self.scope.declared(f)
            return Node("inline", Type(kind, scale), pos, args=(inner,), value=key, field=f)
        operand = self.scope.operand(f)
        if operand is None or operand[0] == "ref":
            what = "a reference: read one of its fields, e.g. " + f"{key}.name" if operand else "of a type formulas cannot read"
            raise FormulaError(pos, f"'{key}' is {what}")
        kind, scale = operand
        if kind == "moment":
            return Node("field", DATE, pos, value=key, source="moment", field=f)
        return Node("field", Type(kind, scale), pos, value=key, source=kind, field=f)

    # ---- operators ------------------------------------------------------------------------------
    def _neg(self, t, pos):
        a = self.node(t.children[1])
        self._want(a, "num", pos, "'-' needs a number")
        return Node("neg", a.type if a.type.kind == "num" else Type("num"), pos, (a,))

    def _arith(self, t, pos):
        a, op_tok, b = t.children
        a, b = self.node(a), self.node(b)
        op = str(op_tok)
        opos = op_tok.start_pos + 1
        for side in (a, b):
            if side.type.kind not in ("num", "null"):
                hint = "; join texts with &" if op == "+" and TEXT in (a.type, b.type) else ""
                raise FormulaError(opos, f"'{op}' needs numbers, not {_pair(a, b)}{hint}")
        sa_, sb = a.type.scale, b.type.scale
        if op in "+-":
            scale = max(sa_, sb)
        elif op == "*":
            scale = min(sa_ + sb, MAX_SCALE)
        else:
            scale = min(max(sa_, sb, DIV_SCALE), MAX_SCALE)
        return Node(op, Type("num", scale), opos, (a, b))

    def _compare(self, t, pos):
        a, op_tok, b = t.children
        a, b = self.node(a), self.node(b)
        opos = op_tok.start_pos + 1
        kind = _unify(a, b)
        if kind is None:
            raise FormulaError(opos, f"cannot compare {_pair(a, b)}")
        return Node("cmp", BOOLEAN, opos, (a, b), value=_COMPARE[str(op_tok)])

    def _concat(self, t, pos):
        a, amp, b = t.children
        a, b = self.node(a), self.node(b)
        for side in (a, b):
            if side.type.kind not in ("str", "null"):
                raise FormulaError(amp.start_pos + 1, f"'&' joins texts, not {_pair(a, b)}")
        return Node("concat", TEXT, amp.start_pos + 1, (a, b))

    def _logic(self, t, pos, op):
        args = tuple(self.node(c) for c in t.children)
        for a in args:
            self._want(a, "bool", a.pos, f"'{op}' needs yes/no values, not {a.type}")
        return Node(op, BOOLEAN, pos, args)

    def _or_op(self, t, pos):
        return self._logic(t, pos, "or")

    def _and_op(self, t, pos):
        return self._logic(t, pos, "and")

    def _not_op(self, t, pos):
        return self._logic(t, pos, "not")

    def _call(self, t, pos):
        name = str(t.children[0]).lower()
        arg_tree = t.children[1]
        args = tuple(self.node(c) for c in arg_tree.children) if arg_tree is not None else ()
        if name not in _FUNCTIONS:
            raise FormulaError(pos, f"there is no function '{name}'; functions: {', '.join(sorted(_FUNCTIONS))}")
        (lo, hi), usage = _FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise FormulaError(pos, f"{name} takes {lo if lo == hi else f'{lo} to {hi}'} values: {usage}")
        return getattr(self, "_fn_" + name)(args, pos, usage)

    def _want(self, a: Node, kind: str, pos: int, message: str):
        if a.type.kind not in (kind, "null"):
            raise FormulaError(pos, message)

    def _fn_if(self, args, pos, usage):
        c, a, b = args
        self._want(c, "bool", c.pos, f"if's condition must be yes/no, not {c.type}")
        kind = _unify(a, b)
        if kind is None:
            raise FormulaError(pos, f"if gives {a.type} or {b.type}: both must be the same kind")
        return Node("if", _joined(a, b), pos, args)

    def _fn_coalesce(self, args, pos, usage):
        out = args[0]
        for a in args[1:]:
            if _unify(out, a) is None:
                raise FormulaError(a.pos, f"coalesce mixes {out.type} and {a.type}")
            out = Node("x", _joined(out, a), pos)
        return Node("coalesce", out.type, pos, args)

    def _fn_len(self, args, pos, usage):
        self._want(args[0], "str", pos, f"len needs a text, not {args[0].type}")
        return Node("len", Type("num", 0), pos, args)

    def _fn_upper(self, args, pos, usage):
        self._want(args[0], "str", pos, f"upper needs a text, not {args[0].type}")
        return Node("upper", TEXT, pos, args)

    def _fn_lower(self, args, pos, usage):
        self._want(args[0], "str", pos, f"lower needs a text, not {args[0].type}")
        return Node("lower", TEXT, pos, args)

    def _fn_days_between(self, args, pos, usage):
        for a in args:
            self._want(a, "day", pos, f"days_between needs two dates, not {a.type}: {usage}")
        return Node("days_between", Type("num", 0), pos, args)

    def _fn_add_days(self, args, pos, usage):
        d, n = args
        self._want(d, "day", pos, f"add_days needs a date first, not {d.type}: {usage}")
        self._want(n, "num", pos, f"add_days needs a whole number of days, not {n.type}: {usage}")
        if n.type.scale:
            raise FormulaError(n.pos, "add_days needs a whole number of days: round it first, e.g. round(x)")
        return Node("add_days", DATE, pos, args)

    def _fn_today(self, args, pos, usage):
        return Node("today", DATE, pos)

    def _fn_round(self, args, pos, usage):
        x = args[0]
        self._want(x, "num", pos, f"round needs a number, not {x.type}")
        places = 0
        if len(args) == 2:
            p = args[1]
            if p.op != "lit" or p.type.kind != "num" or p.type.scale or not 0 <= p.value <= MAX_SCALE:
                raise FormulaError(p.pos, f"round's places must be a whole number from 0 to {MAX_SCALE}, written out")
            places = p.value
        return Node("round", Type("num", places), pos, (x,), value=places)


def _pos(t) -> int:
    meta = getattr(t, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.start_pos + 1
    for c in getattr(t, "children", []):
        if isinstance(c, Token) and c.start_pos is not None:
            return c.start_pos + 1
        if isinstance(c, Tree):
            return _pos(c)
    return 1


def _pair(a: Node, b: Node) -> str:
    return f"{a.type} and {b.type}"


def _unify(a: Node, b: Node) -> str | None:
    if a.type.kind == "null":
        return b.type.kind
    if b.type.kind == "null" or a.type.kind == b.type.kind:
        return a.type.kind
    return None


def _joined(a: Node, b: Node) -> Type:
    if a.type.kind == "null":
        return b.type
    if b.type.kind == "null":
        return a.type
    if a.type.kind == "num":
        return Type("num", max(a.type.scale, b.type.scale))
    return a.type


