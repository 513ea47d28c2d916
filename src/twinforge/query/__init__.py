"""The Azure Digital Twins query language: parse, compile to SQL, evaluate.

    >>> from twinforge.query import parse_query
    >>> q = parse_query("SELECT T.name FROM DIGITALTWINS T WHERE T.temperature > 25")
    >>> q.projections[0].name, q.where.op
    ('name', '>')
"""

from twinforge.query.ast import Query
from twinforge.query.compiler import Compiled, Dialect, compile_query, json_path
from twinforge.query.evaluator import Evaluator
from twinforge.query.parser import InvalidQuery, QuerySyntaxError, parse_query

__all__ = ["Compiled", "Dialect", "Evaluator", "InvalidQuery", "Query", "QuerySyntaxError",
           "compile_query", "json_path", "parse_query"]
