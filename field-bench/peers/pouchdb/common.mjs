// Shared by the PouchDB side of fieldsync's field benchmark: the bundle format of
// `fieldsync_tests::bundle`, the conversion of its Automerge documents to the JSON a
// PouchDB app stores, and the line protocol with `fieldsync-field-bench`.
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import * as A from "@automerge/automerge"

// Records of a bundle: `[u32 LE][JSON head][u32 LE][Automerge changes]`, repeated.
export function readBundle(path) {
  const buf = readFileSync(path)
  const records = []
  let at = 0
  while (at < buf.length) {
    const headLength = buf.readUInt32LE(at)
    const head = JSON.parse(buf.subarray(at + 4, at + 4 + headLength).toString("utf8"))
    at += 4 + headLength
    const dataLength = buf.readUInt32LE(at)
    const data = new Uint8Array(buf.subarray(at + 4, at + 4 + dataLength))
    at += 4 + dataLength
    if (at > buf.length) throw new Error(`bundle ${path} is cut short`)
    records.push({ head, data })
  }
  return records
}

// CouchDB reserves ids and top-level fields that start with `_`.
export function docId(ourId) {
  return ourId.startsWith("_") ? `u${ourId}` : ourId
}

// The document's content as plain JSON, as a PouchDB app of the same data would store it:
// strings as strings, counters as their value, timestamps as milliseconds, bytes as base64.
export function plain(value) {
  if (value === null || typeof value !== "object") return value
  if (value instanceof A.ImmutableString) return value.toString()
  if (value instanceof A.Counter) return value.value
  if (value instanceof Date) return value.getTime()
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
  if (Array.isArray(value)) return value.map(plain)
  const out = {}
  for (const [key, v] of Object.entries(value)) out[key.startsWith("_") ? `u${key}` : key] = plain(v)
  return out
}

// The JSON document of an Automerge document given as its changes (and later changes).
export function jsonOf(ourId, ...chunks) {
  let doc = A.load(chunks[0])
  for (const more of chunks.slice(1)) doc = A.loadIncremental(doc, more)
  return { ...plain(A.toJS(doc)), _id: docId(ourId) }
}

// Wall-clock milliseconds, comparable between the processes of one machine.
export function nowMs() {
  return performance.timeOrigin + performance.now()
}

export function say(event) {
  process.stdout.write(JSON.stringify(event) + "\n")
}

// The next line on stdin, as an async iterator the caller keeps.
export function commands() {
  return createInterface({ input: process.stdin })[Symbol.asyncIterator]()
}

export async function nextCommand(lines) {
  const { value, done } = await lines.next()
  if (done) throw new Error("stdin closed: the bench went away")
  return value.trim()
}

export function peakRssKb() {
  return process.resourceUsage().maxRSS
}

// Fails the process with a message naming what failed.
export function run(what, main) {
  main().then(
    () => process.exit(0),
    error => {
      process.stderr.write(`pouchdb ${what} failed: ${error?.stack ?? error}\n`)
      process.exit(1)
    },
  )
}

// Rejects after `ms`, naming what did not finish: every wait of the bench is bounded.
export function within(ms, what, promise) {
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

// Fails on any document a bulk write refused.
export function checkWritten(results, what) {
  const failed = results.filter(r => r.error)
  if (failed.length > 0) {
    throw new Error(`${what}: ${failed.length} documents refused, the first: ${JSON.stringify(failed[0])}`)
  }
}
