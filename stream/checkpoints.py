"""Checkpoints of partition state in a compacted Kafka topic: writing and finding them.

A checkpoint of events partition ``p`` is written to partition ``p`` (modulo the topic's
partition count) of the checkpoints topic as

- chunks ``p<p>/<epoch>/<i>``: the snapshot bytes (``stream.snapshot``) cut into pieces of
  at most ``chunk_bytes``, then
- the manifest ``p<p>/manifest``: JSON naming the epoch, the events offset the state ends
  before, the Kafka offsets, total size and CRC-32 of the chunks, then
- tombstones for the chunks of the epoch this one replaces.

A manifest is only written after all of its chunks were acknowledged, so a manifest always
names complete chunks; compaction keeps the newest manifest per partition, and the chunks
of an epoch are never overwritten (each epoch has its own keys), only deleted once a newer
manifest exists. Readers find the newest manifest by scanning back from the end of the
partition (it sits behind at most the previous epoch's tombstones) and then read its chunks
by offset.
"""

from __future__ import annotations

import logging
import secrets
import time
import zlib
from collections.abc import Mapping
from typing import Any

from contract.checkpoints import (
    Manifest,
    decode_manifest,
    encode_manifest,
    key_prefix,
    manifest_key,
    piece_key,
)
from stream.clients import partitions_of, started_consumer

__all__ = ["CheckpointStore"]

logger = logging.getLogger(__name__)


class CheckpointStore:
    """Writes and reads partition checkpoints on one Kafka topic (aiokafka, created lazily)."""

    def __init__(self, connect: Mapping[str, Any], topic: str, chunk_bytes: int) -> None:
        if chunk_bytes <= 0:
            raise ValueError("chunk_bytes must be positive")
        self._connect = dict(connect)
        self._topic = topic
        self._chunk_bytes = chunk_bytes
        self._producer: Any = None
        self._replaced: dict[int, list[bytes]] = {}
        """Per events partition, chunk keys to delete once the next manifest is written."""

    async def _ensure_producer(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                **self._connect,
                acks="all",
                max_request_size=self._chunk_bytes + 64 * 1024,
                linger_ms=5,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _topic_partition(self, partition: int) -> int:
        producer = await self._ensure_producer()
        partitions = await producer.partitions_for(self._topic)
        return partition % max(1, len(partitions))

    async def write(self, partition: int, offset: int, data: bytes) -> Manifest:
        """Store one checkpoint; return its manifest once every record is acknowledged."""
        from stream.snapshot import split_chunks

        producer = await self._ensure_producer()
        target = await self._topic_partition(partition)
        epoch = f"{offset}-{secrets.token_hex(4)}"
        old = self._replaced.get(partition, [])
        written: list[bytes] = []
        offsets: list[int] = []
        try:
            for index, piece in enumerate(split_chunks(data, self._chunk_bytes)):
                key = piece_key(partition, epoch, index)
                meta = await producer.send_and_wait(self._topic, piece, key=key, partition=target)
                written.append(key)
                offsets.append(meta.offset)
            manifest = Manifest(
                partition=partition,
                epoch=epoch,
                offset=offset,
                chunks=tuple(offsets),
                size=len(data),
                crc32=zlib.crc32(data),
                written_at=int(time.time() * 1000),
            )
            await producer.send_and_wait(
                self._topic,
                encode_manifest(manifest),
                key=manifest_key(partition),
                partition=target,
            )
            for key in old:
                await producer.send(self._topic, None, key=key, partition=target)
            await producer.flush()
        except BaseException:
            # Whichever checkpoint is in force now, the next write's tombstones (sent only
            # after its manifest) delete both the replaced pieces and any written here.
            self._replaced[partition] = old + written
            raise
        self._replaced[partition] = written
        return manifest

    async def load(self, partition: int) -> tuple[Manifest, bytes] | None:
        """The newest complete checkpoint of an events partition, or None if there is none."""
        from aiokafka import TopicPartition

        consumer = await started_consumer(
            self._connect,
            max_partition_fetch_bytes=self._chunk_bytes + 64 * 1024,
            fetch_max_bytes=4 * (self._chunk_bytes + 64 * 1024),
        )
        try:
            partitions = await partitions_of(consumer, self._topic)
            if not partitions:
                return None
            tp = TopicPartition(self._topic, partition % len(partitions))
            consumer.assign([tp])
            begin = (await consumer.beginning_offsets([tp]))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            found = await self._find_manifest(consumer, tp, partition, begin, end)
            if found is None:
                return None
            manifest, stale = found
            data = await self._read_chunks(consumer, tp, manifest)
            if data is None:
                return None
            own = {piece_key(partition, manifest.epoch, i) for i in range(len(manifest.chunks))}
            self._replaced[partition] = sorted(own | stale)
            return manifest, data
        finally:
            await consumer.stop()

    async def _records(self, consumer: Any, tp: Any, start: int, stop: int) -> Any:
        consumer.seek(tp, start)
        empty = 0
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            records = batch.get(tp, [])
            if not records:
                # Compaction may have removed the last offsets before ``stop``.
                empty += 1
                if empty >= 3:
                    return
                continue
            empty = 0
            for record in records:
                if record.offset >= stop:
                    return
                yield record

    async def _find_manifest(
        self, consumer: Any, tp: Any, partition: int, begin: int, end: int
    ) -> tuple[Manifest, set[bytes]] | None:
        wanted = manifest_key(partition)
        prefix = key_prefix(partition)
        stale: set[bytes] = set()
        deleted: set[bytes] = set()
        window = 16
        stop = end
        while stop > begin:
            start = max(begin, stop - window)
            newest: Manifest | None = None
            async for record in self._records(consumer, tp, start, stop):
                if record.key == wanted and record.value is not None:
                    try:
                        newest = decode_manifest(record.value)
                    except ValueError as exc:
                        logger.warning("skipping checkpoint manifest at %d: %s", record.offset, exc)
                elif record.key is not None and record.key.startswith(prefix):
                    # A deleted piece is stale no more, whichever of the two was read
                    # first (windows are read newest first, each oldest first).
                    if record.value is None:
                        deleted.add(record.key)
                        stale.discard(record.key)
                    elif record.key not in deleted:
                        stale.add(record.key)
            if newest is not None:
                own = key_prefix(partition, newest.epoch)
                return newest, {key for key in stale if not key.startswith(own)}
            stop = start
            window *= 2
        return None

    async def _read_chunks(self, consumer: Any, tp: Any, manifest: Manifest) -> bytes | None:
        if not manifest.chunks:
            return None
        pieces: dict[int, bytes] = {}
        wanted = {
            offset: piece_key(manifest.partition, manifest.epoch, i)
            for i, offset in enumerate(manifest.chunks)
        }
        async for record in self._records(
            consumer, tp, min(manifest.chunks), max(manifest.chunks) + 1
        ):
            key = wanted.get(record.offset)
            if key is not None and record.key == key and record.value is not None:
                pieces[record.offset] = record.value
        if len(pieces) != len(wanted):
            logger.warning(
                "checkpoint %s of partition %d is incomplete (%d of %d chunks)",
                manifest.epoch,
                manifest.partition,
                len(pieces),
                len(wanted),
            )
            return None
        data = b"".join(pieces[offset] for offset in manifest.chunks)
        if len(data) != manifest.size or zlib.crc32(data) != manifest.crc32:
            logger.warning("checkpoint %s does not match its checksum", manifest.epoch)
            return None
        return data

    async def stop(self) -> None:
        """Close the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
