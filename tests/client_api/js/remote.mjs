// One step of a user's dealings with a remote account, through a real JavaScript Mastodon
// client, driven by tests/interop/test_peer_clients.py against a real peer:
//
//   node remote.mjs masto|megalodon BASE_URL TOKEN STEP ARG
//
//   follow HANDLE    search the handle with resolve=true, follow the first account found
//                    -> {account: {id, acct, uri}, relationship}
//   following ID     poll /api/v1/accounts/relationships until `following` (or time out)
//                    -> {relationship}
//   home URI         poll the home timeline until a status with that `uri` is in it
//                    -> {status: {id, uri, acct, content}}
//   unfollow ID      -> {relationship}
//   favourite URL    search the URL with resolve=true, favourite the status found
//                    -> {found: {id, uri, acct}, status: {id, favourited, favourites_count}}
//
// Prints one JSON line: {"event": "done", ...} or {"event": "error", "error"} (exit 1).
// Steps are separate runs because the test acts on the peer in between (accept, post).
// Trust the test CA with NODE_EXTRA_CA_CERTS.
import "./node20.mjs";
import { createRestAPIClient } from "masto";
import generator from "megalodon";

const [library, baseUrl, token, step, arg] = process.argv.slice(2);
const POLL_MS = 300;
const WAIT_MS = Number(process.env.REMOTE_WAIT_MS ?? 30_000);
const say = (doc) => process.stdout.write(JSON.stringify(doc) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(what, get, done) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    last = await get();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}; last: ${JSON.stringify(last)}`);
    await sleep(POLL_MS);
  }
}

// Both libraries behind one face: the calls a client app makes for these steps.
function mastoClient() {
  const rest = createRestAPIClient({ url: baseUrl, accessToken: token });
  return {
    search: (q, type) => rest.v2.search.list({ q, type, resolve: true }),
    follow: (id) => rest.v1.accounts.$select(id).follow(),
    unfollow: (id) => rest.v1.accounts.$select(id).unfollow(),
    relationship: async (id) => (await rest.v1.accounts.relationships.fetch({ id: [id] }))[0],
    home: () => rest.v1.timelines.home.list({ limit: 40 }),
    favourite: (id) => rest.v1.statuses.$select(id).favourite(),
  };
}

function megalodonClient() {
  const client = generator("mastodon", baseUrl, token);
  return {
    search: async (q, type) => (await client.search(q, { type, resolve: true })).data,
    follow: async (id) => (await client.followAccount(id)).data,
    unfollow: async (id) => (await client.unfollowAccount(id)).data,
    relationship: async (id) => (await client.getRelationships([id])).data[0],
    home: async () => (await client.getHomeTimeline({ limit: 40 })).data,
    favourite: async (id) => (await client.favouriteStatus(id)).data,
  };
}

const relation = (r) => ({ id: r.id, following: r.following, requested: r.requested });
const brief = (s) => ({ id: s.id, uri: s.uri, acct: s.account.acct, content: s.content });

async function run(api) {
  switch (step) {
    case "follow": {
      const found = await api.search(arg, "accounts");
      const account = found.accounts[0];
      if (!account) throw new Error(`no account found for ${arg}: ${JSON.stringify(found)}`);
      const relationship = relation(await api.follow(account.id));
      return { account: { id: account.id, acct: account.acct, uri: account.uri }, relationship };
    }
    case "following": {
      const r = await poll(`following ${arg}`, () => api.relationship(arg), (r) => r.following);
      return { relationship: relation(r) };
    }
    case "home": {
      const home = await poll(`${arg} in the home timeline`, api.home, (items) =>
        items.some((s) => s.uri === arg),
      );
      return { status: brief(home.find((s) => s.uri === arg)) };
    }
    case "unfollow":
      return { relationship: relation(await api.unfollow(arg)) };
    case "favourite": {
      const found = await api.search(arg, "statuses");
      const status = found.statuses[0];
      if (!status) throw new Error(`no status found for ${arg}: ${JSON.stringify(found)}`);
      const liked = await api.favourite(status.id);
      return {
        found: brief(status),
        status: {
          id: liked.id,
          favourited: liked.favourited,
          favourites_count: liked.favouritesCount ?? liked.favourites_count,
        },
      };
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
}

try {
  const api = library === "masto" ? mastoClient() : megalodonClient();
  say({ event: "done", ...(await run(api)) });
  process.exit(0);
} catch (error) {
  say({ event: "error", error: String(error?.stack ?? error) });
  process.exit(1);
}
