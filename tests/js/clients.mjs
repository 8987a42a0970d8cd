// Apollo Client's persisted-query link and urql's persistedExchange, unmodified, against a
// live gateway: each runs one query twice and records every HTTP exchange it made.
// Usage: node clients.mjs <graphql URL> <key> <fiscal number> [client…]
// (clients: apollo, urql, urql-post; all by default); prints one JSON line, by client.
import { createHash } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { Client, fetchExchange } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";

const [url, key, fiscalNumber, ...chosen] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${key}`, "X-Purpose": "Tests automatiques" };
const QUERY = `query Name($f: String) {
  citizen(fiscalNumber: $f) { identity { birthName } }
}`;
const variables = { f: fiscalNumber };

const sha256 = (document) => createHash("sha256").update(document).digest("hex");

/** A fetch that records, for each exchange, what went over the wire and what came back. */
function recording(exchanges) {
  return async (input, init = {}) => {
    const target = new URL(typeof input === "string" ? input : input.url);
    const body = typeof init.body === "string" ? JSON.parse(init.body) : {};
    const response = await fetch(input, init);
    const text = await response.clone().text();
    let answer = null;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = { notJson: text.slice(0, 200) };
    }
    exchanges.push({
      method: (init.method ?? "GET").toUpperCase(),
      withQuery: "query" in body || target.searchParams.has("query"),
      withHash: JSON.stringify(body.extensions ?? target.searchParams.get("extensions") ?? "")
        .includes("sha256Hash"),
      params: [...target.searchParams.keys()].sort(),
      status: response.status,
      contentType: response.headers.get("content-type"),
      errors: (answer.errors ?? []).map((e) => e.extensions?.code ?? e.message),
    });
    return response;
  };
}

async function apollo() {
  const exchanges = [];
  const http = new HttpLink({ uri: url, headers, fetch: recording(exchanges) });
  const client = new ApolloClient({
    link: createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(http),
    cache: new InMemoryCache(),
  });
  const results = [];
  for (let n = 0; n < 2; n++) {
    const { data, error } = await client.query({
      query: gql(QUERY),
      variables,
      fetchPolicy: "network-only", // not from Apollo's cache: the second goes out too
      errorPolicy: "all",
    });
    results.push({ data: data ?? null, error: error?.message ?? null });
  }
  return { results, exchanges };
}

async function urql(preferGetForPersistedQueries) {
  const exchanges = [];
  const client = new Client({
    url,
    exchanges: [persistedExchange({ preferGetForPersistedQueries }), fetchExchange],
    fetch: recording(exchanges),
    fetchOptions: { headers },
    requestPolicy: "network-only",
  });
  const results = [];
  for (let n = 0; n < 2; n++) {
    const { data, error } = await client.query(QUERY, variables).toPromise();
    results.push({ data: data ?? null, error: error?.message ?? null });
  }
  return { results, exchanges };
}

const clients = {
  apollo,
  urql: () => urql(true),
  "urql-post": () => urql(false), // hashes over POST too
};
const output = {};
for (const name of chosen.length ? chosen : Object.keys(clients)) {
  output[name] = await clients[name]();
}
console.log(JSON.stringify(output));
