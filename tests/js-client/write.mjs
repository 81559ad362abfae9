// Writes fieldsync documents with JavaScript Automerge (@automerge/automerge 3.x), as a
// client built from docs/protocol.md alone would, for tests/tests/js_changes.rs.
//
// Reads one JSON description on stdin:
//
//   {
//     "actor": "<32 hex digits>",   // the device's Automerge actor, kept for every change
//     "time": 1795394100000,        // the change's time in ms; left out: Automerge's own
//                                   // default (seconds since the epoch)
//     "message": "{\"by\":\"am-li\",\"what\":\"start visit\"}",   // optional
//     "docs": [
//       { "id": "<uuid>", "kind": "visit",      // a new document: the header is written
//         "base": ["<hex change>", ...],        // or: the changes of a document to edit
//         "fields": { "store_id": "…", "notes": {"text": "…"}, "check_in": {"at": 17…} } }
//     ]
//   }
//
// Values of `fields`: a JSON string is written as `new A.ImmutableString(...)` (a plain
// Automerge string, what the protocol asks for); `{"text": "..."}` as a plain JavaScript
// string, which Automerge 3 stores as collaborative Text (right for the fields typed text,
// wrong everywhere else); numbers, booleans and other objects (nested maps) as JavaScript
// gives them. Writes one change per document, and prints one line per document on stdout:
// `{"id": "<uuid>", "change": "<hex>"}`.

import * as A from "@automerge/automerge";

const isMap = (v) => v !== null && typeof v === "object";
const isText = (v) => isMap(v) && Object.keys(v).length === 1 && typeof v.text === "string";

function value(v) {
  if (typeof v === "string") return new A.ImmutableString(v);
  if (isText(v)) return v.text;
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, value(x)]));
  return v;
}

function write(target, fields) {
  for (const [key, v] of Object.entries(fields)) {
    if (isText(v) && typeof target[key] === "string") {
      // Text already there: edited in place, so that concurrent edits merge.
      A.updateText(target, [key], v.text);
    } else if (!isText(v) && isMap(v) && isMap(target[key])) {
      // A map already there: its keys are written, the others kept.
      write(target[key], v);
    } else {
      target[key] = value(v);
    }
  }
}

function changeOf(description, spec) {
  let doc = A.init({ actor: description.actor });
  if (spec.base) {
    [doc] = A.applyChanges(doc, spec.base.map((hex) => Buffer.from(hex, "hex")));
    const missing = A.getMissingDeps(doc, []);
    if (missing.length > 0) throw new Error(`${spec.id}: base lacks changes ${missing}`);
  }
  const options = {};
  if (description.time !== undefined) options.time = description.time;
  if (description.message !== undefined) options.message = description.message;
  doc = A.change(doc, options, (d) => {
    if (!spec.base) {
      d.schema = 1;
      d.kind = new A.ImmutableString(spec.kind);
      d.id = new A.ImmutableString(spec.id);
    }
    write(d, spec.fields ?? {});
  });
  const change = A.getLastLocalChange(doc);
  if (!change) throw new Error(`${spec.id}: the fields change nothing`);
  return Buffer.from(change).toString("hex");
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const description = JSON.parse(Buffer.concat(chunks).toString("utf8"));
for (const spec of description.docs) {
  console.log(JSON.stringify({ id: spec.id, change: changeOf(description, spec) }));
}
