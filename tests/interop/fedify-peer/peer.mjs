// A real Fedify (@fedify/fedify 2.3.6) ActivityPub server for fediverse-ai interop tests.
//
// One actor, `alice` (a Person with an RSA key generated at start), served on 127.0.0.1:PORT
// behind the e2e harness's nginx as https://DOMAIN. Everything lives in memory. Its inbox records
// every activity it receives and auto-accepts follows. A JSON control API under /_control/
// lets the tests drive it:
//
//   POST /_control/follow    {"handle": "ai@a.test"}          -> follow a remote actor
//   POST /_control/unfollow  {"handle": "ai@a.test"}          -> Undo that Follow
//   POST /_control/post      {"content", "mentions": [actorUrl], "inReplyTo"?,
//                             "visibility": "public"|"followers"|"direct",
//                             "sensitive"?, "attachments"?: [{"type": "Image"|"Video"|"Document",
//                             "mediaType", "url" ("/_media/NAME"), "name"}],
//                             "poll"?: {"options": [name], "multiple"?, "seconds"?},
//                             "emojis"?: [{"name", "url" ("/_media/NAME.png")}]} -> {"id"}
//                             (each emoji an `Emoji` tag named ":name:" with a PNG icon)
//                             (with "poll": a Question, oneOf or anyOf, endTime, votersCount 0)
//   GET  /_media/NAME        a small picture (NAME.png) or video (NAME.mp4) the posts attach,
//                            or the file a test stored under NAME with /_control/media
//   POST /_control/media     {"name", "mediaType", "base64"} -> {"url"}: serve those bytes at
//                            /_media/NAME (a real picture for a test to attach)
//   POST /_control/update    {"id": noteId, "content"}        -> Update{Note} to its recipients
//   POST /_control/delete    {"id": noteId}                   -> Delete{Tombstone} to them
//   POST /_control/fetch     {"url"}  -> {"document"} or {"error"}: a GET signed as alice
//   POST /_control/quote     {"object": noteUrl, "content"} -> a public note quoting it (FEP-044f
//                            `quote`), and a QuoteRequest sent to its author -> {"id", "request"}
//   Incoming QuoteRequests for alice's posts are answered with an Accept whose `result` is a
//   QuoteAuthorization served at /users/alice/quote_authorizations/ID.
//   GET  /_control/received  -> [{type, id, actor, object, json}], oldest first
//   GET  /_control/state     -> {actor, followers, following, notes, errors}
//   GET  /_control/exchanges -> HTTP exchanges in and out (secret headers dropped, bodies cut)
//
// Usage: node peer.mjs --port PORT --domain fedify.test
// Trust the harness CA with NODE_EXTRA_CA_CERTS=<ca.crt>.

import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Temporal } from "@js-temporal/polyfill";
import {
  createFederation,
  generateCryptoKeyPair,
  getDocumentLoader,
  InProcessMessageQueue,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Collection,
  Create,
  Delete,
  Document,
  Emoji,
  Endpoints,
  Follow,
  Image,
  isActor,
  Mention,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Question,
  QuoteAuthorization,
  QuoteRequest,
  Tombstone,
  Undo,
  Update,
  Video,
} from "@fedify/fedify/vocab";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8700" },
    host: { type: "string", default: "127.0.0.1" },
    domain: { type: "string", default: "fedify.test" },
  },
});
const ORIGIN = `https://${opts.domain}`;
const USERNAME = "alice";

const log = (...args) => console.log(new Date().toISOString(), ...args);

// --- recording of HTTP exchanges, for the logs of failing tests --------------------------------

const SECRET_HEADERS = new Set(["authorization", "signature", "cookie", "set-cookie"]);
const BODY_LIMIT = 4000;
const exchanges = []; // the last 400 requests in ("in") and out ("out")

function redact(headers) {
  const out = {};
  for (const [key, value] of headers) {
    out[key.toLowerCase()] = SECRET_HEADERS.has(key.toLowerCase()) ? "[dropped]" : String(value);
  }
  return out;
}

function cut(text) {
  if (text == null) return "";
  return text.length <= BODY_LIMIT ? text : `${text.slice(0, BODY_LIMIT)}... [${text.length} chars]`;
}

function recordExchange(entry) {
  exchanges.push(entry);
  if (exchanges.length > 400) exchanges.shift();
  log(entry.direction, entry.method, entry.url, "->", entry.status);
}

// Fedify sends and fetches through the global fetch: wrap it to record each request.
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = new Request(input, init);
  const entry = {
    direction: "out",
    time: new Date().toISOString(),
    method: request.method,
    url: request.url,
    request_headers: redact(request.headers),
    request_body: request.body ? cut(await request.clone().text()) : "",
    status: null,
  };
  try {
    const response = await originalFetch(request);
    entry.status = response.status;
    entry.response_headers = redact(response.headers);
    entry.response_body = cut(await response.clone().text());
    return response;
  } catch (error) {
    entry.status = `error: ${error}`;
    throw error;
  } finally {
    recordExchange(entry);
  }
};

// --- state ----------------------------------------------------------------------------------

const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const received = []; // every activity the inbox accepted, oldest first
const followers = new Map(); // actor id -> {id, inbox, sharedInbox}
const following = new Map(); // handle -> {handle, actor, inbox, followId, state}
const notes = new Map(); // note id -> JSON-LD of the note we published
const noteObjects = new Map(); // note id -> Note
const noteRecipients = new Map(); // note id -> {to, cc, mentioned, visibility}
const errors = []; // outbox / inbox errors, for debugging failing tests
const stamps = new Map(); // QuoteAuthorization id -> QuoteAuthorization alice gave

// --- federation ----------------------------------------------------------------------------

const documentLoader = getDocumentLoader({ allowPrivateAddress: true });
const federation = createFederation({
  kv: new MemoryKvStore(),
  queue: new InProcessMessageQueue(),
  origin: ORIGIN,
  allowPrivateAddress: true,
  onOutboxError: (error, activity) => {
    const entry = { where: "outbox", error: String(error), activity: activity?.id?.href ?? null };
    errors.push(entry);
    log("outbox error", entry);
  },
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice (Fedify peer)",
      summary: "A Fedify test peer for fediverse-ai",
      url: new URL(`/@${identifier}`, ORIGIN),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      manuallyApprovesFollowers: false,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === USERNAME ? [keyPair] : []));

federation.setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) =>
  identifier === USERNAME ? { items: [] } : null,
);

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    return { items: [...followers.values()].map(recipientOf) };
  })
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? followers.size : null));

federation.setObjectDispatcher(Note, "/users/{identifier}/posts/{id}", (ctx, values) => {
  const id = ctx.getObjectUri(Note, values).href;
  return noteObjects.get(id) ?? null;
});

// A poll as Mastodon sends one: each option a Note with a name and a replies count.
function pollValues({ options, multiple = false, seconds = 3600 }, published) {
  const choices = options.map(
    (name) => new Note({ name, replies: new Collection({ totalItems: 0 }) }),
  );
  return {
    [multiple ? "inclusiveOptions" : "exclusiveOptions"]: choices,
    endTime: published.add({ seconds }),
    voters: 0,
  };
}
federation.setObjectDispatcher(
  QuoteAuthorization,
  "/users/{identifier}/quote_authorizations/{id}",
  (ctx, values) => stamps.get(ctx.getObjectUri(QuoteAuthorization, values).href) ?? null,
);

function recipientOf(f) {
  return {
    id: new URL(f.id),
    inboxId: new URL(f.inbox),
    endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
  };
}

async function record(activity) {
  const json = await activity.toJsonLd({ format: "compact" });
  const object = json.object;
  received.push({
    type: Array.isArray(json.type) ? json.type[0] : json.type,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: typeof object === "string" ? object : (object?.id ?? null),
    objectType: typeof object === "object" && object ? object.type : null,
    json,
  });
  log("received", json.type, activity.id?.href, "from", activity.actorId?.href);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    await record(follow);
    const alice = ctx.getActorUri(USERNAME);
    if (follow.objectId?.href !== alice.href || follow.actorId == null) return;
    const follower = await follow.getActor(ctx);
    if (!isActor(follower) || follower.id == null || follower.inboxId == null) return;
    followers.set(follower.id.href, {
      id: follower.id.href,
      inbox: follower.inboxId.href,
      sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
    });
    await ctx.sendActivity(
      { identifier: USERNAME },
      follower,
      new Accept({
        id: new URL(`/users/${USERNAME}/accepts/${randomUUID()}`, ORIGIN),
        actor: alice,
        object: follow,
      }),
    );
  })
  .on(Accept, async (_ctx, accept) => {
    await record(accept);
    const followId = accept.objectId?.href;
    for (const f of following.values()) {
      if (f.followId === followId || (f.actor === accept.actorId?.href && f.state === "pending")) {
        f.state = "accepted";
      }
    }
  })
  .on(Undo, async (ctx, undo) => {
    await record(undo);
    const object = await undo.getObject(ctx).catch(() => null);
    if (object instanceof Follow && undo.actorId) followers.delete(undo.actorId.href);
  })
  .on(QuoteRequest, async (ctx, request) => {
    // FEP-044f: alice approves every quote of her posts with a stamp anyone can fetch.
    await record(request);
    const requester = await request.getActor(ctx);
    if (!isActor(requester) || request.objectId == null) return;
    const quoting = request.instrumentIds[0];
    if (quoting == null) return;
    const alice = ctx.getActorUri(USERNAME);
    const stampId = ctx.getObjectUri(QuoteAuthorization, { identifier: USERNAME, id: randomUUID() });
    stamps.set(
      stampId.href,
      new QuoteAuthorization({
        id: stampId,
        attribution: alice,
        interactingObject: quoting,
        interactionTarget: request.objectId,
      }),
    );
    await ctx.sendActivity(
      { identifier: USERNAME },
      requester,
      new Accept({
        id: new URL(`/users/${USERNAME}/accepts/${randomUUID()}`, ORIGIN),
        actor: alice,
        object: request,
        result: stampId,
      }),
    );
  })
  .on(Create, (_ctx, activity) => record(activity))
  .on(Update, (_ctx, activity) => record(activity))
  .on(Delete, (_ctx, activity) => record(activity))
  .on(Activity, (_ctx, activity) => record(activity))
  .onError((_ctx, error) => {
    errors.push({ where: "inbox", error: String(error) });
    log("inbox error", error);
  });

// --- control API ---------------------------------------------------------------------------

function controlContext() {
  return federation.createContext(new URL(ORIGIN), undefined);
}

async function lookupActor(ctx, handleOrUrl) {
  const actor = await ctx.lookupObject(handleOrUrl, { documentLoader });
  if (!isActor(actor)) throw new Error(`not an actor: ${handleOrUrl}`);
  return actor;
}

const control = {
  async media({ name, mediaType, base64 }) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`bad media name ${name}`);
    STORED_MEDIA.set(name, { type: mediaType, data: Buffer.from(base64, "base64") });
    return { url: `/_media/${name}` };
  },
  async follow({ handle }) {
    const ctx = controlContext();
    const actor = await lookupActor(ctx, handle);
    const follow = new Follow({
      id: new URL(`/users/${USERNAME}/follows/${randomUUID()}`, ORIGIN),
      actor: ctx.getActorUri(USERNAME),
      object: actor.id,
    });
    following.set(handle, {
      handle,
      actor: actor.id.href,
      inbox: actor.inboxId?.href ?? null,
      followId: follow.id.href,
      state: "pending",
      follow,
      recipient: actor,
    });
    await ctx.sendActivity({ identifier: USERNAME }, actor, follow);
    return { id: follow.id.href, followId: follow.id.href, actor: actor.id.href };
  },

  async unfollow({ handle }) {
    const ctx = controlContext();
    const entry = following.get(handle);
    if (!entry) throw new Error(`not following ${handle}`);
    const undo = new Undo({
      id: new URL(`/users/${USERNAME}/undos/${randomUUID()}`, ORIGIN),
      actor: ctx.getActorUri(USERNAME),
      object: entry.follow,
    });
    await ctx.sendActivity({ identifier: USERNAME }, entry.recipient, undo);
    following.delete(handle);
    return { id: undo.id.href };
  },

  async post({
    content,
    mentions = [],
    inReplyTo = null,
    visibility = "public",
    sensitive = false,
    attachments = [],
    poll = null,
    emojis = [],
  }) {
    const ctx = controlContext();
    const alice = ctx.getActorUri(USERNAME);
    const followersUri = ctx.getFollowersUri(USERNAME);
    const mentioned = [];
    for (const url of mentions) mentioned.push(await lookupActor(ctx, url));
    const mentionIds = mentioned.map((a) => a.id);
    let to;
    let cc;
    if (visibility === "public") {
      to = [PUBLIC_COLLECTION];
      cc = [followersUri, ...mentionIds];
    } else if (visibility === "followers") {
      to = [followersUri];
      cc = mentionIds;
    } else if (visibility === "direct") {
      to = mentionIds;
      cc = [];
    } else {
      throw new Error(`unknown visibility ${visibility}`);
    }
    const tags = mentioned.map(
      (a) =>
        new Mention({
          href: a.id,
          name: `@${a.preferredUsername}@${a.id.host}`,
        }),
    );
    for (const { name, url } of emojis) {
      tags.push(
        new Emoji({
          id: new URL(`/emojis/${name}`, ORIGIN),
          name: `:${name}:`,
          icon: new Image({ mediaType: "image/png", url: new URL(url, ORIGIN) }),
        }),
      );
    }
    const noteId = ctx.getObjectUri(Note, { identifier: USERNAME, id: randomUUID() });
    const published = Temporal.Now.instant();
    const html = content.startsWith("<") ? content : `<p>${escapeHtml(content)}</p>`;
    const values = {
      id: noteId,
      attribution: alice,
      content: html,
      url: noteId,
      published,
      tos: to,
      ccs: cc,
      tags,
      replyTarget: inReplyTo ? new URL(inReplyTo) : null,
      sensitive,
      attachments: attachments.map(attachmentOf),
    };
    const note = poll ? new Question({ ...values, ...pollValues(poll, published) }) : new Note(values);
    noteObjects.set(noteId.href, note);
    noteRecipients.set(noteId.href, { to, cc, mentioned, visibility });
    notes.set(noteId.href, await note.toJsonLd({ format: "compact" }));
    const create = new Create({
      id: new URL(`${noteId.href}/activity`),
      actor: alice,
      published,
      tos: to,
      ccs: cc,
      object: note,
    });
    const recipients = [...mentioned];
    if (visibility !== "direct") recipients.push(...[...followers.values()].map(recipientOf));
    if (recipients.length > 0) {
      await ctx.sendActivity({ identifier: USERNAME }, recipients, create, {
        preferSharedInbox: true,
      });
    }
    return { id: noteId.href, activity: create.id.href };
  },

  async update({ id, content }) {
    const ctx = controlContext();
    const old = noteObjects.get(id);
    if (!old) throw new Error(`no note ${id}`);
    const { to, cc } = noteRecipients.get(id);
    const note = old.clone({
      content: `<p>${escapeHtml(content)}</p>`,
      updated: Temporal.Now.instant(),
    });
    noteObjects.set(id, note);
    notes.set(id, await note.toJsonLd({ format: "compact" }));
    const update = new Update({
      id: new URL(`${id}/updates/${randomUUID()}`),
      actor: ctx.getActorUri(USERNAME),
      tos: to,
      ccs: cc,
      object: note,
    });
    await sendToRecipientsOf(ctx, id, update);
    return { id: update.id.href };
  },

  async delete({ id }) {
    const ctx = controlContext();
    if (!noteObjects.has(id)) throw new Error(`no note ${id}`);
    const { to, cc } = noteRecipients.get(id);
    const del = new Delete({
      id: new URL(`${id}#delete`),
      actor: ctx.getActorUri(USERNAME),
      tos: to,
      ccs: cc,
      object: new Tombstone({ id: new URL(id) }),
    });
    await sendToRecipientsOf(ctx, id, del);
    noteObjects.delete(id);
    notes.delete(id);
    return { id: del.id.href };
  },

  async quote({ object, content = "quoting this" }) {
    const ctx = controlContext();
    const alice = ctx.getActorUri(USERNAME);
    const quoted = await ctx.lookupObject(object, { documentLoader });
    if (!(quoted instanceof Note) || quoted.attributionId == null) throw new Error(`not a note: ${object}`);
    const author = await lookupActor(ctx, quoted.attributionId.href);
    const noteId = ctx.getObjectUri(Note, { identifier: USERNAME, id: randomUUID() });
    const to = [PUBLIC_COLLECTION];
    const cc = [ctx.getFollowersUri(USERNAME), author.id];
    const note = new Note({
      id: noteId,
      attribution: alice,
      content: `<p>${escapeHtml(content)}</p>`,
      url: noteId,
      published: Temporal.Now.instant(),
      tos: to,
      ccs: cc,
      quote: new URL(object),
    });
    noteObjects.set(noteId.href, note);
    noteRecipients.set(noteId.href, { to, cc, mentioned: [author], visibility: "public" });
    notes.set(noteId.href, await note.toJsonLd({ format: "compact" }));
    const request = new QuoteRequest({
      id: new URL(`/users/${USERNAME}/quote_requests/${randomUUID()}`, ORIGIN),
      actor: alice,
      object: new URL(object),
      instrument: note,
    });
    await ctx.sendActivity({ identifier: USERNAME }, author, request);
    return { id: noteId.href, request: request.id.href };
  },

  async fetch({ url }) {
    // Fedify's authenticated document loader: the GET is signed with alice's key.
    const loader = await controlContext().getDocumentLoader({ identifier: USERNAME });
    try {
      const { document } = await loader(url);
      return { document };
    } catch (error) {
      return { error: String(error) };
    }
  },

  exchanges() {
    return exchanges;
  },

  received() {
    return received;
  },

  state() {
    return {
      actor: new URL(`/users/${USERNAME}`, ORIGIN).href,
      followers: [...followers.values()],
      following: [...following.values()].map(({ follow: _f, recipient: _r, ...rest }) => rest),
      notes: [...notes.values()],
      errors,
    };
  },
};

async function sendToRecipientsOf(ctx, noteId, activity) {
  const { mentioned, visibility } = noteRecipients.get(noteId);
  const recipients = [...mentioned];
  if (visibility !== "direct") recipients.push(...[...followers.values()].map(recipientOf));
  if (recipients.length > 0) {
    await ctx.sendActivity({ identifier: USERNAME }, recipients, activity, {
      preferSharedInbox: true,
    });
  }
}

// What a post attaches: Fedify's own vocabulary objects, as a Fedify app would build them.
const ATTACHMENT_TYPES = { Image, Video, Document };

function attachmentOf({ type = "Document", mediaType, url, name = null }) {
  const Type = ATTACHMENT_TYPES[type];
  if (!Type) throw new Error(`unknown attachment type ${type}`);
  return new Type({ mediaType, url: new URL(url, ORIGIN), name });
}

// A 16x12 PNG and the first bytes of an MP4: enough for a media cache to take them for what
// they are (the picture decodes; the video's container is recognised).
const MEDIA_TYPES = { png: "image/png", mp4: "video/mp4" };
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAMCAIAAADkharWAAAAF0lEQVR4nGM8IWfDQApgIkn1qIYRpAEAtloBOgHmnnkAAAAASUVORK5CYII=",
  "base64",
);
const MP4 = Buffer.concat([
  Buffer.from("00000018667479706d70343200000000", "hex"),
  Buffer.from("mp42isom", "latin1"),
  Buffer.alloc(2000),
]);

// Files the tests stored with /_control/media, by name.
const STORED_MEDIA = new Map();

function serveMedia(res, path) {
  const stored = STORED_MEDIA.get(path.slice("/_media/".length));
  if (stored) {
    res.writeHead(200, { "content-type": stored.type });
    return res.end(stored.data);
  }
  const extension = path.split(".").pop();
  const type = MEDIA_TYPES[extension];
  if (!type) return sendJson(res, 404, { error: "no such file" });
  res.writeHead(200, { "content-type": type });
  res.end(extension === "png" ? PNG : MP4);
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// --- HTTP ----------------------------------------------------------------------------------

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value, null, 1);
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body);
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, ORIGIN).pathname;
    if (path.startsWith("/_media/") && req.method === "GET") return serveMedia(res, path);
    if (path.startsWith("/_control/")) {
      const name = path.slice("/_control/".length);
      const handler = Object.hasOwn(control, name) ? control[name] : null;
      if (!handler) return sendJson(res, 404, { error: `no control command ${name}` });
      const raw = await readBody(req);
      const args = raw.length ? JSON.parse(raw.toString("utf8")) : {};
      try {
        return sendJson(res, 200, await handler(args));
      } catch (error) {
        log("control", name, "failed:", error);
        return sendJson(res, 500, { error: String(error), stack: error?.stack ?? null });
      }
    }
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(key, v);
      else if (value != null) headers.set(key, value);
    }
    const request = new Request(new URL(req.url, ORIGIN), { method: req.method, headers, body });
    const response = await federation.fetch(request, { contextData: undefined });
    const responseBody = Buffer.from(await response.arrayBuffer());
    recordExchange({
      direction: "in",
      time: new Date().toISOString(),
      method: req.method,
      url: request.url,
      request_headers: redact(headers),
      request_body: body ? cut(body.toString("utf8")) : "",
      status: response.status,
      response_headers: redact(response.headers),
      response_body: cut(responseBody.toString("utf8")),
    });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(responseBody);
  } catch (error) {
    log("request failed:", error);
    if (!res.headersSent) sendJson(res, 500, { error: String(error) });
    else res.end();
  }
});

server.listen(Number(opts.port), opts.host, () => {
  log(`fedify peer for ${ORIGIN} listening on http://${opts.host}:${opts.port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    log(`${signal}: shutting down`);
    server.close();
    process.exit(0);
  });
}
