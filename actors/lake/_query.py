"""Reading the lake: SQL over a Delta table through deltalake's QueryBuilder.

Every read in possync goes through here. `DeltaTable.to_pyarrow_table()` intermittently aborts the
interpreter at exit when other threads are alive ("terminate called without an active exception",
delta-rs #2184); the QueryBuilder path does not. QueryBuilder returns strings as `string_view`, which
pyarrow compute does not fully support: results come back with plain `string` columns.
"""

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder


def query(table: DeltaTable, sql: str, name: str = "t") -> pa.Table:
    """Run `sql` on `table`, which the SQL calls `name`."""
    result = pa.table(QueryBuilder().register(name, table).execute(sql).read_all())
    fields = [f.with_type(pa.string()) if f.type == pa.string_view() else f for f in result.schema]
    return result.cast(pa.schema(fields))


def read_all(table: DeltaTable) -> pa.Table:
    """Every row of `table` at the version it was loaded at."""
    return query(table, "SELECT * FROM t")
