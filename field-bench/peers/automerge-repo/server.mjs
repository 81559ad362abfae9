// The automerge-repo sync server of the field benchmark, set up as automerge-repo's README
// shows: a Repo with the websocket server adapter and file storage, bound to 127.0.0.1.
// Usage: node server.mjs DATA_DIR. Prints {"event":"ready","port":N}, then takes commands
// on stdin, one JSON object a line (see field-bench/src/peer.rs).
import { readFileSync, writeFileSync } from "node:fs"
import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl, Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketServer } from "ws"
import { commands, nextCommand, peakRssKb, readBundle, run, say, untilStored } from "./common.mjs"

// automerge-repo 2.5.6 rejects a promise nobody catches when a document the server was
// sent does not become ready within 60 s (on a 2G link a push of 200 documents takes
// longer than that), which ends a Node process. A server meant to stay up keeps running:
// the rejections are logged and counted, and reported when it stops.
let unhandled = 0
process.on("unhandledRejection", error => {
  unhandled += 1
  if (unhandled <= 3) process.stderr.write(`automerge-repo server: unhandled rejection: ${error}\n`)
})

run("server", async () => {
  const dir = process.argv[2]
  if (!dir) throw new Error("usage: node server.mjs DATA_DIR")
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise((resolve, reject) => {
    wss.once("listening", resolve)
    wss.once("error", reject)
  })
  const storage = new NodeFSStorageAdapter(dir)
  const repo = new Repo({
    network: [new WebSocketServerAdapter(wss)],
    storage,
    // A sync server shares what it is asked for and does not announce documents.
    sharePolicy: async () => false,
  })
  say({ event: "ready", port: wss.address().port })
  const lines = commands()
  for (;;) {
    const command = JSON.parse(await nextCommand(lines))
    if (command.cmd === "import") {
      // Setup, not measured: the documents the server holds before the week, written
      // through the repo's storage subsystem (as `repo.import` would, without keeping a
      // handle of every document in memory, which took minutes and gigabytes).
      const ids = {}
      for (const { head, data } of readBundle(command.bundle)) {
        const { documentId } = parseAutomergeUrl(generateAutomergeUrl())
        await repo.storageSubsystem.saveDoc(documentId, A.load(data))
        ids[head.id] = documentId
      }
      // The index lists what our new phone downloads (`index_of`), or everything.
      const listed = command.index_of
        ? JSON.parse(readFileSync(command.index_of, "utf8")).map(id => ids[id]).filter(Boolean)
        : Object.values(ids)
      const index = repo.create({ docs: listed })
      await repo.flush()
      await untilStored(storage, [...Object.values(ids), index.documentId])
      writeFileSync(command.ids, JSON.stringify(ids))
      say({ event: "imported", docs: Object.keys(ids).length, index: index.documentId })
    } else if (command.cmd === "rss") {
      say({ event: "rss", peak_rss_kb: peakRssKb() })
    } else if (command.cmd === "stop") {
      await repo.flush()
      say({ event: "stopped", peak_rss_kb: peakRssKb(), unhandled_rejections: unhandled })
      await repo.shutdown()
      wss.close()
      return
    } else {
      throw new Error(`unknown command ${JSON.stringify(command)}`)
    }
  }
})
