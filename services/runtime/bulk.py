"""Many rows written in one statement, for the batches of an import.

An executemany costs the client a bound statement per row (its parameters processed, dumped and
sent) and the server a statement per row. On PostgreSQL each column is sent instead as one
array and the rows are unnested on the server: a thousand rows cost little more than one.
SQLite, and batches too small to gain from it, take the rows as an executemany.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import TableValuedAlias

# Below this many rows the arrays gain nothing on an executemany.
MIN_ROWS = 20
# Statements built once per table, columns and conflict rule: building one costs more than
# running it.
_built: dict[tuple, Any] = {}


def unnested(table: Table, names: Sequence[str], alias: str = "given") -> TableValuedAlias:
    """The rows of `rows_as_arrays(table, rows, names)` as a table `alias` with these columns
    of `table` (PostgreSQL only): for an INSERT ... SELECT or an UPDATE ... FROM. A JSON
    column comes as its text: an array of JSON values would be read as nested arrays."""
    arrays = []
    for name in names:
        of = Text() if _is_json(table, name) else table.c[name].type
        # Named apart from the columns: an UPDATE binds its SET values under theirs.
        array = bindparam(f"many_{name}", type_=postgresql.ARRAY(of))
        arrays.append(cast(array, postgresql.ARRAY(of)))
    return func.unnest(*arrays).table_valued(*names, name=alias).render_derived()


def rows_as_arrays(
    table: Table, rows: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> dict[str, list]:
    """The rows' values, column by column, for `unnested(table, names)`."""
    return {f"many_{name}": _column(table, name, [row[name] for row in rows]) for name in names}


def _column(table: Table, name: str, values: list) -> list:
    if _is_json(table, name):
        return [None if value is None else json.dumps(value) for value in values]
    return values


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
    skip_conflicts_on: Sequence[str] = (),
) -> None:
    """Inserts the rows (dicts with the same keys), with `fixed` values (or SQL expressions)
    for columns every row shares, and the Python defaults of the table's other columns, as an
    ORM insert would. `skip_conflicts_on`: the unique columns on which a row already stored
    makes its row skipped (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    expressions = {n: v for n, v in (fixed or {}).items() if isinstance(v, ClauseElement)}
    values = {n: v for n, v in (fixed or {}).items() if n not in expressions}
    names = tuple(rows[0])
    dialect = session.get_bind().dialect.name
    if dialect != "postgresql" or len(rows) < MIN_ROWS:
        statement = _built_once(
            ("many", table, dialect, _identities(expressions), tuple(skip_conflicts_on)),
            lambda: _executemany(table, dialect, expressions, skip_conflicts_on),
        )
        session.execute(statement, [{**row, **values} for row in rows] if values else rows)
        return
    computed: dict[str, list] = {}
    for column in table.columns:
        name = column.name
        if name in names or name in values or name in expressions or column.default is None:
            continue
        if column.default.is_scalar:
            values[name] = column.default.arg
        elif column.default.is_callable:
            computed[name] = [column.default.arg(None) for _row in rows]
    arrays = names + tuple(computed)
    key = (table, arrays, tuple(values), _identities(expressions), tuple(skip_conflicts_on))
    statement = _built_once(
        ("unnest", *key),
        lambda: _unnest_insert(table, arrays, tuple(values), expressions, skip_conflicts_on),
    )
    params = rows_as_arrays(table, rows, names)
    params.update({f"many_{n}": _column(table, n, v) for n, v in computed.items()})
    params.update({f"fixed_{name}": value for name, value in values.items()})
    session.execute(statement, params)


def _built_once(key: tuple, build: Callable[[], Any]) -> Any:
    statement = _built.get(key)
    if statement is None:
        statement = _built[key] = build()
    return statement


def _executemany(
    table: Table, dialect: str, expressions: dict[str, Any], skip_conflicts_on: Sequence[str]
) -> Any:
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = build(table).values(**expressions) if expressions else build(table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return statement


def _unnest_insert(
    table: Table,
    arrays: tuple[str, ...],
    bound: tuple[str, ...],
    expressions: dict[str, Any],
    skip_conflicts_on: Sequence[str],
) -> Any:
    given = unnested(table, arrays)
    columns = [
        cast(given.c[name], table.c[name].type) if _is_json(table, name) else given.c[name]
        for name in arrays
    ]
    columns += [
        cast(bindparam(f"fixed_{name}", type_=table.c[name].type), table.c[name].type)
        for name in bound
    ]
    columns += list(expressions.values())
    statement = postgresql.insert(table).from_select(
        [*arrays, *bound, *expressions], select(*columns)
    )
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return statement


def _identities(expressions: Mapping[str, Any]) -> tuple:
    # By identity: an SQL expression's == builds a comparison instead of answering.
    return tuple((name, id(value)) for name, value in expressions.items())
