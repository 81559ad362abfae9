// Shared by the automerge-repo side of fieldsync's field benchmark: the bundle format of
// `fieldsync_tests::bundle` and the line protocol with `fieldsync-field-bench`.
import { readFileSync } from "node:fs"
import { createInterface } from "node:readline"

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
      process.stderr.write(`automerge-repo ${what} failed: ${error?.stack ?? error}\n`)
      process.exit(1)
    },
  )
}

// Waits until `storage` holds a snapshot or incremental chunk of every document in `ids`:
// `repo.flush()` returns early for a document whose debounced save is still being written,
// and a process that exits then loses it.
export async function untilStored(storage, ids, timeoutMs = 600_000) {
  const deadline = nowMs() + timeoutMs
  let missing = ids
  while (nowMs() < deadline) {
    const stored = await Promise.all(
      missing.map(async id =>
        (await storage.loadRange([id])).some(c => c.key[1] === "snapshot" || c.key[1] === "incremental"),
      ),
    )
    missing = missing.filter((_, i) => !stored[i])
    if (missing.length === 0) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${missing.length} documents never reached storage`)
}
