"""Executors for ``copy``/``sync`` that the standard library and Dask do not give.

A Dask cluster needs nothing here (``distributed.Client.get_executor()`` is
a ``concurrent.futures.Executor`` already); Ray 2.60 has none of its own, so
:mod:`.ray` adapts its tasks. Nothing here is imported by ``import
bucketbridge``: each module imports its framework, which is an optional extra.
"""
