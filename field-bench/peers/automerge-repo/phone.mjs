// A phone of the field benchmark on automerge-repo: a Repo with file storage and the
// websocket client adapter, as automerge-repo's README shows. One run, one job:
//   node phone.mjs prepare   URL DIR IDS_JSON           fetch these documents, keep them
//   node phone.mjs week      URL DIR WEEK_BUNDLE IDS_MAP
//        the week offline: apply it to the stored documents with no network, then on "go"
//        connect and time until the server acknowledged it all; on "stop" shut down
//   node phone.mjs new-phone URL DIR INDEX_ID           fetch everything the index lists
//   node phone.mjs many      URL DIR PLAN WEEK_BUNDLE   many phones in this process, each
//        with its own Repo, storage (DIR/<n>) and websocket; commands on stdin
// Prints JSON lines (see field-bench/src/peer.rs).
import { readFileSync } from "node:fs"
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { commands, nextCommand, nowMs, peakRssKb, readBundle, run, say, untilStored } from "./common.mjs"

const [job, url, dir, ...rest] = process.argv.slice(2)
const TIMEOUT_MS = 3_600_000
// With thousands of requests at once, automerge-repo 2.5.6's server answers some of them
// "unavailable": finds are kept to this many at a time.
const FIND_CONCURRENCY = Number(process.env.FIELD_BENCH_FIND_CONCURRENCY ?? 64)

run(`phone (${job})`, async () => {
  if (!url || !dir) throw new Error("usage: node phone.mjs JOB URL DIR ...")
  if (job === "prepare") await prepare(rest[0])
  else if (job === "week") await week(rest[0], rest[1])
  else if (job === "new-phone") await newPhone(rest[0])
  else if (job === "many") await many(rest[0], rest[1])
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
  await findAll(repo, ids)
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
  const synced = acknowledged(handles, startedAt + TIMEOUT_MS)
  repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(url))
  await synced
  say({ event: "synced", ms: nowMs() - startedAt })
  if ((await nextCommand(lines)) !== "stop") throw new Error("expected `stop`")
  await repo.shutdown()
  say({ event: "stopped", peak_rss_kb: peakRssKb() })
}

// Resolves once the server's heads, as its sync messages report them (`remote-heads`),
// equal ours for every handle. Subscribe before connecting.
function acknowledged(handles, deadline) {
  return Promise.all(
    handles.map(
      handle =>
        new Promise((resolve, reject) => {
          const onHeads = ({ heads }) => {
            if (same(heads, handle.heads())) finish(resolve)
          }
          const timer = setTimeout(
            () => finish(() => reject(new Error(`${handle.documentId} not acknowledged in time`))),
            Math.max(0, deadline - nowMs()),
          )
          const finish = then => {
            clearTimeout(timer)
            handle.off("remote-heads", onHeads)
            then()
          }
          handle.on("remote-heads", onHeads)
        }),
    ),
  )
}

function same(a, b) {
  return !!a && !!b && a.length === b.length && a.every(h => b.includes(h))
}

async function newPhone(indexId) {
  const startedAt = nowMs()
  const repo = online()
  const index = await repo.find(indexId)
  const ids = index.doc().docs
  await findAll(repo, ids)
  const ms = nowMs() - startedAt
  say({ event: "done", ms, docs: ids.length + 1, peak_rss_kb: peakRssKb() })
  await repo.shutdown()
}

// Many phones, driven by the bench: `prepare` (each fetches its scope), then per `day`
// each applies its day offline, and on `go` connects after its delay; the day's answer
// lists each phone's time from connecting to the server's acknowledgement of everything.
async function many(planFile, weekBundle) {
  const plan = JSON.parse(readFileSync(planFile, "utf8"))
  const week = readBundle(weekBundle)
  const lines = commands()
  for (;;) {
    const command = JSON.parse(await nextCommand(lines))
    if (command.cmd === "prepare") {
      // Setup, one phone at a time: many at once make the server answer "unavailable".
      for (const [n, phone] of plan.phones.entries()) {
        const storage = new NodeFSStorageAdapter(`${dir}/${n}`)
        const repo = online(storage)
        await findAll(repo, phone.scope)
        await repo.shutdown()
        await untilStored(storage, phone.scope)
      }
      say({ event: "prepared", phones: plan.phones.length })
    } else if (command.cmd === "day") {
      const phones = []
      for (const [n, phone] of plan.phones.entries()) {
        const repo = new Repo({ storage: new NodeFSStorageAdapter(`${dir}/${n}`), network: [] })
        const handles = await Promise.all(phone.scope.map(id => repo.find(id)))
        const day = phone.days[command.day]
        for (const [id, record] of day.edits) {
          const handle = handles[phone.scope.indexOf(id)]
          handle.update(doc => A.loadIncremental(doc, week[record].data))
        }
        for (const record of day.new) handles.push(repo.import(week[record].data))
        phones.push({ repo, handles })
      }
      await Promise.all(phones.map(p => p.repo.flush()))
      say({ event: "ready" })
      if ((await nextCommand(lines)) !== "go") throw new Error("expected `go`")
      const start = nowMs()
      const runs = await Promise.all(
        phones.map(async ({ repo, handles }, n) => {
          const delay = start + command.delays_ms[n] - nowMs()
          if (delay > 0) await new Promise(resolve => setTimeout(resolve, delay))
          const began = nowMs()
          const synced = acknowledged(handles, began + TIMEOUT_MS)
          repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(url))
          await synced
          const acknowledgedAt = nowMs()
          // Done: the phone leaves, as ours do once their sync returns, rather than holding
          // its connection open while the others sync.
          await repo.shutdown()
          return { took: acknowledgedAt - began, acknowledgedAt }
        }),
      )
      // The day's wall time ends at the last acknowledgement, not the last shutdown.
      const wall = Math.max(...runs.map(r => r.acknowledgedAt)) - start
      say({ event: "day", took_ms: runs.map(r => r.took), wall_ms: wall })
    } else if (command.cmd === "stop") {
      say({ event: "stopped", peak_rss_kb: peakRssKb() })
      return
    } else {
      throw new Error(`unknown command ${JSON.stringify(command)}`)
    }
  }
}

// Finds every document, at most FIND_CONCURRENCY at a time.
async function findAll(repo, ids) {
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]
      await repo.find(id)
    }
  }
  await Promise.all(Array.from({ length: Math.min(FIND_CONCURRENCY, ids.length) }, worker))
}
