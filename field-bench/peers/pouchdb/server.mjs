// The PouchDB side's server: pouchdb-server 4.2.0 as its command line starts it
// (`pouchdb-server --host 127.0.0.1 --dir DIR`), in process so that the bench can import
// documents and read its memory: express with `express-pouchdb` (full CouchDB mode, the
// default) over pouchdb-core with the http, replication, map-reduce and LevelDB plugins,
// databases stored under DIR. Bound to 127.0.0.1 on a port the system picks.
// Usage: node server.mjs DATA_DIR. Prints {"event":"ready","port":N}, then takes commands
// on stdin, one JSON object a line (see field-bench/src/peer.rs).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { checkWritten, commands, docId, jsonOf, nextCommand, peakRssKb, readBundle, run, say } from "./common.mjs"

const require = createRequire(import.meta.url)
const express = require("express")
const expressPouchDB = require("express-pouchdb")

// Every document of the territory lives in this one database, as in a CouchDB app.
export const DATABASE = "territory"
// Lists what a new phone downloads; not one of the territory's own documents.
export const INDEX_ID = "fieldsync-index"
const IMPORT_BATCH = 500

run("server", async () => {
  const dir = process.argv[2]
  if (!dir) throw new Error("usage: node server.mjs DATA_DIR")
  mkdirSync(dir, { recursive: true })
  const PouchDB = require("pouchdb-core")
    .plugin(require("pouchdb-adapter-http"))
    .plugin(require("pouchdb-replication"))
    .plugin(require("pouchdb-mapreduce"))
    .plugin(require("pouchdb-adapter-leveldb"))
    .defaults({ prefix: path.resolve(dir) + path.sep })
  // Config and log files in the data folder rather than the working directory.
  const couch = expressPouchDB(PouchDB, {
    configPath: path.join(dir, "config.json"),
    logPath: path.join(dir, "log.txt"),
  })
  const app = express()
  app.use(couch)
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s))
    s.once("error", reject)
  })
  const db = new PouchDB(DATABASE)
  await db.info()
  say({ event: "ready", port: server.address().port })
  const lines = commands()
  for (;;) {
    const command = JSON.parse(await nextCommand(lines))
    if (command.cmd === "import") {
      // Setup, not measured: each document as its JSON, written straight to the database.
      const ids = {}
      let batch = []
      for (const { head, data } of readBundle(command.bundle)) {
        batch.push(jsonOf(head.id, data))
        ids[head.id] = docId(head.id)
        if (batch.length === IMPORT_BATCH) {
          checkWritten(await db.bulkDocs(batch), "import")
          batch = []
        }
      }
      if (batch.length > 0) checkWritten(await db.bulkDocs(batch), "import")
      const all = !command.index_of
      const listed = all
        ? Object.values(ids)
        : JSON.parse(readFileSync(command.index_of, "utf8")).map(id => ids[id]).filter(Boolean)
      await db.put({ _id: INDEX_ID, docs: listed, all: all || listed.length === Object.keys(ids).length })
      writeFileSync(command.ids, JSON.stringify(ids))
      say({ event: "imported", docs: Object.keys(ids).length, index: INDEX_ID })
    } else if (command.cmd === "rss") {
      say({ event: "rss", peak_rss_kb: peakRssKb() })
    } else if (command.cmd === "stop") {
      server.closeAllConnections?.()
      await new Promise(resolve => server.close(resolve))
      await db.close()
      say({ event: "stopped", peak_rss_kb: peakRssKb() })
      return
    } else {
      throw new Error(`unknown command ${JSON.stringify(command)}`)
    }
  }
})
