// Smoke test of the PouchDB side (`npm run smoke`): the server starts on 127.0.0.1, imports
// one document from a bundle, starts again on its storage, and a new phone pulls it.
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import * as A from "@automerge/automerge"
import { within } from "./common.mjs"

const here = path.dirname(new URL(import.meta.url).pathname)
const dir = mkdtempSync(path.join(tmpdir(), "pouch-smoke-"))

function record(id, data) {
  const head = Buffer.from(JSON.stringify({ id, kind: "visit", new: true, changes: 1 }))
  const out = Buffer.alloc(8 + head.length + data.length)
  out.writeUInt32LE(head.length, 0)
  head.copy(out, 4)
  out.writeUInt32LE(data.length, 4 + head.length)
  Buffer.from(data).copy(out, 8 + head.length)
  return out
}

function child(script, args) {
  const proc = spawn("node", [path.join(here, script), ...args], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const expect = async event => {
    for (;;) {
      const { value, done } = await within(60_000, `${script} saying ${event}`, lines.next())
      if (done) throw new Error(`${script} ended before saying ${event}`)
      const said = JSON.parse(value)
      if (said.event === event) return said
    }
  }
  return { proc, expect, send: line => proc.stdin.write(line + "\n") }
}

try {
  const doc = A.change(A.init(), d => {
    d.store = "s-1"
    d.note = new A.ImmutableString("checked")
    d.lines = [{ sku: "sku-104", count: 3 }]
  })
  const bundle = path.join(dir, "before.bin")
  writeFileSync(bundle, record("visit/1", A.save(doc)))
  const serverDir = path.join(dir, "server")
  let server = child("server.mjs", [serverDir])
  await server.expect("ready")
  server.send(JSON.stringify({ cmd: "import", bundle, ids: path.join(dir, "ids.json") }))
  const { index } = await server.expect("imported")
  server.send(JSON.stringify({ cmd: "stop" }))
  await server.expect("stopped")
  server = child("server.mjs", [serverDir])
  const { port } = await server.expect("ready")
  const phone = child("phone.mjs", ["new-phone", `ws://127.0.0.1:${port}`, path.join(dir, "phone"), index])
  const done = await phone.expect("done")
  if (done.docs !== 2) throw new Error(`the phone holds ${done.docs} documents, not 2 (the visit and the index)`)
  // The server answers on 127.0.0.1 and serves the document as JSON.
  const visit = await (await fetch(`http://127.0.0.1:${port}/territory/visit%2F1`)).json()
  if (visit.note !== "checked" || visit.lines[0].count !== 3) throw new Error(`unexpected ${JSON.stringify(visit)}`)
  server.send(JSON.stringify({ cmd: "stop" }))
  await server.expect("stopped")
  console.log(`pouchdb smoke test passed: ${done.docs} documents in ${done.ms.toFixed(0)} ms`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
