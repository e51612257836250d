"""The serving lists: what serving systems poll, answered from the cache.

``cache`` (generations, list bodies per worker, the full list, changes since a cursor and the poll's
fast path), ``bodies`` (serialisation of a list and of its changes), ``auth`` (pollers' tokens
checked from the cache), ``store`` (one Redis round trip per read), ``near`` (each worker's near
copy of the keys a poll reads), ``poll`` (the answer to one poll) and ``wsgi`` (the WSGI entry that
answers polls ahead of Django).
"""
