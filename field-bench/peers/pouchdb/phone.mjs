// A phone of the field benchmark on PouchDB: `pouchdb-node` 9.0.0 (LevelDB storage)
// replicating with the server's database over the CouchDB replication protocol, as
// PouchDB's guide shows. One run, one job:
//   node phone.mjs [--out-of-the-box] JOB URL DIR ...
//   prepare   URL DIR IDS_JSON           pull these documents, keep them
//   week      URL DIR WEEK_BUNDLE IDS_MAP
//        the week offline: write it to the stored documents with no network, then on "go"
//        push it and time until the server has acknowledged it all; on "stop" close
//   new-phone URL DIR INDEX_ID           pull everything the index lists
//   many      URL DIR PLAN WEEK_BUNDLE   many phones in this process, each with its own
//        database (DIR/<n>); commands on stdin
// URL is the bench's `ws://host:port`: the same address, spoken to over HTTP.
// Prints JSON lines (see field-bench/src/peer.rs).
import { Agent } from "node:http"
import { mkdirSync, readFileSync } from "node:fs"
import path from "node:path"
import PouchDB from "pouchdb-node"
import { checkWritten, commands, docId, jsonOf, nextCommand, nowMs, peakRssKb, readBundle, run, say, within } from "./common.mjs"

const DATABASE = "territory"
const TIMEOUT_MS = 3_600_000

// Out of the box: PouchDB's replication defaults (batches of 100 changes, at most 10
// batches in flight) and Node's global HTTP agent's settings. Tuned, as PouchDB's documentation
// advises for many small documents: bigger batches, and a keep-alive agent of its own.
const args = process.argv.slice(2)
const outOfTheBox = args[0] === "--out-of-the-box"
if (outOfTheBox) args.shift()
const [job, wsUrl, dir, ...rest] = args
const REPLICATION = outOfTheBox ? {} : { batch_size: 500, batches_limit: 10 }

run(`phone (${job})`, async () => {
  if (!wsUrl || !dir) throw new Error("usage: node phone.mjs [--out-of-the-box] JOB URL DIR ...")
  if (job === "prepare") await prepare(rest[0])
  else if (job === "week") await week(rest[0], rest[1])
  else if (job === "new-phone") await newPhone(rest[0])
  else if (job === "many") await many(rest[0], rest[1])
  else throw new Error(`unknown job ${job}`)
})

// The server's database, with the phone's own connection pool: the many phones share one
// Node process, and one pool would let them share connections as no two phones can. Out of
// the box, the pool is what Node 20's global agent is (keep-alive, LIFO, 5 s idle timeout);
// tuned, a keep-alive agent of at most 10 sockets, as PouchDB's guide suggests for Node.
function remote() {
  const url = `${wsUrl.replace(/^ws:/, "http:")}/${DATABASE}`
  const agent = outOfTheBox
    ? new Agent({ keepAlive: true, scheduling: "lifo", timeout: 5000 })
    : new Agent({ keepAlive: true, maxSockets: 10 })
  return new PouchDB(url, {
    skip_setup: true,
    fetch: (u, opts) => PouchDB.fetch(u, { ...opts, agent }),
  })
}

function local(folder = dir) {
  mkdirSync(folder, { recursive: true })
  return new PouchDB(path.join(folder, "phone"))
}

// One replication run to its end, bounded.
function replicate(from, to, options = {}) {
  return within(TIMEOUT_MS, "replication", from.replicate.to(to, { ...REPLICATION, ...options }))
}

// A phone in use: it pulled these documents, and pushed once since (so that its next push
// starts from its checkpoint, not from its first change).
async function pullScope(db, server, ids) {
  await replicate(server, db, { doc_ids: ids })
  await replicate(db, server)
}

async function prepare(idsFile) {
  const ids = JSON.parse(readFileSync(idsFile, "utf8"))
  const db = local()
  const server = remote()
  await pullScope(db, server, ids)
  await db.close()
  say({ event: "prepared", docs: ids.length })
}

// The documents before the week: the bundle beside the week's, which every server imported
// (or a part of it).
function beforeRecords(weekBundle) {
  const byId = new Map()
  for (const r of readBundle(path.join(path.dirname(weekBundle), "before.bin"))) byId.set(r.head.id, r)
  return byId
}

// Writes a day's or a week's records to `db` as a PouchDB app would: each new document
// put whole, each edited one put whole over its stored revision.
async function writeOffline(db, records, before, idOf) {
  const docs = []
  for (const { head, data } of records) {
    if (head.new) {
      docs.push(jsonOf(idOf(head.id), data))
    } else {
      const old = before.get(head.id)
      if (!old) throw new Error(`the week edits ${head.id}, which is not in before.bin`)
      const stored = await db.get(docId(idOf(head.id)))
      docs.push({ ...jsonOf(idOf(head.id), old.data, data), _rev: stored._rev })
    }
  }
  checkWritten(await db.bulkDocs(docs), "the week's writes")
  return docs.length
}

async function week(bundle, idsFile) {
  const ids = JSON.parse(readFileSync(idsFile, "utf8"))
  const records = readBundle(bundle)
  for (const { head } of records) {
    if (!head.new && !ids[head.id]) throw new Error(`the week edits ${head.id}, which the server never imported`)
  }
  const db = local()
  const docs = await writeOffline(db, records, beforeRecords(bundle), id => id)
  say({ event: "ready", docs })
  const lines = commands()
  if ((await nextCommand(lines)) !== "go") throw new Error("expected `go`")
  const startedAt = nowMs()
  // Done when the push has ended: every revision written by the server's `_bulk_docs`
  // and the checkpoint saved on both sides.
  const result = await replicate(db, remote())
  say({ event: "synced", ms: nowMs() - startedAt, docs_written: result.docs_written })
  if ((await nextCommand(lines)) !== "stop") throw new Error("expected `stop`")
  await db.close()
  say({ event: "stopped", peak_rss_kb: peakRssKb() })
}

async function newPhone(indexId) {
  const startedAt = nowMs()
  const db = local()
  const server = remote()
  const index = await server.get(indexId)
  // A server that holds only the territory: the phone pulls the whole database (PouchDB's
  // fastest way); otherwise only the listed documents.
  const result = await replicate(server, db, index.all ? {} : { doc_ids: [indexId, ...index.docs] })
  const ms = nowMs() - startedAt
  const docs = (await db.info()).doc_count
  say({ event: "done", ms, docs, docs_written: result.docs_written, peak_rss_kb: peakRssKb() })
  await db.close()
}

// Many phones, driven by the bench: `prepare` (each pulls its scope), then per `day` each
// writes its day offline, and on `go` pushes after its delay; the day's answer lists each
// phone's time from the start of its push to its end.
async function many(planFile, weekBundle) {
  const plan = JSON.parse(readFileSync(planFile, "utf8"))
  const week = readBundle(weekBundle)
  // The scope's documents before the day, by the peer's id (the district the server imported).
  const district = new Map()
  for (const r of readBundle(path.join(path.dirname(planFile), "district.bin"))) district.set(docId(r.head.id), r)
  const lines = commands()
  for (;;) {
    const command = JSON.parse(await nextCommand(lines))
    if (command.cmd === "prepare") {
      for (const [n, phone] of plan.phones.entries()) {
        const db = local(path.join(dir, String(n)))
        await pullScope(db, remote(), phone.scope)
        await db.close()
      }
      say({ event: "prepared", phones: plan.phones.length })
    } else if (command.cmd === "day") {
      const phones = []
      for (const [n, phone] of plan.phones.entries()) {
        const db = local(path.join(dir, String(n)))
        const day = phone.days[command.day]
        // Each phone's new documents are its own: their ids carry the phone's number.
        const records = day.new.map(i => ({ head: { ...week[i].head, id: `p${n}/${week[i].head.id}` }, data: week[i].data }))
        const edits = day.edits.map(([id, i]) => ({ head: { ...week[i].head, id }, data: week[i].data }))
        await writeOffline(db, [...records, ...edits], district, id => id)
        phones.push(db)
      }
      say({ event: "ready" })
      if ((await nextCommand(lines)) !== "go") throw new Error("expected `go`")
      const start = nowMs()
      const runs = await Promise.all(
        phones.map(async (db, n) => {
          const delay = start + command.delays_ms[n] - nowMs()
          if (delay > 0) await new Promise(resolve => setTimeout(resolve, delay))
          const began = nowMs()
          await replicate(db, remote())
          const acknowledgedAt = nowMs()
          await db.close()
          return { took: acknowledgedAt - began, acknowledgedAt }
        }),
      )
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
