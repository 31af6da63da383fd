"""Local mode's DynamoDB at real sizes: moto's server with its per-table costs taken out (issue 10).

moto 5.2.5 is kept (the tests' DynamoDB), with these changes, applied by :func:`apply` where the embedded
server starts (``localdev.dynamo``):

- ``TransactWriteItems`` rolls back with an undo log of the items it wrote, not a deep copy of every table
  it names (moto copies the tables once per item in the transaction: O(table) for each sign-in).
- ``ClientRequestToken`` is honoured as DynamoDB does: the same token with the same request within
  10 minutes succeeds without writing again; with a different request it fails with
  ``IdempotentParameterMismatchException``. A retried commit is then not reported as a conflict.
- ``Query`` reads the key's partition (moto walks and sorts every item of the table); on an index, that
  index key's items, from an index kept up to date by every write, ordered and cut to the page first.
- A ``Scan`` page starts at its ``ExclusiveStartKey`` (moto sorts the whole table for each page).
- ``DescribeTable``'s item count is kept by the writes (moto counts every partition each time).
- Items are kept packed (one JSON bytes object each) between requests and unpacked on first use in a
  request, and moto no longer keeps every item it ever made (and every copy) in its model registry.
- :func:`load_items` and :func:`dump_items` put items in and take them out in bulk (the snapshot, seeding).

Each change is written against moto's 5.2.5 source; :func:`apply` refuses another version (upgrade moto
and these patches together). ``LOCAL_MOTO_UNPATCHED=1`` runs moto as released (the benchmark compares).
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import importlib.metadata
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]

MOTO_VERSION = "5.2.5"
SKIP_VARIABLE = "LOCAL_MOTO_UNPATCHED"
TOKEN_SECONDS = 600  # DynamoDB keeps a ClientRequestToken for 10 minutes

_lock = threading.Lock()
_applied = False
_originals: dict[str, Any] = {}
clock: Callable[[], float] = time.monotonic  # the token window's clock (tests move it)
narrowing = True  # False: Query, Scan and the item count walk every item as moto does (tests compare)


class PatchError(RuntimeError):
    """The installed moto is not the version these patches were written for."""


def skipped(environ: dict[str, str] | None = None) -> bool:
    """True when ``LOCAL_MOTO_UNPATCHED=1`` asks for moto as released."""
    return (os.environ if environ is None else environ).get(SKIP_VARIABLE) == "1"


def apply() -> bool:
    """Patch moto's DynamoDB in this process (once; later calls do nothing). Returns False when
    ``LOCAL_MOTO_UNPATCHED=1`` leaves moto as released.

    Raises:
        PatchError: the installed moto is not ``MOTO_VERSION``.
    """
    global _applied
    if skipped():
        return False
    installed = importlib.metadata.version("moto")
    if installed != MOTO_VERSION:
        raise PatchError(
            f"localdev/moto_patches.py was written for moto {MOTO_VERSION}, found {installed}: check the patched "
            f"functions against the new source and update MOTO_VERSION (or run with {SKIP_VARIABLE}=1)"
        )
    with _lock:
        if _applied:
            return True
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table
        from moto.dynamodb.responses import DynamoHandler

        _replace(Item, "__new__", _untracked_new)
        _replace(Item, "__init__", _item_init)
        _replace(Item, "attrs", _PackedAttrs())
        _replace(DynamoDBBackend, "transact_write_items", _transact_write_items)
        _replace(DynamoDBBackend, "update_item", _update_item)
        _replace(DynamoHandler, "transact_write_items", _handler_transact_write_items)
        _replace(Table, "put_item", _table_put_item)
        _replace(Table, "delete_item", _table_delete_item)
        _replace(Table, "__len__", _table_len)
        _replace(Table, "all_items", _all_items)
        _replace(Table, "has_idx_items", _has_idx_items)
        _replace(Table, "query", _query)
        _replace(Table, "scan", _scan)
        _applied = True
    return True


def applied() -> bool:
    return _applied


def _replace(owner: type, name: str, function: Any) -> None:
    _originals[f"{owner.__name__}.{name}"] = owner.__dict__.get(name)
    setattr(owner, name, function)


def _original(owner: str, name: str) -> Any:
    return _originals[f"{owner}.{name}"]


# -- packed items ----------------------------------------------------------------------------------------
class _Unpackable(Exception):
    """An attribute value JSON cannot carry exactly (the item then stays unpacked)."""


def _plain(value: Any) -> dict[str, Any]:
    """A DynamoType as the AttributeValue JSON it was built from (``DynamoType(_plain(v))`` equals ``v``)."""
    kind, inner = value.type, value.value
    if kind == "M":
        if not all(hasattr(child, "type") for child in inner.values()):
            raise _Unpackable
        return {"M": {name: _plain(child) for name, child in inner.items()}}
    if kind == "L":
        if not all(hasattr(child, "type") for child in inner):
            raise _Unpackable
        return {"L": [_plain(child) for child in inner]}
    if type(inner) in (str, bool) or (type(inner) is list and all(type(v) is str for v in inner)):
        return {kind: inner}
    raise _Unpackable


def _pack(attrs: dict[str, Any]) -> bytes | None:
    try:
        plain = {name: _plain(value) for name, value in attrs.items()}
    except _Unpackable:
        return None
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _unpack(packed: bytes) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs, {name: DynamoType(value) for name, value in json.loads(packed).items()})
    return attrs


_opened = threading.local()


def _opened_items() -> list[Any]:
    items: list[Any] | None = getattr(_opened, "items", None)
    if items is None:
        items = _opened.items = []
    return items


class _PackedAttrs:
    """``Item.attrs``: between requests an item holds its attributes packed (one UTF-8 JSON bytes object,
    about a quarter of moto's objects); the first use in a request unpacks them, and :func:`end_request`
    packs every item the request used again (whatever it changed in them). The two states live in the
    item's ``_a`` (unpacked) and ``_p`` (packed) attributes, exactly one of them set."""

    def __get__(self, item: Any, owner: type | None = None) -> Any:
        if item is None:
            return self
        attrs = item._a
        if attrs is None:
            attrs = item._a = _unpack(item._p)
            item._p = None
            _opened_items().append(item)
        return attrs

    def __set__(self, item: Any, attrs: Any) -> None:
        item._a = attrs
        item._p = None
        _opened_items().append(item)


def end_request() -> None:
    """Pack again every item this thread unpacked or created (the embedded server calls it after each
    request, under its lock). An item whose values JSON cannot carry exactly stays unpacked."""
    items = _opened_items()
    while items:
        item = items.pop()
        if item._a is not None:
            packed = _pack(item._a)
            if packed is not None:
                item._p = packed
                item._a = None


def _attr_of(item: Any, name: str, attrs: dict[str, Any] | None = None) -> Any:
    """One attribute of an item as a DynamoType, without unpacking the item for the request (indexing):
    from ``attrs`` (its AttributeValue JSON) when given."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if attrs is None:
        packed = getattr(item, "_p", None)
        if packed is None:
            return item.attrs.get(name)
        attrs = json.loads(packed)
    raw = attrs.get(name)
    return None if raw is None else DynamoType(raw)


@staticmethod  # type: ignore[misc]
def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """moto's models keep every instance ever made in a class list (for its /moto-api/ model browser):
    every DynamoDB item, with every copy moto made of it for a response or a rollback, stays in memory
    for good. Items are made as plain objects instead."""
    return object.__new__(cls)


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's ``Item.__init__`` checks the 400 KB limit again for each attribute it adds (O(n²) per item);
    the same limit checked once on the whole item."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    built = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(built, {name: DynamoType(value) for name, value in attrs.items()})
    if sum(bytesize(name) + value.size() for name, value in built.items()) > 405000:  # LimitedSizeDict's limit
        raise ItemSizeTooLarge
    self.attrs = built


# -- the per-table index ---------------------------------------------------------------------------------
def _key(value: Any) -> tuple[str, Any]:
    """A DynamoType as a plain, immutable dict key (its type and value, compared as moto compares them)."""
    return (value.type, value.cast_value)


def _cast(kind: str, value: Any) -> Any:
    """The value moto orders an AttributeValue by (its ``cast_value``) for key types."""
    from decimal import Decimal

    return Decimal(value) if kind == "N" else value


def _primary(hash_key: Any, range_key: Any) -> tuple[Any, Any]:
    """An item's key as plain values (each key attribute has one type per table; moto orders by value)."""
    return (hash_key.cast_value, range_key.cast_value if range_key is not None else None)


@dataclass
class _SecondaryIndex:
    """One index's items by their index hash key: ``buckets[key][(partition key, sort key)]`` is the item
    with its index sort key value (read once here, so a query orders and cuts a bucket without unpacking)."""

    hash_attr: str
    range_attr: str | None
    buckets: dict[tuple[str, Any], dict[tuple[Any, Any], tuple[Any, Any]]] = field(default_factory=dict)
    where: dict[tuple[Any, Any], tuple[str, Any]] = field(default_factory=dict)

    def remove(self, primary: tuple[Any, Any]) -> None:
        old = self.where.pop(primary, None)
        if old is not None:
            bucket = self.buckets.get(old)
            if bucket is not None:
                bucket.pop(primary, None)
                if not bucket:
                    del self.buckets[old]

    def add(self, primary: tuple[Any, Any], item: Any, attrs: dict[str, Any] | None = None) -> None:
        """Index ``item`` (its attributes read from ``attrs``, AttributeValue JSON, when given)."""
        value = _attr_of(item, self.hash_attr, attrs)
        if value is not None and value.type in ("S", "N", "B"):
            key = _key(value)
            ranged = _attr_of(item, self.range_attr, attrs) if self.range_attr else None
            plain = (ranged.type, ranged.value) if ranged is not None else None
            self.buckets.setdefault(key, {})[primary] = (item, plain)
            self.where[primary] = key


@dataclass
class _TableIndex:
    """What moto lacks to answer a Query or a Scan page without walking the table: the partition keys in
    order, and each secondary index's items by index key. Kept by every write (put, delete, update,
    rollback); built from the table's items when a table without one (or whose indexes changed) is used."""

    built_for: dict[str, tuple[tuple[str, str], ...]]
    count: int = 0  # items in the table (moto counts them all for each DescribeTable)
    hash_order: Any = field(default_factory=lambda: SortedList())  # partition keys' plain values
    secondary: dict[str, _SecondaryIndex] = field(default_factory=dict)

    def add_partition(self, plain: Any) -> None:
        if plain not in self.hash_order:
            self.hash_order.add(plain)


def _schemas(table: Any) -> dict[str, tuple[tuple[str, str], ...]]:
    return {
        index.name: tuple((key["AttributeName"], key["KeyType"]) for key in index.schema)
        for index in [*(table.global_indexes or []), *(table.indexes or [])]
    }


def _index_of(table: Any) -> _TableIndex:
    """The table's index, built now when it has none (a new table, or one restored from a backup) or when
    its secondary indexes changed (UpdateTable)."""
    index: _TableIndex | None = table.__dict__.get("_localdev_index")
    schemas = _schemas(table)
    if index is not None and index.built_for == schemas:
        return index
    index = _TableIndex(built_for=schemas)
    for name, schema in schemas.items():
        hashes = [attr for attr, kind in schema if kind == "HASH"]
        ranges = [attr for attr, kind in schema if kind == "RANGE"]
        if len(hashes) == 1 and len(ranges) <= 1:  # an index keyed by several attributes: moto's walk
            index.secondary[name] = _SecondaryIndex(hashes[0], ranges[0] if ranges else None)
    for item in _walk(table):
        index.count += 1
        primary = _primary(item.hash_key, item.range_key)
        index.add_partition(primary[0])
        for secondary in index.secondary.values():
            secondary.add(primary, item)
    table.__dict__["_localdev_index"] = index
    return index


def _walk(table: Any) -> Iterator[Any]:
    """Every item of the table, in no particular order."""
    for part in list(table.items.values()):
        if table.range_key_attr:
            yield from list(part.values())
        else:
            yield part


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The item stored under a key, or None (without creating the partition, as moto's get_item does)."""
    part = table.items.get(hash_key)
    if part is None:
        return None
    if table.range_key_attr:
        return part.get(range_key)
    return part


def _reindex(table: Any, hash_key: Any, range_key: Any, existed: bool | None = None) -> None:
    """Bring the table's index up to date with whatever is stored under this key now; ``existed``: whether
    an item was stored there before the write (None: the write did not add or remove one)."""
    index = _index_of(table)
    item = _stored(table, hash_key, range_key)
    if existed is not None:
        index.count += (item is not None) - existed
    primary = _primary(hash_key, range_key)
    if item is not None:
        index.add_partition(primary[0])
    for secondary in index.secondary.values():
        secondary.remove(primary)
        if item is not None:
            secondary.add(primary, item)


# -- writes ----------------------------------------------------------------------------------------------
def _table_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    _index_of(self)  # built before the write, if it has to be
    existed = False
    if self.hash_key_attr in item_attrs and (not self.range_key_attr or self.range_key_attr in item_attrs):
        ranged = DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None
        existed = _stored(self, DynamoType(item_attrs[self.hash_key_attr]), ranged) is not None
    item = _original("Table", "put_item")(self, item_attrs, *args, **kwargs)
    shared = _shared_key(item.range_key)
    if shared is not item.range_key:  # stored under the shared sort key object (memory)
        part = self.items[item.hash_key]
        del part[item.range_key]
        part[shared] = item
        item.range_key = shared
    _reindex(self, item.hash_key, item.range_key, existed)
    return item


_shared_keys: dict[str, Any] = {}
SHARED_KEY_LENGTH = 40
SHARED_KEYS = 10_000


def _shared_key(value: Any) -> Any:
    """One DynamoType object for each short string sort key (``PROFILE``, ``CLAIM``, ``SESSION``,
    ``ROLE#app0#l0``...), shared by every item that has it: 150 bytes an item. moto never changes a
    key in place."""
    if value is None or value.type != "S" or len(value.value) > SHARED_KEY_LENGTH:
        return value
    shared = _shared_keys.get(value.value)
    if shared is None:
        if len(_shared_keys) >= SHARED_KEYS:
            return value
        shared = _shared_keys.setdefault(value.value, value)
    return shared


def _table_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
    _index_of(self)  # built before the write, if it has to be
    deleted = _original("Table", "delete_item")(self, hash_key, range_key)
    _reindex(self, hash_key, range_key, existed=deleted is not None)
    return deleted


def _table_len(self: Any) -> int:
    """The table's item count, kept by every write (moto counts every partition for each DescribeTable)."""
    return _index_of(self).count if narrowing else int(_original("Table", "__len__")(self))


def _update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """moto's UpdateItem changes the stored item in place: index it again afterwards, whatever happened."""
    try:
        return _original("DynamoDBBackend", "update_item")(self, table_name, key, *args, **kwargs)
    finally:
        table = self.tables.get(table_name)
        if table is not None and table.hash_key_attr in key:
            try:
                hash_key, range_key = self.get_keys_value(table, key)
            except Exception:  # noqa: S110 - an invalid key wrote nothing; moto has raised for it already
                pass
            else:
                _reindex(table, hash_key, range_key)


@dataclass
class _Undo:
    """The state before a transaction of every item it writes: enough to put them back, nothing more."""

    entries: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)  # table, hash, range, item or None
    streams: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def remember(self, table: Any, hash_key: Any, range_key: Any) -> None:
        before = _stored(table, hash_key, range_key)
        # UpdateItem changes the stored object in place, so the undo log keeps its own copy of it
        self.entries.append((table, hash_key, range_key, copy.deepcopy(before) if before is not None else None))
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))

    def rollback(self) -> None:
        for table, hash_key, range_key, before in reversed(self.entries):
            existed = _stored(table, hash_key, range_key) is not None
            if before is None:
                if table.range_key_attr:
                    part = table.items.get(hash_key)
                    if part is not None:
                        part.pop(range_key, None)
                else:
                    table.items.pop(hash_key, None)
            elif table.range_key_attr:
                table.items[hash_key][range_key] = before
            else:
                table.items[hash_key] = before
            _reindex(table, hash_key, range_key, existed)
        for shard, length in self.streams.values():
            del shard.items[length:]  # the stream records of writes that did not happen
        self.entries.clear()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's ``DynamoDBBackend.transact_write_items``, with the rollback done by an undo log of the
    items written instead of a deep copy of every table named (taken again for each item)."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression, expression_attribute_names, expression_attribute_values
                    )
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    table = self.get_table(table_name)
                    undo.remember(table, *self.get_keys_value(table, key))
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
            except Exception as e:
                errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    except BaseException:
        undo.rollback()
        raise
    if any(code is not None for code, _, _ in errors):
        undo.rollback()
        raise TransactionCanceledException(errors)


# -- ClientRequestToken ----------------------------------------------------------------------------------
@dataclass
class _Tokens:
    """Tokens of committed transactions, oldest first: token -> (fingerprint of the request, when)."""

    seen: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)

    def forget_old(self, now: float) -> None:
        while self.seen:
            token, (_, at) = next(iter(self.seen.items()))
            if now - at < TOKEN_SECONDS:
                break
            del self.seen[token]


def _fingerprint(body: dict[str, Any]) -> str:
    request = {name: value for name, value in body.items() if name != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _handler_transact_write_items(self: Any) -> Any:
    """``TransactWriteItems`` with its ``ClientRequestToken``: a request repeated with the token of a
    transaction committed less than 10 minutes ago succeeds without writing again; another request with
    that token fails with ``IdempotentParameterMismatchException`` (DynamoDB's documented behaviour).
    Only committed transactions keep their token: a cancelled one can be retried with it."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    token = self.body.get("ClientRequestToken")
    if not token:
        return _original("DynamoHandler", "transact_write_items")(self)
    backend = self.dynamodb_backend
    tokens: _Tokens = backend.__dict__.setdefault("_localdev_tokens", _Tokens())
    fingerprint = _fingerprint(self.body)
    now = clock()
    tokens.forget_old(now)
    seen = tokens.seen.get(token)
    if seen is not None and now - seen[1] >= TOKEN_SECONDS:
        seen = None
    if seen is not None:
        if seen[0] != fingerprint:
            error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"
            raise DynamodbException(
                error_type, "The request uses the same client token as a previous, but non-identical request."
            )
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    result = _original("DynamoHandler", "transact_write_items")(self)
    tokens.seen[token] = (fingerprint, clock())
    tokens.seen.move_to_end(token)
    return result


# -- reads -----------------------------------------------------------------------------------------------
_override = threading.local()


@contextmanager
def _candidates(table: Any, method: str, items: Iterable[Any] | None) -> Iterator[None]:
    """While moto's query or scan runs on ``table`` in this thread, its ``all_items()`` or
    ``has_idx_items()`` (``method``) returns ``items`` (None: moto's own walk)."""
    if items is None:
        yield
        return
    previous = getattr(_override, "value", None)
    _override.value = (table, method, items)
    try:
        yield
    finally:
        _override.value = previous


def _overridden(table: Any, method: str) -> Iterable[Any] | None:
    value = getattr(_override, "value", None)
    if value is not None and value[0] is table and value[1] == method:
        return value[2]  # type: ignore[no-any-return]
    return None


def _all_items(self: Any) -> Any:
    items = _overridden(self, "all_items")
    return _original("Table", "all_items")(self) if items is None else items


def _has_idx_items(self: Any, index_name: str) -> Any:
    items = _overridden(self, "has_idx_items")
    return _original("Table", "has_idx_items")(self, index_name) if items is None else list(items)


def _query(
    self: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> Any:
    """moto's query over the items of one partition (or one index key), not over the whole table."""
    candidates = (
        None
        if not narrowing
        else _query_candidates(
            self,
            hash_key,
            index_name,
            hash_key_conditions,
            range_key_conditions,
            exclusive_start_key,
            scan_index_forward is not False,
            limit,
            filter_kwargs,
        )
    )
    with _candidates(self, "all_items", candidates):
        return _original("Table", "query")(
            self,
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
            hash_key_conditions=hash_key_conditions,
            range_key_conditions=range_key_conditions,
            **filter_kwargs,
        )


def _query_candidates(
    table: Any,
    hash_key: Any,
    index_name: str | None,
    conditions: list[tuple[str, Any]] | None,
    range_conditions: list[tuple[str, str, list[Any]]] | None,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    limit: int | None,
    filter_kwargs: dict[str, Any],
) -> list[Any] | None:
    """The only items moto's query needs to see to answer as it would after walking the whole table
    (it filters, orders and cuts them as before); None: let moto walk them all.

    On the table: the key's partition. On an index: that index key's items, ordered by the index sort key
    (then the table's keys, as moto orders them), from the ``ExclusiveStartKey`` on, matching the sort key
    condition, ``Limit`` of them and the one after (so that moto sets ``LastEvaluatedKey`` as it would).
    """
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not index_name:
        if hash_key is None:
            return None
        part = table.items.get(hash_key)
        if part is None:
            return []
        return list(part.values()) if table.range_key_attr else [part]
    secondary = _index_of(table).secondary.get(index_name)
    if secondary is None or not conditions or len(conditions) != 1 or conditions[0][0] != secondary.hash_attr:
        return None
    if secondary.range_attr is None or filter_kwargs or len(range_conditions or []) > 1:
        return None
    value = conditions[0][1]
    if value.type not in ("S", "N", "B"):
        return None
    bucket = secondary.buckets.get(_key(value), {})
    try:
        entries = sorted(
            ((_cast(*ranged), *primary), item, ranged)
            for primary, (item, ranged) in bucket.items()
            if ranged is not None  # DynamoDB indexes only items with every key attribute
        )
    except TypeError:  # sort key values of mixed types: leave it to moto
        return None
    if not forward:
        entries.reverse()
    if exclusive_start_key:
        try:
            start = (
                _plain_of(exclusive_start_key[secondary.range_attr]),
                _plain_of(exclusive_start_key[table.hash_key_attr]),
                _plain_of(exclusive_start_key[table.range_key_attr]) if table.range_key_attr else None,
            )
        except KeyError:
            return None
        keys = [entry[0] for entry in entries]
        entries = entries[bisect.bisect_right(keys, start) if forward else _bisect_right_descending(keys, start) :]
    comparison = range_conditions[0] if range_conditions else None
    if comparison is not None and comparison[0] != secondary.range_attr:
        return None
    chosen: list[Any] = []
    matched = 0
    for _, item, (kind, value) in entries:
        if limit is not None and matched >= limit:
            chosen.append(item)  # moto sets LastEvaluatedKey on meeting one more item
            break
        if comparison is not None and not DynamoType({kind: value}).compare(comparison[1], comparison[2]):
            if matched and kind in ("S", "N"):
                break  # a key condition selects one run of the sort order: nothing further matches
            continue
        chosen.append(item)
        matched += 1
    return chosen


def _plain_of(value: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(value).cast_value


def _bisect_right_descending(keys: list[Any], start: Any) -> int:
    """In keys sorted high to low, the position of the first key below ``start``."""
    low, high = 0, len(keys)
    while low < high:
        middle = (low + high) // 2
        if keys[middle] < start:
            high = middle
        else:
            low = middle + 1
    return low


def _scan(
    self: Any,
    filters: dict[str, Any],
    limit: int,
    exclusive_start_key: dict[str, Any],
    filter_expression: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    projection_expression: list[list[str]] | None = None,
    segments: Any = (None, None),
) -> Any:
    """moto's scan, with a page starting at its ``ExclusiveStartKey`` instead of after a walk and a sort
    of the whole table; on an index, over that index's items only."""
    items: Iterable[Any] | None = None
    if not narrowing:
        method = "all_items"
    elif index_name:
        secondary = _index_of(self).secondary.get(index_name)
        if secondary is not None:
            items = [
                item
                for bucket in secondary.buckets.values()
                for item, ranged in bucket.values()
                if ranged is not None or secondary.range_attr is None
            ]
        method = "has_idx_items"
    else:
        items = _in_key_order(self, exclusive_start_key)
        method = "all_items"
    with _candidates(self, method, items):
        return _original("Table", "scan")(
            self,
            filters,
            limit,
            exclusive_start_key,
            filter_expression,
            index_name,
            consistent_read,
            projection_expression,
            segments=segments,
        )


def _in_key_order(table: Any, start: dict[str, Any] | None) -> Iterator[Any]:
    """The table's items in moto's scan order (partition key, then sort key), from the partition of
    ``start`` on (moto's scan skips what comes before ``start`` in it), produced as the page needs them."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    order = _index_of(table).hash_order
    first = DynamoType(start[table.hash_key_attr]).cast_value if start and table.hash_key_attr in start else None
    for plain in order.irange(minimum=first) if first is not None else iter(order):
        part = table.items.get(DynamoType({table.hash_key_type: plain}))
        if part is None:
            continue
        if table.range_key_attr:
            yield from sorted(part.values(), key=lambda item: item.range_key)
        else:
            yield part


# -- bulk load and dump (the local data snapshot, seeding) -----------------------------------------------
def load_items(table: Any, items: Iterable[dict[str, Any]]) -> int:
    """Put items (AttributeValue JSON maps, as a snapshot or a seed holds them) straight into ``table``:
    each replaces the item with its key, as PutItem does, without the per-request work (parsing,
    validation: the items were written by DynamoDB or by the code before). Returns how many."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    if not _applied:  # moto as released: its own put
        count = 0
        for attrs in items:
            table.put_item(attrs)
            count += 1
        return count
    index = _index_of(table)
    count = 0
    for attrs in items:
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = _shared_key(DynamoType(attrs[table.range_key_attr])) if table.range_key_attr else None
        index.count += _stored(table, hash_key, range_key) is None
        item: Any = object.__new__(Item)
        item.hash_key, item.range_key = hash_key, range_key
        item._a, item._p = None, json.dumps(attrs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item
        primary = _primary(hash_key, range_key)
        index.add_partition(primary[0])
        for secondary in index.secondary.values():
            secondary.remove(primary)
            secondary.add(primary, item, attrs)
        count += 1
    return count


def dump_items(table: Any) -> list[bytes]:
    """Every item of ``table`` as AttributeValue JSON (UTF-8, binary as base64), in no particular order.

    Packed items are their own JSON: this takes O(items) references and no copy, so the caller can hold
    the server's lock while it runs and write the file after releasing it.
    """
    import base64

    def encoded(item: Any) -> bytes:
        packed = getattr(item, "_p", None)
        if packed is not None:
            return packed  # type: ignore[no-any-return]
        attrs = item.to_json()["Attributes"]
        return json.dumps(
            attrs, ensure_ascii=False, separators=(",", ":"), default=lambda raw: base64.b64encode(raw).decode()
        ).encode("utf-8")

    return [encoded(item) for item in _walk(table)]
