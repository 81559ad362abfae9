// A phone of the field benchmark on automerge-repo: a Repo with file storage and the
// websocket client adapter, as automerge-repo's README shows. One run, one job:
//   node phone.mjs prepare   URL DIR IDS_JSON           fetch these documents, keep them
//   node phone.mjs week      URL DIR WEEK_BUNDLE IDS_MAP
//        the week offline: apply it to the stored documents with no network, then on "go"
//        connect and time until the server acknowledged it all; on "stop" shut down
//   node phone.mjs new-phone URL DIR INDEX_ID           fetch everything the index lists
// Prints JSON lines (see field-bench/src/peer.rs).
import { readFileSync } from "node:fs"
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { commands, nextCommand, nowMs, peakRssKb, readBundle, run, say, untilStored } from "./common.mjs"

const [job, url, dir, ...rest] = process.argv.slice(2)
const POLL_MS = 5
const TIMEOUT_MS = 3_600_000

run(`phone (${job})`, async () => {
  if (!url || !dir) throw new Error("usage: node phone.mjs JOB URL DIR ...")
  if (job === "prepare") await prepare(rest[0])
  else if (job === "week") await week(rest[0], rest[1])
  else if (job === "new-phone") await newPhone(rest[0])
  else throw new Error(`unknown job ${job}`)
})

function online(storage = new NodeFSStorageAdapter(dir)) {
  return new Repo({
    storage,
    network: [new WebSocketClientAdapter(url)],
  })
}

// Setup: the documents the week will touch, synced once, as on a phone in use.
async function prepare(idsFile) {
  const ids = JSON.parse(readFileSync(idsFile, "utf8"))
  const storage = new NodeFSStorageAdapter(dir)
  const repo = online(storage)
  await Promise.all(ids.map(id => repo.find(id)))
  await repo.shutdown()
  await untilStored(storage, ids)
  say({ event: "prepared", docs: ids.length })
}

async function week(bundle, idsFile) {
  const ids = JSON.parse(readFileSync(idsFile, "utf8"))
  const repo = new Repo({ storage: new NodeFSStorageAdapter(dir), network: [] })
  const handles = []
  for (const { head, data } of readBundle(bundle)) {
    if (head.new) {
      handles.push(repo.import(data))
    } else {
      const id = ids[head.id]
      if (!id) throw new Error(`the week edits ${head.id}, which the server never imported`)
      const handle = await repo.find(id)
      handle.update(doc => A.loadIncremental(doc, data))
      handles.push(handle)
    }
  }
  await repo.flush()
  say({ event: "ready", docs: handles.length })
  const lines = commands()
  if ((await nextCommand(lines)) !== "go") throw new Error("expected `go`")
  const startedAt = nowMs()
  repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(url))
  // Done when the server's heads, as its sync messages report them, are ours everywhere.
  const deadline = startedAt + TIMEOUT_MS
  let storageId
  let waiting = handles.length
  while (nowMs() < deadline) {
    storageId ??= repo.peers.map(p => repo.getStorageIdOfPeer(p)).find(Boolean)
    if (storageId) {
      waiting = handles.filter(h => !same(h.getSyncInfo(storageId)?.lastHeads, h.heads())).length
      if (waiting === 0) break
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
  if (waiting > 0) throw new Error(`${waiting} documents not acknowledged by the server in time`)
  say({ event: "synced", ms: nowMs() - startedAt })
  if ((await nextCommand(lines)) !== "stop") throw new Error("expected `stop`")
  await repo.shutdown()
  say({ event: "stopped", peak_rss_kb: peakRssKb() })
}

function same(a, b) {
  return !!a && !!b && a.length === b.length && a.every(h => b.includes(h))
}

async function newPhone(indexId) {
  const startedAt = nowMs()
  const repo = online()
  const index = await repo.find(indexId)
  const ids = index.doc().docs
  await Promise.all(ids.map(id => repo.find(id)))
  const ms = nowMs() - startedAt
  say({ event: "done", ms, docs: ids.length + 1, peak_rss_kb: peakRssKb() })
  await repo.shutdown()
}
