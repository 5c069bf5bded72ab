"""``field__in_ids=[…]``: membership in a long list of integer ids, passed as ONE query parameter.

Django prepares every element of an ``__in`` list on its own and the driver then writes one placeholder per
element — about 60 µs an id, which for the 1,000–5,000 ids of a collector's worklist costs more than the
queries themselves. Here the list goes to the database whole: ``= ANY(%s::bigint[])`` on PostgreSQL (an
index scan like ``IN``), ``IN (SELECT value FROM json_each(%s))`` on SQLite. Registered on every field in
``CommonConfig.ready``; the ids must be integers (keys), which is checked.
"""

from __future__ import annotations

import json

from django.db.models import Lookup


class InIds(Lookup):
    lookup_name = "in_ids"
    prepare_rhs = False

    def get_prep_lookup(self):
        ids = list(self.rhs)
        if any(type(v) is not int for v in ids):  # bool is not an id either
            raise TypeError("in_ids takes a list of integer ids")
        return ids

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, self.rhs]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, json.dumps(self.rhs)]
