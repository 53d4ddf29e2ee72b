/**
 * The history's worker thread: all of its SQLite work, on its own connection to the hub's database
 * (WAL lets the main thread keep another for the device registry), so that commits, their WAL
 * checkpoints, retention and queries never stall the main thread's event loop. Started by
 * HistoryStore (history.ts); the messages are in history-protocol.ts, the SQL in history-sql.ts.
 *
 * Messages are handled one at a time in the order sent, so a query sees every commit handed off
 * before it. Samples of a failed commit stay here and go with the next one, up to
 * `maxPendingSamples`; past that the oldest are dropped and counted.
 */
import { performance } from "node:perf_hooks";
import { parentPort, type TransferListItem, workerData } from "node:worker_threads";
import { HubError } from "../core/errors.ts";
import type { ChannelSamples, FromWorker, ToWorker, WorkerInit } from "./history-protocol.ts";
import { HistoryDb, type LooseSamples } from "./history-sql.ts";

const port =
  parentPort ??
  (() => {
    throw new Error("history-worker.ts runs only as a worker thread (see HistoryStore)");
  })();
const init = workerData as WorkerInit;
const post = (message: FromWorker, transfer: TransferListItem[] = []): void => port.postMessage(message, transfer);

/** Hand-offs whose commit failed, oldest first; each is retried with the next commit. */
const pending: ChannelSamples[][] = [];
let pendingSamples = 0;

const sizeOf = (batch: readonly ChannelSamples[]): number => batch.reduce((n, ch) => n + (ch.end - ch.start) / 2, 0);

/** Drops whole oldest hand-offs, and then the oldest part of each channel of the next, down to 90% of the bound. */
function dropOldest(): number {
  if (pendingSamples <= init.maxPendingSamples) return 0;
  let excess = pendingSamples - Math.floor(init.maxPendingSamples * 0.9);
  let dropped = 0;
  while (excess > 0 && pending.length > 0) {
    const oldest = pending[0] ?? [];
    const size = sizeOf(oldest);
    if (size <= excess) {
      pending.shift();
      dropped += size;
      excess -= size;
      continue;
    }
    for (const ch of oldest) {
      const n = (ch.end - ch.start) / 2;
      const k = Math.min(n, Math.ceil((n * excess) / size));
      ch.start += k * 2;
      dropped += k;
    }
    break;
  }
  pendingSamples -= dropped;
  return dropped;
}

function handle(db: HistoryDb, msg: ToWorker): void {
  switch (msg.type) {
    case "commit": {
      pending.push(msg.channels);
      pendingSamples += sizeOf(msg.channels);
      if (pendingSamples === 0) {
        pending.length = 0;
        return post({ type: "committed", id: msg.id, samples: 0, commitMs: 0, dbBytes: null });
      }
      const started = performance.now();
      try {
        const samples = db.commit(pending);
        pending.length = 0;
        pendingSamples = 0;
        post({ type: "committed", id: msg.id, samples, commitMs: performance.now() - started, dbBytes: db.dbBytes() });
      } catch (error) {
        const droppedSamples = dropOldest();
        post({ type: "commitFailed", id: msg.id, error: (error as Error).message, pendingSamples, droppedSamples });
      }
      return;
    }
    case "prune": {
      let error: string | null = null;
      try {
        db.prune(msg.rawBefore, msg.minuteBefore);
      } catch (e) {
        error = (e as Error).message;
      }
      return post({ type: "pruned", id: msg.id, error, dbBytes: db.dbBytes() });
    }
    case "query": {
      const q = msg.query;
      const loose: LooseSamples[] = [];
      for (const batch of pending) for (const ch of batch) if (ch.device === q.device && ch.channel === q.channel) loose.push(ch);
      loose.push({ data: msg.buffered, start: 0, end: msg.buffered.length });
      try {
        const answer = db.query(q, loose);
        return post({ type: "answer", id: msg.id, ...answer }, [answer.points.buffer]);
      } catch (error) {
        if (error instanceof HubError) return post({ type: "refused", id: msg.id, code: error.code, message: error.message });
        return post({ type: "refused", id: msg.id, code: "STORAGE_FAILED", message: `history query failed: ${(error as Error).message}` });
      }
    }
    case "stop": {
      db.close();
      post({ type: "stopped", id: msg.id, lostSamples: pendingSamples });
      // Nothing else keeps the thread alive: it exits once the reply is on its way.
      return port.close();
    }
  }
}

function open(): HistoryDb | null {
  try {
    return HistoryDb.open(init);
  } catch (error) {
    post({ type: "failed", message: (error as Error).message });
    process.exitCode = 1;
    port.close();
    return null;
  }
}

const db = open();
if (db !== null) {
  port.on("message", (msg: ToWorker) => handle(db, msg));
  post({ type: "ready", dbBytes: db.dbBytes() });
}
