// citizen-graph's GraphiQL page: renders GraphiQL (its UMD build, with React 18) against the
// gateway's own /graphql, from the settings the gateway wrote in #graphiql-settings
// (citizen_graph/graphiql/page.py). An external script, so that the page's
// Content-Security-Policy needs no inline script.
(() => {
  "use strict";

  const settings = JSON.parse(
    document.getElementById("graphiql-settings").textContent,
  );

  // Read at run time by GraphiQL's scroll lock (react-remove-scroll) for the <style>
  // element it adds, which the policy otherwise refuses.
  window.__webpack_nonce__ = settings.styleNonce;

  // GraphiQL keeps headers in its tab state, and its history keeps them whatever
  // `shouldPersistHeaders` says: outside sandbox mode, a credential typed into the headers
  // editor never reaches the browser's storage.
  function withoutHeaders(key, value) {
    if (key.endsWith(":headers")) return null;
    try {
      const stored = JSON.parse(value);
      return JSON.stringify(stored, (name, field) =>
        name === "headers" ? null : field,
      );
    } catch {
      return value; // not JSON: no headers in it
    }
  }

  function keys(prefix) {
    return Object.keys(window.localStorage).filter((key) => key.startsWith(prefix));
  }

  // GraphiQL's Storage interface over localStorage, under this gateway mode's prefix.
  function storage(prefix, keepHeaders) {
    const local = window.localStorage;
    return {
      getItem: (key) => local.getItem(prefix + key),
      setItem(key, value) {
        const kept = keepHeaders ? value : withoutHeaders(key, value);
        if (kept === null) local.removeItem(prefix + key);
        else local.setItem(prefix + key, kept);
      },
      removeItem: (key) => local.removeItem(prefix + key),
      clear: () => keys(prefix).forEach((key) => local.removeItem(key)),
      get length() {
        return keys(prefix).length;
      },
    };
  }

  const endpoint = window.location.origin + window.location.pathname;
  const prefilled = settings.prefilled;
  const props = {
    fetcher: GraphiQL.createFetcher({ url: endpoint, enableIncrementalDelivery: false }),
    storage: storage(settings.storagePrefix, settings.persistHeaders),
    shouldPersistHeaders: settings.persistHeaders,
    showPersistHeadersSettings: settings.persistHeaders, // outside: never, whatever the toggle
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers",
    inputValueDeprecation: true,
    defaultQuery:
      "# Your credential goes in the Headers tab below:\n" +
      '# {"Authorization": "Bearer <your API key>", "X-Purpose": "<why you ask>"}\n',
  };
  if (prefilled) {
    props.defaultTabs = [prefilled];
    props.defaultHeaders = prefilled.headers; // a new tab starts with the demo headers
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
