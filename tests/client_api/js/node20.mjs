// What masto 8 expects of Node 22 and the repository's tests give it on Node 20: imported
// first by session.mjs and remote.mjs.

// masto 8 calls Promise.withResolvers.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
