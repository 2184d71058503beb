// Boots GraphiQL against this gateway only: every asset and request stays on this origin.
(function () {
  var endpoint = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint, headers: { Accept: "application/graphql-response+json, application/json" } });
  var defaultQuery = [
    "# Customers combined live from the CRM, project management and accounting systems.",
    "{",
    "  customers(first: 5) {",
    "    totalCount",
    "    edges {",
    "      node {",
    "        id",
    "        name",
    "        email",
    "        status",
    "        sourceRecords { system id url }",
    "        billing { balance }",
    "      }",
    "    }",
    "  }",
    "}",
    ""
  ].join("\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery, defaultEditorToolsVisibility: true }));
})();
