// A user's session through a real JavaScript Mastodon client, driven by
// tests/client_api/test_js_clients.py: `node session.mjs masto|megalodon BASE_URL TOKEN IMAGE`.
// Prints one JSON object per line; "asked" tells the test to run the worker (the AI's answer),
// "done" carries what the test checks. Exits 1 with {"error": ...} on any failure.
import "./node20.mjs";
import { createReadStream, readFileSync } from "node:fs";
import { createRestAPIClient, createStreamingAPIClient } from "masto";
import generator from "megalodon";
import WebSocket from "ws";

// Node 20 has no global WebSocket (Node 22 has); masto reads WebSocket.OPEN from it.
globalThis.WebSocket ??= WebSocket;

const [library, baseUrl, token, imagePath] = process.argv.slice(2);
const say = (doc) => process.stdout.write(JSON.stringify(doc) + "\n");
const image = readFileSync(imagePath);
const QUESTION = "@ai what colour is moss?";

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

async function masto() {
  const rest = createRestAPIClient({ url: baseUrl, accessToken: token });
  const me = await rest.v1.accounts.verifyCredentials();
  const media = await rest.v2.media.create({
    file: new Blob([image], { type: "image/png" }),
    description: "a green square",
  });
  const posted = await rest.v1.statuses.create({ status: "a picture", mediaIds: [media.id] });
  const instance = await rest.v2.instance.fetch();
  const streaming = createStreamingAPIClient({
    log: process.env.MASTO_LOG ?? "warn",
    streamingApiUrl: instance.configuration.urls.streaming,
    accessToken: token,
    implementation: WebSocket,
  });
  const events = streaming.user.subscribe();
  const answer = (async () => {
    for await (const event of events) {
      if (event.event === "notification" && event.payload.account.acct === "ai") {
        return event.payload;
      }
    }
    throw new Error("the stream ended");
  })();
  await new Promise((resolve) => setTimeout(resolve, 500)); // the subscribe message goes first
  const asked = await rest.v1.statuses.create({ status: QUESTION });
  say({ event: "asked", id: asked.id });
  const notification = await withTimeout(answer, Number(process.env.ANSWER_TIMEOUT_MS ?? 120_000), "the AI's answer");
  events.unsubscribe();
  streaming.close();
  const home = await rest.v1.timelines.home.list({ limit: 40 });
  const local = await rest.v1.timelines.public.list({ local: true, limit: 40 });
  return { me, media, posted, asked, notification, home, local };
}

async function megalodon() {
  const client = generator("mastodon", baseUrl, token);
  const me = (await client.verifyAccountCredentials()).data;
  const media = (
    // megalodon posts with the form-data package, which takes a file stream
    await client.uploadMedia(createReadStream(imagePath), {
      description: "a green square",
    })
  ).data;
  const posted = (await client.postStatus("a picture", { media_ids: [media.id] })).data;
  const stream = await client.userStreaming();
  const answer = new Promise((resolve, reject) => {
    stream.on("notification", (n) => {
      if (n.account.acct === "ai") resolve(n);
    });
    stream.on("error", (err) => reject(err));
  });
  await new Promise((resolve) => stream.on("connect", resolve));
  const asked = (await client.postStatus(QUESTION)).data;
  say({ event: "asked", id: asked.id });
  const notification = await withTimeout(answer, Number(process.env.ANSWER_TIMEOUT_MS ?? 120_000), "the AI's answer");
  stream.stop();
  const home = (await client.getHomeTimeline({ limit: 40 })).data;
  const local = (await client.getLocalTimeline({ limit: 40 })).data;
  return { me, media, posted, asked, notification, home, local };
}

try {
  const r = await (library === "masto" ? masto() : megalodon());
  say({
    event: "done",
    acct: r.me.acct,
    media: { id: r.media.id, type: r.media.type, description: r.media.description },
    posted: { id: r.posted.id, media: r.posted.media_attachments ?? r.posted.mediaAttachments },
    asked: r.asked.id,
    notification: {
      type: r.notification.type,
      bot: r.notification.account.bot,
      in_reply_to: r.notification.status.in_reply_to_id ?? r.notification.status.inReplyToId,
    },
    home: r.home.map((s) => s.id),
    local: r.local.map((s) => s.id),
  });
  process.exit(0);
} catch (error) {
  say({ event: "error", error: String(error?.stack ?? error) });
  process.exit(1);
}
